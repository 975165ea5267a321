// Every Redis key of the scheduler, in one place (the registry's are in libs/registry/src/keys.ts).
//
// One slot, {rq}: a request's record, its device's queue and the indexes change together in one Lua script,
// so every transition (enqueue, claim, begin, complete, settle, cancel, expire) is atomic on a single Redis,
// Sentinel or Cluster. The cost is one hot shard on Redis Cluster, as the registry's {idx} slot.
//   <p>{rq}:r:<id>        hash  the request: json (its DeviceCommand), ep, state, attempt, token, began,
//                               result, resultToken, acceptedAt, expiresAt, notBefore, startedAt, ...
//   <p>{rq}:q:<endpoint>  list  ids of the device's unfinished requests, in accepted order (head = next)
//   <p>{rq}:eps           set   endpoints whose queue is not empty (the scheduler's start-up reconcile)
//   <p>{rq}:ttl           zset  id -> expiresAt of unfinished requests (the expiry sweep)
//   <p>{rq}:lost:<endpoint> hash observationId -> LostObservation JSON, kept from an expiry until the next
//                               registration of the endpoint re-establishes them
//   <p>{rq}:woken:<endpoint> string set (NX, PX) when a wake-up was sent: at most one per interval
//   <p>{rq}:events        consumer group "scheduler" on the registry's event stream (not a key: a group name)
// BullMQ keeps its queues under bull:<queue name>:... on a single Redis or Sentinel; on Redis Cluster under
// {bull}:<queue name>:... (apps/scheduler bullOptions), one slot, since its scripts touch several keys of a queue.
import { DEFAULT_KEY_PREFIX } from '@lwm2m/registry';

export interface SchedulerKeys {
  prefix: string;
  /** Prefix of request records: Lua builds `${requestPrefix}${id}` for ids it reads from a queue. */
  requestPrefix: string;
  request(id: string): string;
  queuePrefix: string;
  queue(endpoint: string): string;
  endpoints: string;
  ttl: string;
  lost(endpoint: string): string;
  woken(endpoint: string): string;
  eventGroup: string;
}

export function schedulerKeys(prefix: string = DEFAULT_KEY_PREFIX): SchedulerKeys {
  if (/[{}]/.test(prefix)) throw new Error(`key prefix must not contain braces: ${prefix}`);
  const base = `${prefix}{rq}:`;
  return {
    prefix,
    requestPrefix: `${base}r:`,
    request: (id) => `${base}r:${id}`,
    queuePrefix: `${base}q:`,
    queue: (endpoint) => `${base}q:${endpoint}`,
    endpoints: `${base}eps`,
    ttl: `${base}ttl`,
    lost: (endpoint) => `${base}lost:${endpoint}`,
    woken: (endpoint) => `${base}woken:${endpoint}`,
    eventGroup: 'scheduler',
  };
}
