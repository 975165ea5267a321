// The in-memory twins pass the same contract suites as the Redis implementations.
import { createInMemoryStores } from '@lwm2m/server';
import { describeAllStoreContracts } from './contracts';

describeAllStoreContracts('in-memory', async () => {
  const stores = createInMemoryStores();
  return { ...stores, peer: stores, close: async () => undefined };
});
