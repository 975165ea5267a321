// The api's environment, validated once at start: a bad value stops the process with a clear message.
import { isIP } from 'node:net';
import {
  EnvErrors,
  type LogLevel,
  parseFlag,
  parseInteger,
  parseLogLevel,
  parseModelsDirs,
  parsePort,
  parseRedisUrl,
  parseSecretsKey,
  parseString,
} from '@lwm2m/config';
import { parseApiKeys } from './auth/api-keys';
import type { ApiOptions } from './tokens';

export interface ApiConfig {
  HTTP_PORT: number;
  HTTP_HOST: string;
  REDIS_URL: string;
  /** Raw API_KEYS (never logged). */
  API_KEYS?: string;
  LOG_LEVEL: LogLevel;
  /** Open event streams (SSE) of the process; beyond it 429. */
  SSE_MAX_STREAMS: number;
  /** Open event streams per API key (per client address when the api is open). */
  SSE_MAX_STREAMS_PER_KEY: number;
  /** Interval of the SSE heartbeat comment, ms. */
  SSE_HEARTBEAT_MS: number;
  /** Audit trail entries kept in Redis, approximately (XADD MAXLEN ~). Default 100 000. */
  AUDIT_MAX_ENTRIES: number;
  /** The 32-byte key PSKs are sealed with in Redis (from SECRETS_KEY; never logged). */
  SECRETS_KEY?: Buffer;
  /** DDF directories loaded at start (MODELS_DIR); undefined: the vendored OMNA registry. */
  MODELS_DIR?: string[];
  /** Fleet group operations (GROUP_*): bounds, request defaults and the runner's lease. */
  GROUPS: NonNullable<ApiOptions['groups']>;
}

/** `requireRedis: false`: the single node in memory mode, which has no REDIS_URL (REDIS_URL is then ''). */
export function validateApiConfig(
  env: Record<string, string | undefined>,
  { requireRedis = true }: { requireRedis?: boolean } = {},
): ApiConfig {
  const errors = new EnvErrors();
  const port = parsePort('HTTP_PORT', env.HTTP_PORT, 8080, errors);
  const redisUrl = parseRedisUrl(env.REDIS_URL, errors);
  if (redisUrl === undefined && requireRedis)
    errors.push('REDIS_URL must be set to a redis:// or rediss:// URL');
  const level = parseLogLevel(env.LOG_LEVEL, errors);
  const sseMax = parseInteger('SSE_MAX_STREAMS', env.SSE_MAX_STREAMS, 10_000, 1, 1_000_000, errors);
  const ssePerKey = parseInteger(
    'SSE_MAX_STREAMS_PER_KEY',
    env.SSE_MAX_STREAMS_PER_KEY,
    100,
    1,
    1_000_000,
    errors,
  );
  const sseHeartbeat = parseInteger('SSE_HEARTBEAT_MS', env.SSE_HEARTBEAT_MS, 15_000, 1000, 300_000, errors);
  const auditMax = parseInteger('AUDIT_MAX_ENTRIES', env.AUDIT_MAX_ENTRIES, 100_000, 100, 10_000_000, errors);
  try {
    parseApiKeys(env.API_KEYS);
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  const secretsKey = parseSecretsKey(env.SECRETS_KEY, errors);
  const modelsDirs = parseModelsDirs(env.MODELS_DIR, errors);
  const groups = parseGroupsConfig(env, errors);
  errors.done('api');
  return {
    GROUPS: groups,
    HTTP_PORT: port,
    HTTP_HOST: parseString(env.HTTP_HOST, '0.0.0.0'),
    REDIS_URL: redisUrl ?? '',
    ...(env.API_KEYS ? { API_KEYS: env.API_KEYS } : {}),
    LOG_LEVEL: level,
    SSE_MAX_STREAMS: sseMax,
    SSE_MAX_STREAMS_PER_KEY: ssePerKey,
    SSE_HEARTBEAT_MS: sseHeartbeat,
    AUDIT_MAX_ENTRIES: auditMax,
    ...(secretsKey ? { SECRETS_KEY: secretsKey } : {}),
    ...(modelsDirs ? { MODELS_DIR: modelsDirs } : {}),
  };
}

/** GROUP_MULTICAST (on|off, default on) and GROUP_MULTICAST_INTERFACE (an IP address): a clear error at start. */
function checkMulticastSettings(env: Record<string, string | undefined>, errors: EnvErrors): boolean {
  const on = parseFlag('GROUP_MULTICAST', env.GROUP_MULTICAST, true, errors);
  const itf = env.GROUP_MULTICAST_INTERFACE;
  if (itf !== undefined && isIP(itf) === 0) {
    errors.push('GROUP_MULTICAST_INTERFACE must be a local IP address (where multicast requests leave from)');
  }
  return on;
}

/** GROUP_* variables of fleet group operations (libs/groups). */
function parseGroupsConfig(
  env: Record<string, string | undefined>,
  errors: EnvErrors,
): NonNullable<ApiOptions['groups']> {
  const int = (name: string, def: number, min: number, max: number): number =>
    parseInteger(name, env[name], def, min, max, errors);
  const maxDeadlineS = int('GROUP_MAX_DEADLINE_S', 86_400, 1, 30 * 86_400);
  const maxRate = int('GROUP_MAX_RATE_PER_S', 10_000, 1, 100_000);
  const maxInFlight = int('GROUP_MAX_IN_FLIGHT', 1_000, 1, 100_000);
  const multicastOn = checkMulticastSettings(env, errors);
  return {
    limits: {
      maxGroups: int('GROUP_MAX_GROUPS', 1_000, 1, 1_000_000),
      maxEndpoints: int('GROUP_MAX_ENDPOINTS', 10_000, 1, 100_000),
      maxMembers: int('GROUP_MAX_MEMBERS', 100_000, 1, 10_000_000),
    },
    defaults: {
      deadlineMs: int('GROUP_DEADLINE_S', 300, 1, maxDeadlineS) * 1000,
      maxDeadlineMs: maxDeadlineS * 1000,
      rate: {
        perSecond: int('GROUP_RATE_PER_S', 100, 1, maxRate),
        maxInFlight: int('GROUP_IN_FLIGHT', 100, 1, maxInFlight),
      },
      maxRate: { perSecond: maxRate, maxInFlight },
    },
    leaseMs: int('GROUP_LEASE_MS', 10_000, 1_000, 600_000),
    // Multicast groups: the local address their requests leave from (the multicast interface) and TTL.
    multicast: !multicastOn
      ? false
      : {
          interface: env.GROUP_MULTICAST_INTERFACE ?? '0.0.0.0',
          ttl: int('GROUP_MULTICAST_TTL', 1, 1, 255),
        },
  };
}
