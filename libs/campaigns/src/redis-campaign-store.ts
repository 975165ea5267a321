// CampaignStore on Redis (layout in keys.ts): one Lua script per device transition, so the run, the counts,
// the queues, the concurrency and rate checks and the log change together or not at all.
import type { RedisClient } from '@lwm2m/registry';
import type { Campaign, CampaignDefinition, CampaignPhase, CampaignState } from './campaign';
import type { CampaignStore, CasResult, Page, TransitionRecord } from './campaign-store';
import { ACTIVE_STATES, DEVICE_RUN_STATES, type DeviceRun, type DeviceRunState } from './device-run';
import { type CampaignKeys, campaignKeys } from './keys';
import { type CampaignCounts, emptyCounts } from './rollout';

/** KEYS: members index running. ARGV: id createdAt ep... -> {} claimed, or the busy endpoints (nothing claimed). */
const CLAIM_MEMBERS = `
local busy = {}
for i = 3, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then table.insert(busy, ARGV[i]) end
end
if #busy > 0 then return busy end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {}
`;

/** KEYS: members. ARGV: id ep... : removes the endpoints that still belong to this campaign. */
const RELEASE_MEMBERS = `
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
`;

/** KEYS: meta. ARGV: allowed states (comma list), state, phase, reason, upd, ended ('' = unchanged). */
const UPDATE_META = `
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return 0 end
local ok = false
for a in string.gmatch(ARGV[1], '[^,]+') do if a == s then ok = true end end
if not ok then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'phase', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[4]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'ended', ARGV[6]) end
redis.call('HSET', KEYS[1], 'upd', ARGV[5])
return 1
`;

/**
 * KEYS: runs counts q qc active starts log meta resets.
 * ARGV: ep expectedRev nextJson nextState canary notBefore deadline now maxActive perMinute activeStates
 *       liveStates (comma list; '' = any: else the campaign's state must be one of them)
 *       resetAt ('' = no reset owed) resetFailed ('1': the run's reset is given up)
 */
const CAS_RUN = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {'missing'} end
local c = cjson.decode(cur)
if tostring(c.rev) ~= ARGV[2] then return {'conflict'} end
if ARGV[12] ~= '' then
  local s = redis.call('HGET', KEYS[8], 'state') or ''
  local live = false
  for a in string.gmatch(ARGV[12], '[^,]+') do if a == s then live = true end end
  if not live then return {'stopped'} end
end
local old, new, now = c.state, ARGV[4], tonumber(ARGV[8])
if tonumber(ARGV[9]) > 0 and redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[9]) then return {'full'} end
if tonumber(ARGV[10]) > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[10]) then return {'rate'} end
  redis.call('ZADD', KEYS[6], now, ARGV[1] .. ':' .. ARGV[8])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[13] ~= '' then redis.call('ZADD', KEYS[9], ARGV[13], ARGV[1]) else redis.call('ZREM', KEYS[9], ARGV[1]) end
if ARGV[14] == '1' and not c.resetFailed then redis.call('HINCRBY', KEYS[2], 'resets-failed', 1) end
if old ~= new then
  redis.call('HINCRBY', KEYS[2], old, -1)
  redis.call('HINCRBY', KEYS[2], new, 1)
  if ARGV[5] == '1' then
    redis.call('HINCRBY', KEYS[2], 'c:' .. old, -1)
    redis.call('HINCRBY', KEYS[2], 'c:' .. new, 1)
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
local isActive = false
for a in string.gmatch(ARGV[11], '[^,]+') do if a == new then isActive = true end end
if new == 'pending' then
  if ARGV[5] == '1' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1]) else redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1]) end
  redis.call('ZREM', KEYS[5], ARGV[1])
elseif isActive then
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
else
  redis.call('ZREM', KEYS[5], ARGV[1])
end
if old ~= new then
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'ep', ARGV[1], 'from', old, 'to', new, 'at', ARGV[8],
    'active', redis.call('ZCARD', KEYS[5]), 'down', redis.call('HGET', KEYS[2], 'downloading') or '0')
end
return {'ok', old}
`;

type Lua = (...args: Array<string | number>) => Promise<unknown>;

export class RedisCampaignStore implements CampaignStore {
  readonly keys: CampaignKeys;

  constructor(
    private readonly redis: RedisClient,
    opts: { keyPrefix?: string } = {},
  ) {
    this.keys = campaignKeys(opts.keyPrefix);
  }

  private eval(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    // EVAL with the script each time would resend it; ioredis' defineCommand caches by SHA per name.
    const name = `cmp_${hash(script)}`;
    const r = this.redis as unknown as Record<string, Lua>;
    if (!(name in this.redis)) this.redis.defineCommand(name, { lua: script });
    return r[name](keys.length, ...keys, ...args);
  }

  async create(def: CampaignDefinition, runs: DeviceRun[]) {
    const k = this.keys;
    const busy = (await this.eval(
      CLAIM_MEMBERS,
      [k.members, k.index, k.running],
      [def.id, def.createdAt, ...def.endpoints],
    )) as string[];
    if (busy.length > 0) return { ok: false as const, busy };
    const counts = emptyCounts();
    const canary = emptyCounts();
    const m = this.redis.multi();
    for (let i = 0; i < runs.length; i += 1000) {
      const chunk = runs.slice(i, i + 1000);
      m.hset(k.runs(def.id), ...chunk.flatMap((r) => [r.endpoint, JSON.stringify(r)]));
      // Start order is the target's order: the score is the position (all "due" from the start).
      const scored = chunk.map((r, j) => ({ r, score: String(i + j) }));
      const main = scored.filter((x) => !x.r.canary).flatMap((x) => [x.score, x.r.endpoint]);
      const can = scored.filter((x) => x.r.canary).flatMap((x) => [x.score, x.r.endpoint]);
      if (main.length) m.zadd(k.queue(def.id), ...main);
      if (can.length) m.zadd(k.canaryQueue(def.id), ...can);
    }
    for (const r of runs) {
      counts[r.state]++;
      if (r.canary) canary[r.state]++;
    }
    m.hset(k.counts(def.id), {
      ...counts,
      ...Object.fromEntries(Object.entries(canary).map(([s, n]) => [`c:${s}`, n])),
    });
    m.hset(k.meta(def.id), {
      def: JSON.stringify(def),
      state: 'running',
      phase: def.policy.canarySize > 0 ? 'canary' : 'rollout',
      upd: def.createdAt,
    });
    await m.exec();
    return { ok: true as const };
  }

  async get(id: string): Promise<Campaign | undefined> {
    const h = await this.redis.hgetall(this.keys.meta(id));
    if (!h.def) return undefined;
    const def = JSON.parse(h.def) as CampaignDefinition;
    return {
      ...def,
      state: h.state as CampaignState,
      phase: h.phase as CampaignPhase,
      updatedAt: Number(h.upd),
      ...(h.reason ? { reason: h.reason } : {}),
      ...(h.ended ? { endedAt: Number(h.ended) } : {}),
    };
  }

  async list(limit: number, cursor?: string): Promise<Page<Campaign>> {
    // Newest first; the cursor is the rank to continue from.
    const from = cursor ? Number(cursor) : 0;
    const ids = await this.redis.zrevrange(this.keys.index, from, from + limit - 1);
    const items = (await Promise.all(ids.map((id) => this.get(id)))).filter(
      (c): c is Campaign => c !== undefined,
    );
    return { items, ...(ids.length === limit ? { nextCursor: String(from + limit) } : {}) };
  }

  running(): Promise<string[]> {
    return this.redis.smembers(this.keys.running);
  }

  async update(
    id: string,
    from: readonly CampaignState[],
    patch: { state?: CampaignState; phase?: CampaignPhase; reason?: string; endedAt?: number },
    now: number,
  ): Promise<boolean> {
    const r = await this.eval(
      UPDATE_META,
      [this.keys.meta(id)],
      [
        from.join(','),
        patch.state ?? '',
        patch.phase ?? '',
        patch.reason ?? '',
        now,
        patch.endedAt !== undefined ? String(patch.endedAt) : '',
      ],
    );
    return r === 1;
  }

  async counts(id: string): Promise<CampaignCounts> {
    const h = await this.redis.hgetall(this.keys.counts(id));
    const all = emptyCounts();
    const canary = emptyCounts();
    for (const s of DEVICE_RUN_STATES) {
      all[s] = Number(h[s] ?? 0);
      canary[s] = Number(h[`c:${s}`] ?? 0);
    }
    return { all, canary };
  }

  async getRun(id: string, endpoint: string): Promise<DeviceRun | undefined> {
    const v = await this.redis.hget(this.keys.runs(id), endpoint);
    return v ? (JSON.parse(v) as DeviceRun) : undefined;
  }

  async runs(id: string, limit: number, cursor = '0', state?: DeviceRunState): Promise<Page<DeviceRun>> {
    const [next, flat] = await this.redis.hscan(this.keys.runs(id), cursor, 'COUNT', limit);
    const items: DeviceRun[] = [];
    for (let i = 1; i < flat.length; i += 2) {
      const r = JSON.parse(flat[i]) as DeviceRun;
      if (state === undefined || r.state === state) items.push(r);
    }
    return { items, ...(next !== '0' ? { nextCursor: next } : {}) };
  }

  async casRun(
    id: string,
    next: DeviceRun,
    claim?: { maxActive: number; perMinute: number },
    live?: readonly CampaignState[],
  ): Promise<CasResult> {
    const k = this.keys;
    const r = (await this.eval(
      CAS_RUN,
      [
        k.runs(id),
        k.counts(id),
        k.queue(id),
        k.canaryQueue(id),
        k.active(id),
        k.starts(id),
        k.log(id),
        k.meta(id),
        k.resets(id),
      ],
      [
        next.endpoint,
        next.rev - 1,
        JSON.stringify(next),
        next.state,
        next.canary ? '1' : '0',
        next.notBefore ?? 0,
        next.deadline ?? 0,
        next.updatedAt,
        claim?.maxActive ?? 0,
        claim?.perMinute ?? 0,
        ACTIVE_STATES.join(','),
        live?.join(',') ?? '',
        next.resetPending ? (next.resetNextAt ?? 0) : '',
        next.resetFailed ? '1' : '0',
      ],
    )) as string[];
    return r[0] as CasResult;
  }

  due(id: string, canary: boolean, now: number, limit: number): Promise<string[]> {
    const key = canary ? this.keys.canaryQueue(id) : this.keys.queue(id);
    return this.redis.zrangebyscore(key, '-inf', now, 'LIMIT', 0, limit);
  }

  overdue(id: string, now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.active(id), '-inf', now, 'LIMIT', 0, limit);
  }

  resetsDue(id: string, now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.resets(id), '-inf', now, 'LIMIT', 0, limit);
  }

  async resets(id: string): Promise<{ owed: number; failed: number }> {
    const [owed, failed] = await Promise.all([
      this.redis.zcard(this.keys.resets(id)),
      this.redis.hget(this.keys.counts(id), 'resets-failed'),
    ]);
    return { owed, failed: Number(failed ?? 0) };
  }

  activeEndpoints(id: string, limit: number): Promise<string[]> {
    return this.redis.zrange(this.keys.active(id), 0, limit - 1);
  }

  async campaignOf(endpoint: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.members, endpoint)) ?? undefined;
  }

  async release(id: string, endpoints: string[]): Promise<void> {
    if (endpoints.length === 0) return;
    await this.eval(RELEASE_MEMBERS, [this.keys.members], [id, ...endpoints]);
  }

  async retire(id: string): Promise<void> {
    await this.redis.srem(this.keys.running, id);
  }

  async reopen(id: string): Promise<void> {
    await this.redis.sadd(this.keys.running, id);
  }

  async log(id: string, after: string, count: number): Promise<TransitionRecord[]> {
    const start = after === '0' ? '-' : `(${after}`;
    const entries = (await this.redis.xrange(this.keys.log(id), start, '+', 'COUNT', count)) as Array<
      [string, string[]]
    >;
    return entries.map(([sid, f]) => {
      const o: Record<string, string> = {};
      for (let i = 0; i + 1 < f.length; i += 2) o[f[i]] = f[i + 1];
      return {
        id: sid,
        endpoint: o.ep,
        from: o.from as DeviceRunState,
        to: o.to as DeviceRunState,
        at: Number(o.at),
        active: Number(o.active),
        downloading: Number(o.down),
      };
    });
  }
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}
