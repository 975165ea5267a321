import type {
  CommandBus,
  CredentialStore,
  DeliveryLedger,
  EventBus,
  ModelStore,
  ObservationStore,
  RegistrationStore,
  ValueStore,
} from '@lwm2m/server';
import type { ClusterSessionStore, MembershipStore, SealedBlobStore } from '@lwm2m/cluster';

export const GATEWAY_PORTS = Symbol('GatewayPorts');
export const GATEWAY_CONFIG = Symbol('GatewayConfig');

/** The shared state the gateway works on: Redis in the product, in-memory in unit tests. */
export interface GatewayPorts {
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  commands: CommandBus;
  /** Security credentials: DTLS PSK lookups and the endpoint binding of secured registrations. */
  credentials: CredentialStore;
  /** Queue mode: fences and records the delivery of queued requests (libs/scheduler RedisRequestStore). */
  deliveries?: DeliveryLedger;
  /** Object models uploaded through the api; absent: this process's memory (nothing uploaded reaches it). */
  models?: ModelStore;
  /** Cluster mode (CLUSTER_KEY set): node leases and shared DTLS sessions. */
  cluster?: { membership: MembershipStore; sessions: ClusterSessionStore; resumption?: SealedBlobStore };
}
