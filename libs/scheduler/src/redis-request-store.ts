// The durable per-device request queues on Redis (layout in keys.ts). Why our own structure and not one BullMQ
// job per request: BullMQ orders a queue globally, not per device, and cannot hold a job until *its* device
// wakes; one BullMQ queue per device would not scale to a fleet. So the requests live here, each transition
// one Lua script, and BullMQ carries only the work signals (flush a device, wake it up, fan a notification
// out), which are idempotent and may run twice.
//
// It is also the gateway's DeliveryLedger: begin() fences an attempt, complete() records the device's answer,
// so a scheduler killed mid-delivery neither loses the result nor re-runs the request.
import type { DeviceCommandResult, LostObservation } from '@lwm2m/server';
import type { RedisClient } from '@lwm2m/registry';
import { type SchedulerKeys, schedulerKeys } from './keys';
import type { QueuedCommand, QueuedRequest, QueuedRequestState, RequestOrigin } from './request';
import { createHash } from 'node:crypto';
import type { ClaimResult, EventBatchState, NewRequest, RequestStore, SettleArgs } from './request-store';

/** KEYS: r q eps ttl. ARGV: id ep cmd origin prev now exp maxQueue. 1.. queue length, 0 exists, -1 full. */
const ENQUEUE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[8]) then return -1 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'ep', ARGV[2], 'cmd', ARGV[3], 'origin', ARGV[4], 'prev', ARGV[5],
  'state', 'queued', 'attempts', 0, 'acc', ARGV[6], 'exp', ARGV[7], 'upd', ARGV[6])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
return redis.call('LLEN', KEYS[2])
`;

/**
 * KEYS: q eps ttl. ARGV: requestPrefix ep now token retention. Looks at the head of a device's queue:
 * expires heads past their TTL, skips finished ones, and claims the next request (state delivering, a new
 * fencing token) unless one is in flight or backing off. Returns {kind, expiredIds, ...}.
 */
const CLAIM = `
local q, eps, ttl = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[3])
local expired = {}
while true do
  local id = redis.call('LINDEX', q, 0)
  if not id then
    redis.call('SREM', eps, ARGV[2])
    return {'empty', expired}
  end
  local r = ARGV[1] .. id
  local f = redis.call('HMGET', r, 'state', 'exp', 'nb', 'token', 'began', 'rtoken', 'started')
  if f[1] == 'queued' then
    if tonumber(f[2]) <= now then
      redis.call('HSET', r, 'state', 'expired', 'upd', ARGV[3], 'err', 'time-to-live passed before delivery')
      redis.call('EXPIRE', r, ARGV[5])
      redis.call('LPOP', q)
      redis.call('ZREM', ttl, id)
      table.insert(expired, id)
    elseif f[3] and f[3] ~= '' and tonumber(f[3]) > now then
      return {'wait', expired, id, f[3]}
    else
      local n = redis.call('HINCRBY', r, 'attempts', 1)
      redis.call('HSET', r, 'state', 'delivering', 'token', ARGV[4], 'started', ARGV[3], 'upd', ARGV[3])
      redis.call('HDEL', r, 'began', 'rtoken')
      return {'deliver', expired, id, redis.call('HGET', r, 'cmd'), n}
    end
  elseif f[1] == 'delivering' then
    return {'inflight', expired, id, f[4] or '', f[5] or '', f[6] or '', f[7] or '0'}
  else
    redis.call('LPOP', q)
  end
end
`;

/** KEYS: r. ARGV: token. The gateway may run this attempt: 1, once; 0 when fenced off or already begun. */
const BEGIN = `
local f = redis.call('HMGET', KEYS[1], 'state', 'token', 'began')
if f[1] ~= 'delivering' or f[2] ~= ARGV[1] or f[3] then return 0 end
redis.call('HSET', KEYS[1], 'began', ARGV[1])
return 1
`;

/** KEYS: r. ARGV: token result. Records the device's answer to a begun attempt. */
const COMPLETE = `
local f = redis.call('HMGET', KEYS[1], 'token', 'began')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'result', ARGV[2], 'rtoken', ARGV[1])
return 1
`;

/**
 * KEYS: r q eps ttl. ARGV: id token state now err result notBefore countsAsAttempt retention onlyIfNotBegun ep.
 * Ends an attempt (compare-and-set on the token): back to 'queued' (retry or wait), or a final state (leaves
 * the queue). With onlyIfNotBegun it is the fence: it fails (-1) when a gateway began the attempt.
 */
const SETTLE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'token', 'began')
if f[1] ~= 'delivering' or f[2] ~= ARGV[2] then return 0 end
if ARGV[10] == '1' and f[3] then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'token', '', 'upd', ARGV[4], 'err', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end
if ARGV[3] == 'queued' then
  redis.call('HSET', KEYS[1], 'nb', ARGV[7])
  if ARGV[8] == '0' then redis.call('HINCRBY', KEYS[1], 'attempts', -1) end
  redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'exp'), ARGV[1])
  return 1
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[11]) end
redis.call('EXPIRE', KEYS[1], ARGV[9])
return 1
`;

/** KEYS: r q eps ttl. ARGV: id now retention ep. Cancels a queued request: {1|0, the state it is in after}. */
const CANCEL = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return false end
if st ~= 'queued' then return {0, st} end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'upd', ARGV[2], 'err', 'cancelled by an operator')
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, 'cancelled'}
`;

/**
 * KEYS: ttl eps. ARGV: requestPrefix queuePrefix now max retention. Expires queued requests past their TTL
 * wherever they are in their queue; returns {id, ep, ...}. An attempt in flight is left to settle (settling
 * it back to 'queued' re-adds it here).
 */
const SWEEP = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(due) do
  local r = ARGV[1] .. id
  local f = redis.call('HMGET', r, 'state', 'ep')
  redis.call('ZREM', KEYS[1], id)
  if f[1] == 'queued' then
    local q = ARGV[2] .. f[2]
    redis.call('HSET', r, 'state', 'expired', 'upd', ARGV[3], 'err', 'time-to-live passed before delivery')
    redis.call('EXPIRE', r, ARGV[5])
    redis.call('LREM', q, 1, id)
    if redis.call('LLEN', q) == 0 then redis.call('SREM', KEYS[2], f[2]) end
    table.insert(out, id)
    table.insert(out, f[2])
  end
end
return out
`;

/**
 * KEYS: eps, then lost:<endpoint> of each registered endpoint. ARGV: endpoints to check. {lost observations
 * of each (taken), SMISMEMBER of the endpoints in eps (queue not empty)}.
 */
const FOR_EVENTS = `
local lost = {}
for i = 2, #KEYS do
  lost[i - 1] = redis.call('HVALS', KEYS[i])
  redis.call('DEL', KEYS[i])
end
local pending = {}
if #ARGV > 0 then pending = redis.call('SMISMEMBER', KEYS[1], unpack(ARGV)) end
return {lost, pending}
`;
const FOR_EVENTS_SHA = createHash('sha1').update(FOR_EVENTS).digest('hex');

const SCRIPTS = {
  rqEnqueue: { numberOfKeys: 4, lua: ENQUEUE },
  rqClaim: { numberOfKeys: 3, lua: CLAIM },
  rqBegin: { numberOfKeys: 1, lua: BEGIN },
  rqComplete: { numberOfKeys: 1, lua: COMPLETE },
  rqSettle: { numberOfKeys: 4, lua: SETTLE },
  rqCancel: { numberOfKeys: 4, lua: CANCEL },
  rqSweep: { numberOfKeys: 2, lua: SWEEP },
} as const;
type ScriptName = keyof typeof SCRIPTS;

export interface RedisRequestStoreOptions {
  keyPrefix?: string;
  /** Seconds a finished request stays readable (GET /api/v1/requests/{id}). Default 7 days. */
  retentionSeconds?: number;
  /** Unfinished requests per device. Default 1000. */
  maxQueueLength?: number;
}

export class RedisRequestStore implements RequestStore {
  readonly keys: SchedulerKeys;
  private readonly retention: number;
  readonly maxQueueLength: number;

  constructor(
    readonly redis: RedisClient,
    options: RedisRequestStoreOptions = {},
  ) {
    this.keys = schedulerKeys(options.keyPrefix);
    this.retention = options.retentionSeconds ?? 7 * 86400;
    this.maxQueueLength = options.maxQueueLength ?? 1000;
    for (const [name, def] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, def);
    }
  }

  private run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[
      name
    ]!;
    return fn.call(this.redis, ...keys, ...args);
  }

  private rowKeys(id: string, endpoint: string): string[] {
    return [this.keys.request(id), this.keys.queue(endpoint), this.keys.endpoints, this.keys.ttl];
  }

  /** 'added', 'exists' (same id already stored: idempotent) or 'full' (the device's queue is at its limit). */
  async enqueue(req: NewRequest): Promise<'added' | 'exists' | 'full'> {
    const n = (await this.run('rqEnqueue', this.rowKeys(req.id, req.endpoint), [
      req.id,
      req.endpoint,
      JSON.stringify(req.command),
      req.origin,
      req.previousObservationId ?? '',
      req.acceptedAt,
      req.expiresAt,
      this.maxQueueLength,
    ])) as number;
    return n > 0 ? 'added' : n === 0 ? 'exists' : 'full';
  }

  async claim(endpoint: string, now: number, token: string): Promise<ClaimResult> {
    const r = (await this.run(
      'rqClaim',
      [this.keys.queue(endpoint), this.keys.endpoints, this.keys.ttl],
      [this.keys.requestPrefix, endpoint, now, token, this.retention],
    )) as [string, string[], ...string[]];
    const [kind, expired] = r;
    switch (kind) {
      case 'wait':
        return { kind, expired, id: r[2]!, notBefore: Number(r[3]) };
      case 'deliver':
        return {
          kind,
          expired,
          id: r[2]!,
          command: JSON.parse(r[3]!) as QueuedCommand,
          attempt: Number(r[4]),
        };
      case 'inflight':
        return {
          kind,
          expired,
          id: r[2]!,
          token: r[3]!,
          begun: r[4] !== '' && r[4] === r[3],
          completed: r[5] !== '' && r[5] === r[3],
          startedAt: Number(r[6]),
        };
      default:
        return { kind: 'empty', expired };
    }
  }

  async begin(requestId: string, token: string): Promise<boolean> {
    return (await this.run('rqBegin', [this.keys.request(requestId)], [token])) === 1;
  }

  async complete(requestId: string, token: string, result: DeviceCommandResult): Promise<void> {
    await this.run('rqComplete', [this.keys.request(requestId)], [token, JSON.stringify(result)]);
  }

  async recorded(id: string, token: string): Promise<{ begun: boolean; result?: DeviceCommandResult }> {
    const [began, rtoken, result] = await this.redis.hmget(
      this.keys.request(id),
      'began',
      'rtoken',
      'result',
    );
    return {
      begun: began === token,
      ...(rtoken === token && result ? { result: JSON.parse(result) as DeviceCommandResult } : {}),
    };
  }

  /** 1 settled, 0 the attempt is not current any more, -1 the fence lost (a gateway began it). */
  async settle(a: SettleArgs): Promise<number> {
    return (await this.run('rqSettle', this.rowKeys(a.id, a.endpoint), [
      a.id,
      a.token,
      a.state,
      a.now,
      a.error ?? '',
      a.result ? JSON.stringify(a.result) : '',
      a.notBefore ?? '',
      a.countsAsAttempt === false ? '0' : '1',
      this.retention,
      a.onlyIfNotBegun ? '1' : '0',
      a.endpoint,
    ])) as number;
  }

  /** Cancels a queued request: whether this call cancelled it, and its state after; undefined when unknown. */
  async cancel(
    id: string,
    now: number,
    endpoint?: string,
  ): Promise<{ cancelled: boolean; state: QueuedRequestState } | undefined> {
    const ep = await this.redis.hget(this.keys.request(id), 'ep');
    if (ep === null || (endpoint !== undefined && ep !== endpoint)) return undefined;
    const r = (await this.run('rqCancel', this.rowKeys(id, ep), [id, now, this.retention, ep])) as
      [number, string] | null;
    return r ? { cancelled: r[0] === 1, state: r[1] as QueuedRequestState } : undefined;
  }

  /** Expires queued requests past their TTL; returns them. */
  async sweepExpired(now: number, max = 500): Promise<Array<{ id: string; endpoint: string }>> {
    const r = (await this.run(
      'rqSweep',
      [this.keys.ttl, this.keys.endpoints],
      [this.keys.requestPrefix, this.keys.queuePrefix, now, max, this.retention],
    )) as string[];
    const out: Array<{ id: string; endpoint: string }> = [];
    for (let i = 0; i + 1 < r.length; i += 2) out.push({ id: r[i]!, endpoint: r[i + 1]! });
    return out;
  }

  async get(id: string): Promise<QueuedRequest | undefined> {
    const h = await this.redis.hgetall(this.keys.request(id));
    return toRequest(h);
  }

  /** The device's unfinished requests, in delivery order. */
  async listPending(endpoint: string): Promise<QueuedRequest[]> {
    const ids = await this.redis.lrange(this.keys.queue(endpoint), 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.request(id));
    const rows = (await pipe.exec()) ?? [];
    const out: QueuedRequest[] = [];
    for (const [err, h] of rows) {
      const r = err ? undefined : toRequest(h as Record<string, string>);
      if (r && (r.state === 'queued' || r.state === 'delivering')) out.push(r);
    }
    return out;
  }

  async hasPending(endpoint: string): Promise<boolean> {
    return (await this.redis.llen(this.keys.queue(endpoint))) > 0;
  }

  /** Endpoints with unfinished requests (start-up reconcile). */
  endpointsWithPending(): Promise<string[]> {
    return this.redis.smembers(this.keys.endpoints);
  }

  /** Keeps observations a registration lost to expiry until the endpoint registers again (or ttlSeconds). */
  async keepLostObservations(endpoint: string, lost: LostObservation[], ttlSeconds: number): Promise<void> {
    if (lost.length === 0) return;
    const key = this.keys.lost(endpoint);
    const multi = this.redis.multi();
    for (const o of lost) multi.hset(key, o.id, JSON.stringify(o));
    await multi.expire(key, ttlSeconds).exec();
  }

  async forEvents(registered: string[], endpoints: string[]): Promise<EventBatchState> {
    const eps = [...new Set(registered)];
    const checked = [...new Set(endpoints)];
    if (eps.length === 0 && checked.length === 0) return { lost: new Map(), pending: new Set() };
    const keys = [this.keys.endpoints, ...eps.map((ep) => this.keys.lost(ep))];
    // A variable number of keys: EVALSHA by hand (defineCommand fixes the count); all in slot {rq}.
    const [lost, pending] = (await this.redis
      .evalsha(FOR_EVENTS_SHA, keys.length, ...keys, ...checked)
      .catch((err: unknown) => {
        if (!String(err).includes('NOSCRIPT')) throw err;
        return this.redis.eval(FOR_EVENTS, keys.length, ...keys, ...checked);
      })) as [string[][], number[]];
    return {
      lost: new Map(eps.map((ep, i) => [ep, (lost[i] ?? []).map((v) => JSON.parse(v) as LostObservation)])),
      pending: new Set(checked.filter((_, i) => pending[i] === 1)),
    };
  }

  async takeLostObservations(endpoint: string): Promise<LostObservation[]> {
    const key = this.keys.lost(endpoint);
    const res = await this.redis.multi().hvals(key).del(key).exec();
    const vals = (res?.[0]?.[1] as string[] | undefined) ?? [];
    return vals.map((v) => JSON.parse(v) as LostObservation);
  }
}

function toRequest(h: Record<string, string>): QueuedRequest | undefined {
  if (!h.id || !h.state || !h.cmd) return undefined;
  const out: QueuedRequest = {
    id: h.id,
    endpoint: h.ep ?? '',
    command: JSON.parse(h.cmd) as QueuedCommand,
    origin: (h.origin || 'operator') as RequestOrigin,
    state: h.state as QueuedRequestState,
    attempts: Number(h.attempts ?? 0),
    acceptedAt: Number(h.acc),
    expiresAt: Number(h.exp),
    updatedAt: Number(h.upd),
  };
  if (h.prev) out.previousObservationId = h.prev;
  if (h.nb) out.notBefore = Number(h.nb);
  if (h.result) out.result = JSON.parse(h.result) as DeviceCommandResult;
  if (h.err) out.error = h.err;
  return out;
}
