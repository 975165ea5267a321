// One call builds every Redis-backed port of the LwM2M server on one shared connection.
import type {
  CommandBus,
  EventBus,
  ObservationStore,
  RegistrationStore,
  CredentialStore,
  ValueStore,
} from '@lwm2m/server';
import Redis, { type RedisOptions } from 'ioredis';
import { RedisSequenceLeaseStore } from './redis-sequence-lease-store';
import { createRedisClient, isRedisClient, type RedisClient } from './redis-client';
import { DEFAULT_KEY_PREFIX, type RegistryKeys, registryKeys } from './keys';
import { isReachable, settleWithin } from './connections';
import { RedisCommandBus, type RedisCommandBusOptions } from './redis-command-bus';
import { eventStreamOptionsFromEnv, RedisEventBus, type RedisEventBusOptions } from './redis-event-bus';
import { RedisObservationStore } from './redis-observation-store';
import { RedisRegistrationStore } from './redis-registration-store';
import { RedisCredentialStore, type RedisCredentialStoreOptions } from './redis-credential-store';
import { RedisValueStore } from './redis-value-store';
import { RedisAuditStore, type RedisAuditStoreOptions } from './redis-audit-store';
import { RedisBootstrapConfigStore, RedisBootstrapSessionStore } from './redis-bootstrap-stores';
import { RedisModelStore } from './redis-model-store';
import {
  clusterCommandRouter,
  RedisClusterSessionStore,
  RedisMembershipStore,
  RedisSealedBlobStore,
} from './redis-cluster-stores';

export interface RedisStoresOptions {
  /** Prepended to every key (default "lwm2m:"); must not contain braces. */
  keyPrefix?: string;
  /** Default: EVENTS_RETENTION and EVENTS_MAX_ENTRIES of `env` (eventStreamOptionsFromEnv). */
  events?: RedisEventBusOptions;
  commands?: RedisCommandBusOptions;
  /** The audit trail's bound (AUDIT_MAX_ENTRIES). */
  audit?: RedisAuditStoreOptions;
  /** PSK sealing at rest (SECRETS_KEY) and its warnings. */
  credentials?: RedisCredentialStoreOptions;
  /** Where a URL's REDIS_CLUSTER_NODES / REDIS_SENTINELS are read (createRedisClient); default process.env. */
  env?: Record<string, string | undefined>;
}

export interface RedisStores {
  registrations: RegistrationStore & RedisRegistrationStore;
  observations: ObservationStore & RedisObservationStore;
  values: ValueStore & RedisValueStore;
  events: EventBus & RedisEventBus;
  commands: CommandBus & RedisCommandBus;
  credentials: CredentialStore & RedisCredentialStore;
  /** OSCORE Sender Sequence Number leases (RFC 8613 section 7.5). */
  oscoreSequences: RedisSequenceLeaseStore;
  /** The operators' audit trail (GET /api/v1/audit). */
  audit: RedisAuditStore;
  /** Bootstrap-Server configurations and sessions (libs/bootstrap), PSKs sealed with SECRETS_KEY. */
  bootstrapConfigs: RedisBootstrapConfigStore;
  bootstrapSessions: RedisBootstrapSessionStore;
  /** Object models uploaded through the api (POST /api/v1/models), read by every api and gateway. */
  models: RedisModelStore;
  /** Gateway cluster: node leases and DTLS sessions (libs/cluster). */
  membership: RedisMembershipStore;
  sessions: RedisClusterSessionStore;
  /** Sealed DTLS resumption entries (any node resumes any session id). */
  resumption: RedisSealedBlobStore;
  /** The shared connection (health checks: `redis.ping()`): a Redis, or a Cluster with REDIS_CLUSTER_NODES. */
  redis: RedisClient;
  keys: RegistryKeys;
  /** Stops command serving and subscriptions, then closes every connection. */
  close(): Promise<void>;
}

export function createRedisStores(
  connection: string | RedisOptions | RedisClient,
  options: RedisStoresOptions = {},
): RedisStores {
  const owned = !isRedisClient(connection);
  // A URL goes through the one builder of clients (single Redis, Sentinel or Cluster from the environment).
  const redis = isRedisClient(connection)
    ? connection
    : typeof connection === 'string'
      ? createRedisClient(connection, options.env)
      : new Redis(connection);
  const keys = registryKeys(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
  const events = new RedisEventBus(
    redis,
    keys,
    options.events ?? eventStreamOptionsFromEnv(options.env ?? process.env),
  );
  const commands = new RedisCommandBus(redis, keys, options.commands);
  const registrations = new RedisRegistrationStore(redis, keys, events);
  const membership = new RedisMembershipStore(redis, keys);
  const sessions = new RedisClusterSessionStore(redis, keys);
  // In a gateway cluster a command goes to the node holding the device's DTLS session.
  commands.setRouter(clusterCommandRouter(registrations, sessions, membership));
  return {
    registrations,
    membership,
    sessions,
    resumption: new RedisSealedBlobStore(redis, keys),
    observations: new RedisObservationStore(redis, keys),
    values: new RedisValueStore(redis, keys, events),
    credentials: new RedisCredentialStore(redis, keys, options.credentials),
    oscoreSequences: new RedisSequenceLeaseStore(redis, keys.oscoreSequence),
    audit: new RedisAuditStore(redis, keys, options.audit),
    bootstrapConfigs: new RedisBootstrapConfigStore(redis, keys, {
      secretsKey: options.credentials?.secretsKey,
    }),
    bootstrapSessions: new RedisBootstrapSessionStore(redis, keys, {
      secretsKey: options.credentials?.secretsKey,
    }),
    models: new RedisModelStore(redis, keys),
    events,
    commands,
    redis,
    keys,
    async close() {
      events.close();
      await commands.close();
      // QUIT waits for an answer, and with Redis gone for the reconnect attempts: only when reachable.
      if (owned) {
        if (!isReachable(redis) || !(await settleWithin(redis.quit(), 1000))) redis.disconnect();
      }
    },
  };
}
