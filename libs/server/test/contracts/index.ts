export * from './fixture';
export * from './registration-store.contract';
export * from './observation-store.contract';
export * from './value-store.contract';
export * from './event-bus.contract';
export * from './command-bus.contract';
export * from './credential-store.contract';
export * from './audit-store.contract';

import type { FixtureFactory } from './fixture';
import { describeCommandBusContract } from './command-bus.contract';
import { describeEventBusContract } from './event-bus.contract';
import { describeObservationStoreContract } from './observation-store.contract';
import { describeRegistrationStoreContract } from './registration-store.contract';
import { describeCredentialStoreContract } from './credential-store.contract';
import { describeValueStoreContract } from './value-store.contract';

/** Every contract suite against one implementation. */
export function describeAllStoreContracts(name: string, factory: FixtureFactory): void {
  describeRegistrationStoreContract(name, factory);
  describeObservationStoreContract(name, factory);
  describeValueStoreContract(name, factory);
  describeEventBusContract(name, factory);
  describeCommandBusContract(name, factory);
  describeCredentialStoreContract(name, factory);
}
export * from './model-store.contract';
