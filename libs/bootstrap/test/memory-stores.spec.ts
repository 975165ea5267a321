import { bootstrapStoreContract } from './store-contract';
import { InMemoryBootstrapConfigStore, InMemoryBootstrapSessionStore } from '../src';

bootstrapStoreContract('in memory', async () => ({
  configs: new InMemoryBootstrapConfigStore(),
  sessions: new InMemoryBootstrapSessionStore(),
}));
