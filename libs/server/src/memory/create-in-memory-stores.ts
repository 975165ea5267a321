// Every port of the LwM2M server in memory, wired like the Redis set: removing a registration cancels the
// observations and values of the same stores.
import { InMemoryCommandBus } from './command-bus';
import { InMemoryEventBus } from './event-bus';
import { InMemoryObservationStore } from './observation-store';
import { InMemoryRegistrationStore } from './registration-store';
import { InMemoryCredentialStore } from './credential-store';
import { InMemoryValueStore } from './value-store';
import { InMemoryAuditStore } from './audit-store';
import { InMemoryModelStore } from './model-store';

export interface InMemoryStores {
  registrations: InMemoryRegistrationStore;
  observations: InMemoryObservationStore;
  values: InMemoryValueStore;
  events: InMemoryEventBus;
  commands: InMemoryCommandBus;
  credentials: InMemoryCredentialStore;
  audit: InMemoryAuditStore;
  models: InMemoryModelStore;
}

export function createInMemoryStores(): InMemoryStores {
  const observations = new InMemoryObservationStore();
  const values = new InMemoryValueStore();
  return {
    registrations: new InMemoryRegistrationStore(observations, values),
    observations,
    values,
    events: new InMemoryEventBus(),
    commands: new InMemoryCommandBus(),
    credentials: new InMemoryCredentialStore(),
    audit: new InMemoryAuditStore(),
    models: new InMemoryModelStore(),
  };
}
