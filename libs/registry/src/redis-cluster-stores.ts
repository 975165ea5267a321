// The gateway cluster's shared state on Redis (libs/cluster ports): node leases and DTLS sessions. Key
// layout in keys.ts (section 5). Every ownership change is a compare-and-set Lua script on one hash.
import { randomBytes } from 'node:crypto';
import type {
  ClusterSessionStore,
  MembershipStore,
  NodeInfo,
  SealedBlobStore,
  StoredSession,
  TakeoverResult,
} from '@lwm2m/cluster';
import { cidHexOf, type SessionRef } from '@lwm2m/transport';
import { isCluster, type RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';

interface LeaseRecord {
  token: string;
  info: Omit<NodeInfo, 'seenAt'>;
  seenAt: number;
}

// KEYS[1] ids set; ARGV: first id to try, last id, key prefix of node leases, token, info JSON, ttl ms, fixed (1 = only ARGV[1])
// The lease keys are built here (which id is free is found here), not passed in KEYS: they share KEYS[1]'s slot
// {node}, which Redis Cluster allows (it refuses only a key of another slot).
const CLAIM = `
local first = tonumber(ARGV[1])
local last = tonumber(ARGV[2])
for id = first, last do
  local key = ARGV[3] .. id
  local cur = redis.call('GET', key)
  local mine = false
  if cur then
    local ok, rec = pcall(cjson.decode, cur)
    mine = ok and rec.token == ARGV[4]
  end
  if (not cur) or mine then
    local rec = cjson.decode(ARGV[5])
    rec.info.id = id
    redis.call('SET', key, cjson.encode(rec), 'PX', ARGV[6])
    redis.call('SADD', KEYS[1], id)
    return id
  end
  if ARGV[7] == '1' then return -1 end
end
return -1`;

// KEYS[1] lease, KEYS[2] ids set; ARGV: token, record JSON, ttl ms, id
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if not ok or rec.token ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1`;

// KEYS[1] lease; ARGV: token
const RELEASE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if ok and rec.token == ARGV[1] then redis.call('DEL', KEYS[1]) end
end
return 1`;

// KEYS[1] session; ARGV: expected owner, new owner, block
const TAKEOVER = `
local v = redis.call('HMGET', KEYS[1], 'owner', 'seqEnd')
if not v[1] then return {0} end
if v[1] ~= ARGV[1] then return {1, v[1]} end
local start = tonumber(v[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'seqEnd', start + tonumber(ARGV[3]))
local r = redis.call('HMGET', KEYS[1], 'sealed', 'rtop', 'addr', 'port', 'fam')
return {2, tostring(start), r[1], r[2] or '-1', r[3] or '', r[4] or '', r[5] or ''}`;

// KEYS[1] session; ARGV: owner, block
const EXTEND = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return -1 end
return redis.call('HINCRBY', KEYS[1], 'seqEnd', ARGV[2])`;

// KEYS[1] session; ARGV: owner, rtop, addr, port, ttl ms
const TOUCH = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rtop', ARGV[2], 'addr', ARGV[3], 'port', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

// KEYS[1] session; ARGV: owner
const REMOVE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

export class RedisMembershipStore implements MembershipStore {
  readonly token = randomBytes(12).toString('hex');

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {}

  async claim(
    info: Omit<NodeInfo, 'id' | 'seenAt'> & { id?: number },
    ttlMs: number,
  ): Promise<number | undefined> {
    const fixed = info.id !== undefined;
    const record: LeaseRecord = {
      token: this.token,
      info: { ...info, id: info.id ?? 0 },
      seenAt: Date.now(),
    };
    const id = (await this.redis.eval(
      CLAIM,
      1,
      this.keys.nodeIds,
      fixed ? info.id! : 1,
      fixed ? info.id! : 0xffff,
      this.keys.node(0).slice(0, -1),
      this.token,
      JSON.stringify(record),
      ttlMs,
      fixed ? '1' : '0',
    )) as number;
    return id < 0 ? undefined : id;
  }

  async renew(info: Omit<NodeInfo, 'seenAt'>, ttlMs: number, token: string): Promise<boolean> {
    const record: LeaseRecord = { token, info, seenAt: Date.now() };
    const ok = (await this.redis.eval(
      RENEW,
      2,
      this.keys.node(info.id),
      this.keys.nodeIds,
      token,
      JSON.stringify(record),
      ttlMs,
      info.id,
    )) as number;
    return ok === 1;
  }

  async live(): Promise<NodeInfo[]> {
    const ids = await this.redis.smembers(this.keys.nodeIds);
    if (ids.length === 0) return [];
    const raw = await this.redis.mget(ids.map((id) => this.keys.node(Number(id))));
    const out: NodeInfo[] = [];
    const gone: string[] = [];
    raw.forEach((r, i) => {
      if (r === null) return void gone.push(ids[i]!);
      try {
        const rec = JSON.parse(r) as LeaseRecord;
        out.push({ ...rec.info, seenAt: rec.seenAt });
      } catch {
        // a record we cannot read is no live node
      }
    });
    // Leases that ran out long ago leave their id in the set; forget them (a live node re-adds its own).
    if (gone.length > 100) await this.redis.srem(this.keys.nodeIds, ...gone);
    return out.sort((a, b) => a.id - b.id);
  }

  async release(id: number, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keys.node(id), token);
  }
}

export class RedisClusterSessionStore implements ClusterSessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {}

  async put(cid: string, s: StoredSession, ttlMs: number): Promise<void> {
    const key = this.keys.dtlsSession(cid);
    await this.redis
      .multi()
      .del(key)
      .hset(key, {
        sealed: s.sealed,
        owner: String(s.owner),
        seqEnd: String(s.seqEnd),
        rtop: String(s.readTop),
        ...(s.address !== undefined ? { addr: s.address } : {}),
        ...(s.port !== undefined ? { port: String(s.port) } : {}),
        ...(s.family !== undefined ? { fam: s.family } : {}),
      })
      .pexpire(key, ttlMs)
      .exec();
  }

  async owner(cid: string): Promise<number | undefined> {
    const o = await this.redis.hget(this.keys.dtlsSession(cid), 'owner');
    return o === null ? undefined : Number(o);
  }

  async takeover(
    cid: string,
    expectedOwner: number,
    newOwner: number,
    block: number,
  ): Promise<TakeoverResult> {
    const r = (await this.redis.callBuffer(
      'EVAL',
      TAKEOVER,
      1,
      this.keys.dtlsSession(cid),
      String(expectedOwner),
      String(newOwner),
      block,
    )) as Array<Buffer | number>;
    const kind = Number(r[0]);
    if (kind === 0) return { kind: 'missing' };
    if (kind === 1) return { kind: 'owned', owner: Number(String(r[1])) };
    const text = (i: number) => String(r[i] ?? '');
    const fam = text(6);
    return {
      kind: 'taken',
      seqStart: Number(text(1)),
      session: {
        sealed: r[2] as Buffer,
        owner: newOwner,
        seqEnd: Number(text(1)) + block,
        readTop: Number(text(3)),
        ...(text(4) ? { address: text(4) } : {}),
        ...(text(5) ? { port: Number(text(5)) } : {}),
        ...(fam === 'IPv4' || fam === 'IPv6' ? { family: fam } : {}),
      },
    };
  }

  async extend(cid: string, owner: number, block: number): Promise<number | undefined> {
    const end = (await this.redis.eval(
      EXTEND,
      1,
      this.keys.dtlsSession(cid),
      String(owner),
      block,
    )) as number;
    return end < 0 ? undefined : end;
  }

  async touch(
    updates: Array<{ cid: string; owner: number; readTop: number; address: string; port: number }>,
    ttlMs: number,
  ): Promise<void> {
    const key = (cid: string) => this.keys.dtlsSession(cid);
    if (isCluster(this.redis)) {
      // Each session is its own slot, and ioredis refuses a pipeline across slots: one command each (ioredis
      // writes them without waiting for answers). As in a pipeline, one failed touch does not fail the rest.
      await Promise.all(
        updates.map((u) =>
          this.redis
            .eval(TOUCH, 1, key(u.cid), String(u.owner), u.readTop, u.address, u.port, ttlMs)
            .catch(() => undefined),
        ),
      );
      return;
    }
    const p = this.redis.pipeline();
    for (const u of updates)
      p.eval(TOUCH, 1, key(u.cid), String(u.owner), u.readTop, u.address, u.port, ttlMs);
    await p.exec();
  }

  async remove(cid: string, owner: number): Promise<void> {
    await this.redis.eval(REMOVE, 1, this.keys.dtlsSession(cid), String(owner));
  }
}

/**
 * Routes a device command to the gateway node that owns the device's DTLS session (its keys live there):
 * the registration's peer key names the session's CID, the session store its owner. Commands for NoSec
 * devices, sessions without a CID, or owners that are gone take the shared stream: any gateway runs them,
 * taking a dead owner's session over first.
 */
export function clusterCommandRouter(
  registrations: { getByEndpoint(endpoint: string): Promise<{ session: SessionRef } | undefined> },
  sessions: ClusterSessionStore,
  membership: Pick<MembershipStore, 'live'>,
  liveCacheMs = 1000,
): (cmd: { endpoint: string }) => Promise<number | undefined> {
  let live: { at: number; ids: Promise<Set<number>> } | undefined;
  const liveIds = () => {
    if (live === undefined || Date.now() - live.at > liveCacheMs) {
      live = { at: Date.now(), ids: membership.live().then((ns) => new Set(ns.map((n) => n.id))) };
      live.ids.catch(() => (live = undefined));
    }
    return live.ids;
  };
  return async (cmd) => {
    const reg = await registrations.getByEndpoint(cmd.endpoint);
    const cid = cidHexOf(reg?.session);
    if (!cid) return undefined;
    const owner = await sessions.owner(cid);
    if (owner === undefined) return undefined;
    return (await liveIds()).has(owner) ? owner : undefined;
  };
}

/** Sealed DTLS resumption entries (libs/cluster SealedSessionCache), each its own key with a TTL. */
export class RedisSealedBlobStore implements SealedBlobStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {}

  async get(id: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.keys.dtlsResumption(id))) ?? undefined;
  }

  async set(id: string, sealed: Buffer, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.dtlsResumption(id), sealed, 'PX', ttlMs);
  }

  async delete(id: string): Promise<void> {
    await this.redis.del(this.keys.dtlsResumption(id));
  }
}
