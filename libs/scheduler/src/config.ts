// Queue-mode settings read by the api (queue or run now, default TTL), the gateway (awake window) and the
// scheduler (everything else), validated once at start with the shared env helpers.
import {
  EnvErrors,
  parseInteger,
  parseLogLevel,
  parsePort,
  parseRedisUrl,
  type LogLevel,
} from '@lwm2m/config';
import { DEFAULT_AWAKE_WINDOW_MS, LWM2M_EVENT_TYPES } from '@lwm2m/server';

export interface QueueModeConfig {
  /** AWAKE_WINDOW_MS: a queue-mode device is reachable this long after its last message. */
  awakeWindowMs: number;
  /** REQUEST_TTL_S: time-to-live of a queued request when the operator gives none (?ttl=). */
  requestTtlMs: number;
  /** REQUEST_MAX_TTL_S */
  maxRequestTtlMs: number;
}

export interface SchedulerConfig extends QueueModeConfig {
  REDIS_URL?: string;
  LOG_LEVEL: LogLevel;
  /**
   * METRICS_PORT: GET /metrics, /healthz and /readyz of the standalone scheduler (default 9464); 0 picks a
   * free port, as for the gateway. The single-node start never opens it (the api's /metrics serves it).
   */
  metricsPort: number;
  /** DELIVERY_RATE_PER_S: global rate of device flushes (queued requests, re-observations) across replicas. */
  deliveryRatePerSecond: number;
  /** DELIVERY_CONCURRENCY: devices flushed at once per replica. */
  deliveryConcurrency: number;
  /** DELIVERY_TIMEOUT_MS: device answer timeout of re-observations (operator requests carry their own). */
  deliveryTimeoutMs: number;
  /** DELIVERY_GRACE_MS: slack before an attempt in flight is judged. */
  deliveryGraceMs: number;
  retryMaxAttempts: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** REOBSERVE_TTL_S: how long lost observations wait for the device to register again. */
  reobserveTtlMs: number;
  /** REQUEST_RETENTION_S: how long finished requests stay readable. */
  retentionSeconds: number;
  /** SWEEP_INTERVAL_MS: the TTL sweep's period. */
  sweepIntervalMs: number;
  /** EVENT_RECLAIM_MS: events a dead replica took are handled by another after this idle time. */
  eventReclaimMs: number;
  /** CAMPAIGN_TICK_MS: how often firmware campaigns are ticked (timeouts, gates, starts). */
  campaignTickMs: number;
  /** CAMPAIGN_COMMAND_TIMEOUT_MS: device answer timeout of a campaign's Observe, Write and Execute. */
  campaignCommandTimeoutMs: number;
  /** CAMPAIGN_ASLEEP_RECHECK_MS: a sleeping device of a campaign is looked at again after this (or when it wakes). */
  campaignAsleepRecheckMs: number;
  /** CAMPAIGN_REDRIVE_MS: a step a stopped scheduler left undone (a write or Execute never sent) is sent again after this. */
  campaignRedriveMs: number;
  wakeUp?: {
    url: string;
    secret?: string;
    /** WAKEUP_AFTER_MS: a request waits this long for the device before a wake-up is sent. */
    afterMs: number;
    /** WAKEUP_INTERVAL_MS: at most one wake-up per device per interval (operators flag SMS spammers). */
    intervalMs: number;
    timeoutMs: number;
  };
  notify: {
    /** NOTIFY_WEBHOOK_URLS: comma-separated subscriber URLs. */
    urls: string[];
    secret?: string;
    /** NOTIFY_EVENT_TYPES: event types sent to subscribers. */
    eventTypes: string[];
    attempts: number;
    timeoutMs: number;
  };
}

const EVENT_TYPES: readonly string[] = LWM2M_EVENT_TYPES;

const DAY_S = 86400;

export function parseQueueModeConfig(env: Record<string, unknown>, errors: EnvErrors): QueueModeConfig {
  const maxTtl = parseInteger('REQUEST_MAX_TTL_S', env.REQUEST_MAX_TTL_S, 30 * DAY_S, 1, 365 * DAY_S, errors);
  return {
    awakeWindowMs: parseInteger(
      'AWAKE_WINDOW_MS',
      env.AWAKE_WINDOW_MS,
      DEFAULT_AWAKE_WINDOW_MS,
      1,
      86_400_000,
      errors,
    ),
    requestTtlMs: parseInteger('REQUEST_TTL_S', env.REQUEST_TTL_S, DAY_S, 1, maxTtl, errors) * 1000,
    maxRequestTtlMs: maxTtl * 1000,
  };
}

function parseUrl(name: string, raw: unknown, errors: EnvErrors): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw).trim();
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return text;
  } catch {
    errors.push(`${name} must be an http:// or https:// URL`);
    return undefined;
  }
}

export function validateSchedulerConfig(env: Record<string, unknown>): SchedulerConfig {
  const errors = new EnvErrors();
  const i = (name: string, fallback: number, min: number, max: number) =>
    parseInteger(name, env[name], fallback, min, max, errors);
  const wakeUrl = parseUrl('WAKEUP_WEBHOOK_URL', env.WAKEUP_WEBHOOK_URL, errors);
  const notifyUrls = String(env.NOTIFY_WEBHOOK_URLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s, n) => parseUrl(`NOTIFY_WEBHOOK_URLS[${n}]`, s, errors))
    .filter((s): s is string => s !== undefined);
  const eventTypes = String(env.NOTIFY_EVENT_TYPES || 'notification,send')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const t of eventTypes) {
    if (!EVENT_TYPES.includes(t))
      errors.push(`NOTIFY_EVENT_TYPES: unknown event type "${t}" (known: ${EVENT_TYPES.join(', ')})`);
  }
  const config: SchedulerConfig = {
    ...parseQueueModeConfig(env, errors),
    REDIS_URL: parseRedisUrl(env.REDIS_URL, errors),
    LOG_LEVEL: parseLogLevel(env.LOG_LEVEL, errors),
    metricsPort: parsePort('METRICS_PORT', env.METRICS_PORT, 9464, errors),
    deliveryRatePerSecond: i('DELIVERY_RATE_PER_S', 200, 1, 1_000_000),
    deliveryConcurrency: i('DELIVERY_CONCURRENCY', 32, 1, 10_000),
    deliveryTimeoutMs: i('DELIVERY_TIMEOUT_MS', 10_000, 100, 300_000),
    deliveryGraceMs: i('DELIVERY_GRACE_MS', 2000, 0, 60_000),
    retryMaxAttempts: i('RETRY_MAX_ATTEMPTS', 5, 1, 1000),
    retryBackoffMs: i('RETRY_BACKOFF_MS', 1000, 1, 3_600_000),
    retryBackoffMaxMs: i('RETRY_BACKOFF_MAX_MS', 60_000, 1, 86_400_000),
    reobserveTtlMs: i('REOBSERVE_TTL_S', DAY_S, 1, 365 * DAY_S) * 1000,
    retentionSeconds: i('REQUEST_RETENTION_S', 7 * DAY_S, 1, 365 * DAY_S),
    sweepIntervalMs: i('SWEEP_INTERVAL_MS', 1000, 50, 3_600_000),
    eventReclaimMs: i('EVENT_RECLAIM_MS', 30_000, 100, 3_600_000),
    campaignTickMs: i('CAMPAIGN_TICK_MS', 1000, 50, 3_600_000),
    campaignCommandTimeoutMs: i('CAMPAIGN_COMMAND_TIMEOUT_MS', 30_000, 100, 300_000),
    campaignAsleepRecheckMs: i('CAMPAIGN_ASLEEP_RECHECK_MS', 60_000, 100, 86_400_000),
    campaignRedriveMs: i('CAMPAIGN_REDRIVE_MS', 30_000, 100, 86_400_000),
    notify: {
      urls: notifyUrls,
      ...(env.NOTIFY_WEBHOOK_SECRET ? { secret: String(env.NOTIFY_WEBHOOK_SECRET) } : {}),
      eventTypes,
      attempts: i('NOTIFY_ATTEMPTS', 8, 1, 100),
      timeoutMs: i('NOTIFY_TIMEOUT_MS', 5000, 100, 120_000),
    },
  };
  const wakeAfter = i('WAKEUP_AFTER_MS', 60_000, 0, 86_400_000);
  const wakeInterval = i('WAKEUP_INTERVAL_MS', 15 * 60_000, 0, 86_400_000);
  const wakeTimeout = i('WAKEUP_TIMEOUT_MS', 5000, 100, 120_000);
  if (wakeUrl) {
    config.wakeUp = {
      url: wakeUrl,
      ...(env.WAKEUP_WEBHOOK_SECRET ? { secret: String(env.WAKEUP_WEBHOOK_SECRET) } : {}),
      afterMs: wakeAfter,
      intervalMs: wakeInterval,
      timeoutMs: wakeTimeout,
    };
  }
  if (config.retryBackoffMaxMs < config.retryBackoffMs) {
    errors.push('RETRY_BACKOFF_MAX_MS must be at least RETRY_BACKOFF_MS');
  }
  errors.done('scheduler');
  return config;
}
