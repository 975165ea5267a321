// Lua scripts of the registry. Each touches one hash slot (see keys.ts), so each is atomic on Redis Cluster.
// Records are JSON blobs that Lua never re-encodes (cjson would turn [] into {} and round big numbers).
import type { RedisClient } from './redis-client';

/** KEYS: reg obs values seen. ARGV: id exp json. Replaces the endpoint's record; drops its observations, values and presence. */
const REGISTER = `
local prev = redis.call('HMGET', KEYS[1], 'json', 'gen')
local obs = redis.call('HVALS', KEYS[2])
local t = redis.call('TIME')
local gen = tonumber(t[1]) * 1000000 + tonumber(t[2])
if prev[2] and tonumber(prev[2]) >= gen then gen = tonumber(prev[2]) + 1 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'exp', ARGV[2], 'v', 1, 'gen', string.format('%.0f', gen), 'json', ARGV[3])
return {prev[1], obs, string.format('%.0f', gen)}
`;

/** KEYS: reg obs values seen. ARGV: id. Removes the record if it still is registration `id`. */
const DEREGISTER = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return false end
local json = redis.call('HGET', KEYS[1], 'json')
local obs = redis.call('HVALS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {json, obs}
`;

/**
 * KEYS: reg obs values seen. ARGV: now. The exactly-once decision of lifetime expiry: {0} no record,
 * {1, id, exp, gen} not expired (the index was early), {2, json, obs} claimed and removed.
 */
const CLAIM = `
local f = redis.call('HMGET', KEYS[1], 'id', 'exp', 'gen')
if not f[1] then return {0} end
if tonumber(f[2]) > tonumber(ARGV[1]) then return {1, f[1], f[2], f[3]} end
local json = redis.call('HGET', KEYS[1], 'json')
local obs = redis.call('HVALS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {2, json, obs}
`;

/** KEYS: reg. ARGV: id v json exp. Compare-and-set: -1 other registration, 0 version moved on, 1 written. */
const CAS = `
local f = redis.call('HMGET', KEYS[1], 'id', 'v')
if f[1] ~= ARGV[1] then return -1 end
if f[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[2]) + 1, 'json', ARGV[3], 'exp', ARGV[4])
return 1
`;

/**
 * KEYS: reg seen. ARGV: id t address port peerKey node awakeWindowMs. Records a sighting while the record is
 * registration `id`: {0} when it is gone or replaced (nothing written), {1} recorded, {2, silentMs} recorded
 * and it woke a sleeping queue-mode client (registration.ts wokeBy: silent past the window, or asleepAt
 * since last seen, against every node's sightings). An older sighting than the stored one is not written.
 * The record's JSON is only pattern-matched for three top-level numbers, never decoded.
 */
const PRESENCE = `
local f = redis.call('HMGET', KEYS[1], 'id', 'json')
if f[1] ~= ARGV[1] then return {0} end
local at = tonumber(ARGV[2])
local seen = tonumber(string.match(f[2], '"lastSeen":(%d+)') or '0')
local t = tonumber(redis.call('HGET', KEYS[2], 't') or '0')
if t > seen then seen = t end
local res = {1}
if at > seen and string.find(f[2], '"queueMode":true', 1, true) then
  local asleep = tonumber(string.match(f[2], '"asleepAt":(%d+)') or '-1')
  if (asleep >= seen and at > asleep) or at - seen > tonumber(ARGV[7]) then res = {2, at - seen} end
end
if t < at then
  redis.call('HSET', KEYS[2], 'id', ARGV[1], 't', ARGV[2], 'a', ARGV[3], 'p', ARGV[4], 'k', ARGV[5], 'n', ARGV[6])
end
return res
`;

/** KEYS: reg seen. {json, id, t, address, port, peerKey, node} of the record and its presence (one round trip). */
const READ = `
local json = redis.call('HGET', KEYS[1], 'json')
if not json then return false end
local p = redis.call('HMGET', KEYS[2], 'id', 't', 'a', 'p', 'k', 'n')
return {json, p[1], p[2], p[3], p[4], p[5], p[6]}
`;

// Drops index entries of cancelled observations: ARGV pairs (observationId, token) from position `from`.
const DROP_OBS = (from: number) => `
for i = ${from}, #ARGV, 2 do
  redis.call('HDEL', KEYS[5], ARGV[i])
  if redis.call('HGET', KEYS[6], ARGV[i + 1]) == ARGV[i] then redis.call('HDEL', KEYS[6], ARGV[i + 1]) end
end
`;

/**
 * KEYS: regid epreg endpoints expiry obsid obstoken. ARGV: endpoint id exp gen [obsId token]...
 * Points the indexes at registration `id` unless a newer registration (higher gen) owns them. Idempotent.
 */
const INDEX_SET = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local written = 0
local newer = false
if cur then
  local g, i = string.match(cur, '^(%d+):(.*)$')
  if i ~= ARGV[2] then
    if tonumber(g) > tonumber(ARGV[4]) then newer = true else redis.call('HDEL', KEYS[1], i) end
  end
end
if not newer then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. ':' .. ARGV[2])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  written = 1
end
${DROP_OBS(5)}
return written
`;

/**
 * KEYS: regid epreg endpoints expiry obsid obstoken. ARGV: endpoint id [obsId token]...
 * Compare-and-delete: the endpoint's entries go only while they still belong to registration `id`.
 */
const INDEX_REMOVE = `
redis.call('HDEL', KEYS[1], ARGV[2])
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local g, i = string.match(cur, '^(%d+):(.*)$')
  if i == ARGV[2] then
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('ZREM', KEYS[3], ARGV[1])
    redis.call('ZREM', KEYS[4], ARGV[1])
  end
end
${DROP_OBS(3)}
return 1
`;

/** KEYS: expiry. ARGV: endpoint now. Drops an expiry entry left by a record that is gone (still due only). */
const EXPIRY_DROP = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`;

/** KEYS: obs. ARGV: id. Removes and returns one observation. */
const OBS_REMOVE = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if json then redis.call('HDEL', KEYS[1], ARGV[1]) end
return json
`;

/** KEYS: obsid obstoken. ARGV: id token endpoint. */
const OBS_INDEX_ADD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1
`;

/** KEYS: obsid obstoken. ARGV: id token. */
const OBS_INDEX_DROP = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
`;

// Security credentials (keys.ts slot {sec}). KEYS: cred psk rpk x509 in every script; a record is JSON
// {t, ix, ...} where t names the index hash and ix the field in it.
const SEC_INDEXES = `local idx = {psk = KEYS[2], rpk = KEYS[3], x509 = KEYS[4]}`;

/**
 * ARGV: endpoint type ix json. {0, holder} when another endpoint holds ix; else {1, previous json or nil}
 * after replacing the record and moving the index entry.
 */
const SEC_PUT = `
${SEC_INDEXES}
local holder = redis.call('HGET', idx[ARGV[2]], ARGV[3])
if holder and holder ~= ARGV[1] then return {0, holder} end
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then
  local p = cjson.decode(prev)
  if redis.call('HGET', idx[p.t], p.ix) == ARGV[1] then redis.call('HDEL', idx[p.t], p.ix) end
end
redis.call('HSET', idx[ARGV[2]], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return {1, prev}
`;

/** ARGV: endpoint. Removes the record and its index entry; returns the record or nil. */
const SEC_REMOVE = `
${SEC_INDEXES}
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return false end
local p = cjson.decode(prev)
if redis.call('HGET', idx[p.t], p.ix) == ARGV[1] then redis.call('HDEL', idx[p.t], p.ix) end
redis.call('HDEL', KEYS[1], ARGV[1])
return prev
`;

/** KEYS: cred index. ARGV: ix. {endpoint, record json} of the index entry, or nil. */
const SEC_LOOKUP = `
local ep = redis.call('HGET', KEYS[2], ARGV[1])
if not ep then return false end
return {ep, redis.call('HGET', KEYS[1], ep)}
`;

/** KEYS: models hash, revision. ARGV: field, json, replace (1/0). 1 when written (revision bumped), else 0. */
const MODEL_PUT = `
if ARGV[3] ~= '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
`;

const SCRIPTS = {
  lwm2mRegister: { numberOfKeys: 4, lua: REGISTER },
  lwm2mDeregister: { numberOfKeys: 4, lua: DEREGISTER },
  lwm2mClaim: { numberOfKeys: 4, lua: CLAIM },
  lwm2mPresence: { numberOfKeys: 2, lua: PRESENCE },
  lwm2mRead: { numberOfKeys: 2, lua: READ },
  lwm2mCas: { numberOfKeys: 1, lua: CAS },
  lwm2mIndexSet: { numberOfKeys: 6, lua: INDEX_SET },
  lwm2mIndexRemove: { numberOfKeys: 6, lua: INDEX_REMOVE },
  lwm2mExpiryDrop: { numberOfKeys: 1, lua: EXPIRY_DROP },
  lwm2mObsRemove: { numberOfKeys: 1, lua: OBS_REMOVE },
  lwm2mObsIndexAdd: { numberOfKeys: 2, lua: OBS_INDEX_ADD },
  lwm2mObsIndexDrop: { numberOfKeys: 2, lua: OBS_INDEX_DROP },
  lwm2mSecPut: { numberOfKeys: 4, lua: SEC_PUT },
  lwm2mSecRemove: { numberOfKeys: 4, lua: SEC_REMOVE },
  lwm2mSecLookup: { numberOfKeys: 2, lua: SEC_LOOKUP },
  lwm2mModelPut: { numberOfKeys: 2, lua: MODEL_PUT },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

type ScriptFn = (...keysAndArgs: Array<string | number>) => Promise<unknown>;

/** Defines the scripts on a connection (EVALSHA with EVAL fallback) and calls them by name. */
export class RegistryScripts {
  constructor(private readonly redis: RedisClient) {
    for (const [name, def] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, def);
    }
  }

  run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    const fn = (this.redis as unknown as Record<ScriptName, ScriptFn>)[name];
    return fn.call(this.redis, ...keys, ...args);
  }
}
