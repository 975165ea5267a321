// What a gateway stack works on: the shared state (Redis in the product, in-memory in tests) and a logger.
import type { BootstrapConfigStore, BootstrapSessionStore } from '@lwm2m/bootstrap';
import type { ClusterSessionStore, MembershipStore, SealedBlobStore } from '@lwm2m/cluster';
import type { SequenceLeaseStore } from '@lwm2m/oscore';
import type { FirmwareConfig, ImageStore, PushProgressStore } from '@lwm2m/firmware';
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

export interface GatewayStores {
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  commands: CommandBus;
  /** Security credentials: DTLS PSK lookups and the endpoint binding of secured registrations. */
  credentials: CredentialStore;
  /**
   * OSCORE Sender Sequence Number leases (RFC 8613 section 7.5; libs/registry RedisSequenceLeaseStore).
   * Absent: this process's memory, so a restart reuses nonces: only for tests and memory mode.
   */
  oscoreSequences?: SequenceLeaseStore;
  /** Queue mode: fences and records the delivery of queued requests (libs/scheduler RedisRequestStore). */
  deliveries?: DeliveryLedger;
  /** Object models uploaded through the api; absent: this process's memory (nothing uploaded reaches it). */
  models?: ModelStore;
  /** The Bootstrap-Server's stores (BOOTSTRAP_ENABLED): without them it does not start. */
  bootstrapConfigs?: BootstrapConfigStore;
  bootstrapSessions?: BootstrapSessionStore;
  /**
   * Firmware images (libs/firmware): served at /fw/<id> with Block2 (object 5 Pull) and pushed to /5/0/0
   * (firmware-push commands); absent: neither. FIRMWARE_NOSEC_ECHO unset or no config: on.
   */
  firmware?: {
    images: ImageStore;
    pushes: PushProgressStore;
    config?: Pick<FirmwareConfig, 'FIRMWARE_NOSEC_ECHO'>;
  };
  /** Cluster mode (CLUSTER_KEY set): node leases and shared DTLS sessions. */
  cluster?: { membership: MembershipStore; sessions: ClusterSessionStore; resumption?: SealedBlobStore };
}

/** Lines for an operator (never key material); the Nest app passes its Logger. */
export interface GatewayLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}
