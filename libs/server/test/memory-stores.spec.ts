// The in-memory twins pass the same contract suites as the Redis implementations.
import { createInMemoryStores, InMemoryAuditStore, InMemoryModelStore } from '@lwm2m/server';
import {
  describeAllStoreContracts,
  describeAuditStoreContract,
  describeModelStoreContract,
} from './contracts';

describeAllStoreContracts('in-memory', async () => {
  const stores = createInMemoryStores();
  return { ...stores, peer: stores, close: async () => undefined };
});

describeAuditStoreContract('in-memory', async ({ maxEntries }) => ({
  audit: new InMemoryAuditStore({ maxEntries }),
  close: async () => undefined,
}));

describeModelStoreContract('in-memory', async () => {
  const store = new InMemoryModelStore();
  return { store, peer: store, close: async () => undefined };
});
