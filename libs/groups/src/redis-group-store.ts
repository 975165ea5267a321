// Groups and group requests on Redis. Every key of one request shares the hash tag {greq:<id>}, so each
// transition is one Lua script on a single Redis, Sentinel or Redis Cluster:
//   <p>{grp}:groups            hash  name -> Group JSON
//   <p>{grp}:active            set   ids of unfinished group requests (what runners resume)
//   <p>{grp}:requests          zset  list entries (requestListEntry: created-at:id, all scores 0, read in
//                                    reverse text order: newest first) of every request kept
//   <p>{grp}:requests:g:<name> zset  the same, of one group's requests
//   <p>{grp}:expiring          zset  "<group> <entry>" of finished requests, scored by the ms their retention
//                                    ends: what trims the two lists above (on each create and list, no SCAN)
//   <p>{greq:<id>}:meta        hash  json (the request's fixed fields), state, total, finishedAt, c:<state> counts
//   <p>{greq:<id>}:undispatched list  endpoints not yet dispatched, in dispatch order
//   <p>{greq:<id>}:st          hash  endpoint -> member state
//   <p>{greq:<id>}:m           hash  endpoint -> MemberResult JSON (once the member left `pending`)
//   <p>{greq:<id>}:queued      hash  endpoint -> MemberResult JSON of members waiting in a device queue
//   <p>{greq:<id>}:disp        hash  endpoint -> ms when dispatched (waiting for the device)
//   <p>{greq:<id>}:results     list  final MemberResult JSON, in the order they came (paged by index)
//   <p>{greq:<id>}:ri          hash  endpoint -> its index in results (a multicast request's servers)
//   <p>{greq:<id>}:notes       list  a multicast observation's later notifications (MemberResult JSON)
//   <p>{greq:<id>}:lease       string the runner holding the fan-out (PX)
import { DEFAULT_KEY_PREFIX, type RedisClient } from '@lwm2m/registry';
import type { Group } from './group';
import {
  MEMBER_STATES,
  type GroupRequest,
  type GroupRequestState,
  type MemberResult,
  type MemberState,
} from './group-request';
import {
  type GroupRequestPage,
  type GroupRequestQuery,
  type GroupStore,
  type NewGroupRequest,
  requestListEntry,
} from './group-store';

const FINAL_LUA = `local function final(s) return s == 'succeeded' or s == 'failed' or s == 'timed-out' or s == 'cancelled' end\n`;

const SCRIPTS = {
  /** KEYS meta undispatched st disp. ARGV n now. */
  grpTake: {
    numberOfKeys: 4,
    lua: `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return {} end
local out = {}
local n = tonumber(ARGV[1])
while #out < n do
  local ep = redis.call('LPOP', KEYS[2])
  if not ep then break end
  if redis.call('HGET', KEYS[3], ep) == 'pending' then
    redis.call('HSET', KEYS[3], ep, 'dispatching')
    redis.call('HSET', KEYS[4], ep, ARGV[2])
    out[#out + 1] = ep
  end
end
if #out > 0 then
  redis.call('HINCRBY', KEYS[1], 'c:pending', -#out)
  redis.call('HINCRBY', KEYS[1], 'c:dispatching', #out)
end
return out`,
  },
  /** KEYS meta st m queued disp results. ARGV ep state json. */
  grpSettle: {
    numberOfKeys: 6,
    lua: `${FINAL_LUA}
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if not prev or final(prev) then return 0 end
local s = ARGV[2]
redis.call('HSET', KEYS[2], ARGV[1], s)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'c:' .. prev, -1)
redis.call('HINCRBY', KEYS[1], 'c:' .. s, 1)
if prev == 'queued' then redis.call('HDEL', KEYS[4], ARGV[1]) end
if prev == 'dispatching' then redis.call('HDEL', KEYS[5], ARGV[1]) end
if s == 'queued' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[3]) end
if s == 'dispatching' then redis.call('HSET', KEYS[5], ARGV[1], '0') end
if final(s) then redis.call('RPUSH', KEYS[6], ARGV[3]) end
return 1`,
  },
  /** KEYS meta st m results ri. ARGV ep state json. */
  grpAdd: {
    numberOfKeys: 5,
    lua: `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
local n = redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], n - 1)
return 1`,
  },
  /** KEYS meta st m results ri notes. ARGV ep state json maxLogged. */
  grpNotify: {
    numberOfKeys: 6,
    lua: `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local i = redis.call('HGET', KEYS[5], ARGV[1])
if not i then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('LSET', KEYS[4], tonumber(i), ARGV[3])
if redis.call('LLEN', KEYS[6]) < tonumber(ARGV[4]) then redis.call('RPUSH', KEYS[6], ARGV[3]) end
return 1`,
  },
  /** KEYS meta undispatched st m results. ARGV state reason n now. */
  grpEndPending: {
    numberOfKeys: 5,
    lua: `
local ended = 0
local n = tonumber(ARGV[3])
while ended < n do
  local ep = redis.call('LPOP', KEYS[2])
  if not ep then break end
  if redis.call('HGET', KEYS[3], ep) == 'pending' then
    local json = cjson.encode({endpoint = ep, state = ARGV[1], error = ARGV[2], at = tonumber(ARGV[4])})
    redis.call('HSET', KEYS[3], ep, ARGV[1])
    redis.call('HSET', KEYS[4], ep, json)
    redis.call('RPUSH', KEYS[5], json)
    ended = ended + 1
  end
end
if ended > 0 then
  redis.call('HINCRBY', KEYS[1], 'c:pending', -ended)
  redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[1], ended)
end
return ended`,
  },
  /** KEYS meta (then every key of the request, to expire). ARGV now retentionMs. */
  grpFinish: {
    numberOfKeys: 10,
    lua: `
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return false end
if s == 'completed' or s == 'cancelled' then return s end
local c = redis.call('HMGET', KEYS[1], 'c:pending', 'c:dispatching', 'c:queued')
if (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) + (tonumber(c[3]) or 0) > 0 then return s end
local ns = 'completed'
if s == 'cancelling' then ns = 'cancelled' end
redis.call('HSET', KEYS[1], 'state', ns, 'finishedAt', ARGV[1])
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return ns`,
  },
  /** KEYS meta. */
  grpCancel: {
    numberOfKeys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'cancelling')
return 1`,
  },
  /** KEYS lease meta. ARGV owner ttlMs. */
  grpLease: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
  },
  /** KEYS lease. ARGV owner. */
  grpRelease: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`,
  },
  /** KEYS groups. ARGV name json max. */
  grpCreateGroup: {
    numberOfKeys: 1,
    lua: `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'created'`,
  },
} as const;
type ScriptName = keyof typeof SCRIPTS;

const CHUNK = 1000;
/** List entries one page looks at, at most: a page filtered by state may stop short of its limit. */
const MAX_LIST_SCAN = 1000;
/** Expired list entries removed per trim (each create and list trims once). */
const TRIM_BATCH = 500;

export interface RedisGroupStoreOptions {
  keyPrefix?: string;
}

export class RedisGroupStore implements GroupStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    options: RedisGroupStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (/[{}]/.test(this.prefix)) throw new Error(`key prefix must not contain braces: ${this.prefix}`);
    for (const [name, def] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, def);
    }
  }

  private get groupsKey(): string {
    return `${this.prefix}{grp}:groups`;
  }
  private get activeKey(): string {
    return `${this.prefix}{grp}:active`;
  }
  /** The list of requests kept, all or one group's. */
  private listKey(group?: string): string {
    return group === undefined ? `${this.prefix}{grp}:requests` : `${this.prefix}{grp}:requests:g:${group}`;
  }
  private get expiringKey(): string {
    return `${this.prefix}{grp}:expiring`;
  }
  private k(
    id: string,
    part: 'meta' | 'undispatched' | 'st' | 'm' | 'queued' | 'disp' | 'results' | 'ri' | 'notes' | 'lease',
  ): string {
    return `${this.prefix}{greq:${id}}:${part}`;
  }

  private run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[
      name
    ]!;
    return fn.call(this.redis, ...keys, ...args);
  }

  async createGroup(group: Group, maxGroups: number): Promise<'created' | 'exists' | 'full'> {
    return (await this.run(
      'grpCreateGroup',
      [this.groupsKey],
      [group.name, JSON.stringify(group), maxGroups],
    )) as 'created' | 'exists' | 'full';
  }

  async getGroup(name: string): Promise<Group | undefined> {
    const json = await this.redis.hget(this.groupsKey, name);
    return json ? (JSON.parse(json) as Group) : undefined;
  }

  async listGroups(): Promise<Group[]> {
    const all = await this.redis.hvals(this.groupsKey);
    return all.map((j) => JSON.parse(j) as Group).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async deleteGroup(name: string): Promise<boolean> {
    return (await this.redis.hdel(this.groupsKey, name)) === 1;
  }

  async createRequest(req: NewGroupRequest, members: string[]): Promise<void> {
    // Members first, the meta record and the active index last: a runner only sees a complete request.
    for (let i = 0; i < members.length; i += CHUNK) {
      const chunk = members.slice(i, i + CHUNK);
      const p = this.redis.pipeline();
      p.rpush(this.k(req.id, 'undispatched'), ...chunk);
      p.hset(this.k(req.id, 'st'), ...chunk.flatMap((ep) => [ep, 'pending']));
      await p.exec();
    }
    const counts = MEMBER_STATES.flatMap((s) => [`c:${s}`, s === 'pending' ? members.length : 0]);
    await this.redis.hset(
      this.k(req.id, 'meta'),
      'json',
      JSON.stringify(req),
      'state',
      'running',
      'total',
      members.length,
      ...counts,
    );
    const entry = requestListEntry(req);
    await this.redis
      .multi()
      .zadd(this.listKey(), 0, entry)
      .zadd(this.listKey(req.group), 0, entry)
      .sadd(this.activeKey, req.id)
      .exec();
    await this.trimLists();
  }

  /**
   * Takes the entries of requests past their retention out of the lists (their keys expire by themselves).
   * Bounded per call; runs on each create and list, so the lists follow the retention without a SCAN.
   */
  private async trimLists(): Promise<void> {
    const due = await this.redis.zrangebyscore(this.expiringKey, '-inf', Date.now(), 'LIMIT', 0, TRIM_BATCH);
    if (due.length === 0) return;
    const m = this.redis.multi();
    for (const item of due) {
      const [group, entry] = item.split(' ') as [string, string];
      m.zrem(this.listKey(), entry).zrem(this.listKey(group), entry);
    }
    await m.zrem(this.expiringKey, ...due).exec();
  }

  async listRequests(query: GroupRequestQuery): Promise<GroupRequestPage> {
    await this.trimLists();
    const key = this.listKey(query.group);
    const items: GroupRequest[] = [];
    let max = query.cursor !== undefined ? `(${query.cursor}` : '+';
    let last: string | undefined;
    let scanned = 0;
    while (items.length < query.limit && scanned < MAX_LIST_SCAN) {
      const want = query.state ? 200 : query.limit - items.length;
      const batch = await this.redis.zrevrangebylex(key, max, '-', 'LIMIT', 0, want);
      if (batch.length === 0) return { items };
      const reqs = await Promise.all(batch.map((e) => this.getRequest(e.slice(e.indexOf(':') + 1))));
      const stale: string[] = [];
      for (let i = 0; i < batch.length && items.length < query.limit; i++) {
        last = batch[i]!;
        scanned++;
        const r = reqs[i];
        // Its keys are gone but its trim never came (a process stopped in between): dropped here.
        if (!r) stale.push(last);
        else if (query.state === undefined || r.state === query.state) items.push(r);
      }
      if (stale.length > 0) await this.redis.zrem(key, ...stale);
      max = `(${last}`;
    }
    // More may follow: is there anything after the last entry looked at?
    const more = await this.redis.zrevrangebylex(key, max, '-', 'LIMIT', 0, 1);
    return more.length > 0 && last !== undefined ? { items, nextCursor: last } : { items };
  }

  async getRequest(id: string): Promise<GroupRequest | undefined> {
    const h = await this.redis.hgetall(this.k(id, 'meta'));
    if (!h.json) return undefined;
    const counts = Object.fromEntries(MEMBER_STATES.map((s) => [s, Number(h[`c:${s}`] ?? 0)])) as Record<
      MemberState,
      number
    >;
    return {
      ...(JSON.parse(h.json) as NewGroupRequest),
      state: h.state as GroupRequestState,
      total: Number(h.total),
      counts,
      ...(h.finishedAt ? { finishedAt: Number(h.finishedAt) } : {}),
    };
  }

  async activeRequests(): Promise<string[]> {
    const ids = await this.redis.smembers(this.activeKey);
    // A finished request leaves the index here (its keys may live in another slot than the index).
    const out: string[] = [];
    for (const id of ids) {
      const state = await this.redis.hget(this.k(id, 'meta'), 'state');
      if (state === 'running' || state === 'cancelling') out.push(id);
      else await this.redis.srem(this.activeKey, id);
    }
    return out;
  }

  async takePending(id: string, n: number, now: number): Promise<string[]> {
    return (await this.run(
      'grpTake',
      [this.k(id, 'meta'), this.k(id, 'undispatched'), this.k(id, 'st'), this.k(id, 'disp')],
      [n, now],
    )) as string[];
  }

  async settle(id: string, result: MemberResult): Promise<boolean> {
    const keys = (['meta', 'st', 'm', 'queued', 'disp', 'results'] as const).map((p) => this.k(id, p));
    return (await this.run('grpSettle', keys, [result.endpoint, result.state, JSON.stringify(result)])) === 1;
  }

  async addResult(id: string, result: MemberResult): Promise<boolean> {
    const keys = (['meta', 'st', 'm', 'results', 'ri'] as const).map((p) => this.k(id, p));
    return (await this.run('grpAdd', keys, [result.endpoint, result.state, JSON.stringify(result)])) === 1;
  }

  async notify(id: string, result: MemberResult, maxLogged: number): Promise<boolean> {
    const keys = (['meta', 'st', 'm', 'results', 'ri', 'notes'] as const).map((p) => this.k(id, p));
    const args = [result.endpoint, result.state, JSON.stringify(result), maxLogged];
    return (await this.run('grpNotify', keys, args)) === 1;
  }

  async notifications(id: string, offset: number, limit: number): Promise<MemberResult[]> {
    const list = await this.redis.lrange(this.k(id, 'notes'), offset, offset + limit - 1);
    return list.map((j) => JSON.parse(j) as MemberResult);
  }

  async claimSend(id: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.k(id, 'meta'), 'sent', '1')) === 1;
  }

  async membersIn(id: string, state: 'queued' | 'dispatching'): Promise<MemberResult[]> {
    if (state === 'queued') {
      return (await this.redis.hvals(this.k(id, 'queued'))).map((j) => JSON.parse(j) as MemberResult);
    }
    const h = await this.redis.hgetall(this.k(id, 'disp'));
    return Object.entries(h).map(([endpoint, at]) => ({ endpoint, state: 'dispatching', at: Number(at) }));
  }

  async getMember(id: string, endpoint: string): Promise<MemberResult | undefined> {
    const [state, json] = await Promise.all([
      this.redis.hget(this.k(id, 'st'), endpoint),
      this.redis.hget(this.k(id, 'm'), endpoint),
    ]);
    if (!state) return undefined;
    if (json) {
      const m = JSON.parse(json) as MemberResult;
      if (m.state === state) return m;
    }
    return { endpoint, state: state as MemberState, at: 0 };
  }

  async endPending(
    id: string,
    state: 'cancelled' | 'timed-out',
    reason: string,
    n: number,
    now: number,
  ): Promise<number> {
    const keys = (['meta', 'undispatched', 'st', 'm', 'results'] as const).map((p) => this.k(id, p));
    return Number(await this.run('grpEndPending', keys, [state, reason, n, now]));
  }

  async results(id: string, offset: number, limit: number): Promise<MemberResult[]> {
    const list = await this.redis.lrange(this.k(id, 'results'), offset, offset + limit - 1);
    return list.map((j) => JSON.parse(j) as MemberResult);
  }

  async requestCancel(id: string): Promise<boolean> {
    return (await this.run('grpCancel', [this.k(id, 'meta')], [])) === 1;
  }

  async finishIfDone(id: string, now: number, retentionMs: number): Promise<GroupRequestState | undefined> {
    const keys = (
      ['meta', 'undispatched', 'st', 'm', 'queued', 'disp', 'results', 'ri', 'notes', 'lease'] as const
    ).map((p) => this.k(id, p));
    const state = (await this.run('grpFinish', keys, [now, retentionMs])) as GroupRequestState | null;
    if (state === 'completed' || state === 'cancelled') {
      // Its keys now expire after the retention (Redis' PEXPIRE, from now); its list entries are trimmed
      // then, by this process's clock (NX: a second call on a finished request changes nothing).
      const json = await this.redis.hget(this.k(id, 'meta'), 'json');
      if (json) {
        const req = JSON.parse(json) as NewGroupRequest;
        const item = `${req.group} ${requestListEntry(req)}`;
        await this.redis
          .multi()
          .srem(this.activeKey, id)
          .zadd(this.expiringKey, 'NX', Date.now() + retentionMs, item)
          .exec();
      } else await this.redis.srem(this.activeKey, id);
    }
    return state ?? undefined;
  }

  async lease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.run('grpLease', [this.k(id, 'lease'), this.k(id, 'meta')], [owner, ttlMs])) === 1;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.run('grpRelease', [this.k(id, 'lease')], [owner]);
  }
}
