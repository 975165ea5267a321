// Injection tokens of the ports the api depends on (libs/server/src/ports.ts). The module never names an
// implementation: the single-node start and the tests pass Redis or in-memory ones through ApiModule.forRoot.
import type {
  CommandBus,
  AuditStore,
  CredentialStore,
  EventBus,
  ModelStore,
  ObservationStore,
  RegistrationStore,
  ValueStore,
} from '@lwm2m/server';
import type { QueuedRequests } from '@lwm2m/scheduler';
import type { CampaignStore } from '@lwm2m/campaigns';
import type { BootstrapConfigStore } from '@lwm2m/bootstrap';
import type { NodeInfo } from '@lwm2m/cluster';
import type { GroupLimits, GroupRequestDefaults, GroupStore } from '@lwm2m/groups';
import type { ApiKey } from './auth/api-keys';
import type { FirmwareStores } from '@lwm2m/firmware';

export const COMMAND_BUS = Symbol('CommandBus');
export const REGISTRATION_STORE = Symbol('RegistrationStore');
export const OBSERVATION_STORE = Symbol('ObservationStore');
export const VALUE_STORE = Symbol('ValueStore');
export const EVENT_BUS = Symbol('EventBus');
export const CREDENTIAL_STORE = Symbol('CredentialStore');
/** The Bootstrap-Server's configurations, as { store?: BootstrapConfigStore }: absent = the routes answer 503. */
export const BOOTSTRAP_CONFIGS = Symbol('BootstrapConfigs');
export const API_OPTIONS = Symbol('ApiOptions');
/** Queue mode (libs/scheduler QueuedRequests), as { queue?: QueuedRequests }: absent = never queue. */
export const REQUEST_QUEUE = Symbol('RequestQueue');
/** The prom-client Registry GET /metrics serves. */
export const METRICS_REGISTRY = Symbol('MetricsRegistry');
/** The gateway cluster's membership (GET /api/v1/cluster/nodes), as { live?() }: absent = no cluster. */
export const CLUSTER_MEMBERSHIP = Symbol('ClusterMembership');
/** Firmware campaigns, as { store?: CampaignStore }: absent (an api built without one) = the routes answer 501. */
export const CAMPAIGN_STORE = Symbol('CampaignStore');

/** Fleet group operations (libs/groups GroupOperations). */
export const GROUPS = Symbol('GroupOperations');
/** The api process's group-request runner (libs/groups GroupRunner). */
export const GROUP_RUNNER = Symbol('GroupRunner');

/** The api's object models (models/api-object-models.ts ApiObjectModels). */
export const OBJECT_MODELS = Symbol('ObjectModels');
/** Firmware images and pushes (libs/firmware FirmwareStores). */
export const FIRMWARE_STORES = Symbol('FirmwareStores');

/** A port may expose ping() (Redis: PING); /readyz calls every one it finds. */
export interface Pingable {
  ping?: () => Promise<unknown>;
}

export interface ApiPorts {
  commands: CommandBus & Pingable;
  registrations: RegistrationStore & Pingable;
  observations: ObservationStore & Pingable;
  values: ValueStore & Pingable;
  events: EventBus & Pingable;
  /** Security credentials (PUT/GET/DELETE /api/v1/devices/{endpoint}/credentials). */
  credentials: CredentialStore & Pingable;
  /** Bootstrap-Server configurations (PUT/GET/DELETE /api/v1/bootstrap/configs/{endpoint}). */
  bootstrapConfigs?: BootstrapConfigStore;
  /** Optional whole-backend check (e.g. the Redis connection shared by all stores). */
  ping?: () => Promise<unknown>;
  /** The gateway cluster's node leases (libs/registry RedisMembershipStore). */
  membership?: { live(): Promise<NodeInfo[]> };
  /** The operators' audit trail (GET /api/v1/audit); absent = kept in memory by this process. */
  audit?: AuditStore;
  /** Requests for sleeping queue-mode devices (202 + request id); absent = every operation runs at once. */
  requests?: QueuedRequests;
  /** Object models uploaded through the api, shared with every node; absent = this process's memory. */
  models?: ModelStore;
  /** Groups and group requests (libs/groups RedisGroupStore); absent = this process's memory. */
  groups?: GroupStore;
  /** Firmware campaigns (libs/campaigns: Redis, or memory mode's store; driven by the scheduler, or in process); absent = 501. */
  campaigns?: CampaignStore;
  /** Firmware images and push progress (/api/v1/firmware); absent = this process's memory. */
  firmware?: FirmwareStores;
}

export interface ApiOptions {
  /** "[name=]key:role,..." (roles: read, write, admin); undefined or empty = no authentication. */
  apiKeys?: string;
  /** SSE heartbeat comment interval, ms (default 15000). */
  sseHeartbeatMs?: number;
  /** Open event streams of the process, beyond which 429 (default 10000; SSE_MAX_STREAMS). */
  sseMaxStreams?: number;
  /** Open event streams per API key, or per client address without keys (default 100; SSE_MAX_STREAMS_PER_KEY). */
  sseMaxStreamsPerKey?: number;
  /** Device command timeout when ?timeout= is absent, ms (default 10000). */
  defaultTimeoutMs?: number;
  /** DDF directories loaded at start (MODELS_DIR); undefined: the vendored OMNA registry (models/omna). */
  modelsDirs?: string[];
  /** Fleet group operations: limits (GROUP_MAX_*), request defaults, and the runner's lease. */
  groups?: {
    limits?: Partial<GroupLimits>;
    defaults?: Partial<GroupRequestDefaults>;
    leaseMs?: number;
    scanMs?: number;
    /**
     * Multicast groups' requests through an in-process group proxy (libs/group-proxy); `false` = 501.
     * The socket is bound on the first such request.
     */
    multicast?: false | { interface?: string; ttl?: number };
  };
}

export interface ResolvedApiOptions {
  /** SHA-256 digest of a key -> its name and role. */
  apiKeys: Map<string, ApiKey>;
  sseHeartbeatMs: number;
  sseMaxStreams: number;
  sseMaxStreamsPerKey: number;
  defaultTimeoutMs: number;
}

export type ApiRole = 'read' | 'write' | 'admin';
