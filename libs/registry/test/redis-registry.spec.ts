// Redis-only behaviour: key layout (Cluster hash slots), index repair, orphaned command cleanup.
import { randomBytes } from 'node:crypto';
import { createRedisStores, decodeRecord, type RedisStores, registryKeys } from '@lwm2m/registry';
import Redis from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeObservation, makeRegistration } from '../../server/test/contracts';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

/** The part of a key Redis Cluster hashes (Cluster spec, "Hash tags"). */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close <= open + 1 ? key : key.slice(open + 1, close);
}

let server: RedisHandle;
let stores: RedisStores;
let raw: Redis;
beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url);
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});
beforeEach(() => {
  stores = createRedisStores(server.url, {
    keyPrefix: `k${randomBytes(3).toString('hex')}:`,
    commands: { blockMs: 100, reclaimIdleMs: 150 },
  });
});
afterEach(async () => {
  await stores.close();
});

describe('registry key layout', () => {
  it('puts every key of one endpoint in one hash slot, even with braces in the name', () => {
    const keys = registryKeys('lwm2m:');
    for (const ep of ['urn:imei:490154203237518', 'a}b', '{x}', 'plain']) {
      const tags = new Set([keys.reg(ep), keys.obs(ep), keys.values(ep)].map(hashTag));
      expect(tags.size).toBe(1);
    }
    expect(keys.reg('urn:dev:1')).toBe('lwm2m:{ep:urn:dev:1}:reg');
  });

  it('puts every global index in one slot, apart from the endpoints', () => {
    const keys = registryKeys('lwm2m:');
    const idx = [
      keys.regIdIndex,
      keys.endpointRegIndex,
      keys.endpointsIndex,
      keys.expiryIndex,
      keys.obsIdIndex,
      keys.obsTokenIndex,
    ].map(hashTag);
    expect(new Set(idx)).toEqual(new Set(['idx']));
    expect(hashTag(keys.eventStream)).toBe('events');
    expect(hashTag(keys.commandStream)).toBe('cmd');
  });

  it('refuses a key prefix with braces (it would pin every key to one slot)', () => {
    expect(() => registryKeys('a{b}:')).toThrow(/braces/);
  });

  it('stores a registration as one string: a header of deadline, version, generation and id, then its body', async () => {
    const reg = makeRegistration('urn:layout:1');
    await stores.registrations.register(reg);
    const record = (await raw.get(stores.keys.reg(reg.endpoint)))!;
    const [header, body] = record.split('\n');
    const [exp, v, , seen, asleep, queue, id] = header!.split(' ');
    expect([Number(exp), v, Number(seen), asleep, queue, id]).toEqual([
      reg.expiresAt,
      '1',
      reg.lastSeen,
      '-1',
      '0',
      reg.registrationId,
    ]);
    // Each field once: not the endpoint (in the key), nor what the header holds.
    expect(body).not.toContain(reg.endpoint);
    expect(body).not.toContain(reg.registrationId);
    expect(decodeRecord(reg.endpoint, record).reg).toEqual(reg);
    expect(await raw.hget(stores.keys.regIdIndex, reg.registrationId)).toBe(reg.endpoint);
  });
});

describe('index repair', () => {
  it('never returns a registration through a stale id index entry', async () => {
    const reg = makeRegistration('urn:stale:1');
    await stores.registrations.register(reg);
    await raw.hset(stores.keys.regIdIndex, 'ghost', reg.endpoint);
    expect(await stores.registrations.getById('ghost')).toBeUndefined();
    expect(await stores.registrations.update('ghost', { lifetime: 1 })).toBeUndefined();
    expect(await stores.registrations.deregister('ghost')).toBeUndefined();
    expect(await stores.registrations.getById(reg.registrationId)).toEqual(reg);
  });

  it('skips endpoints whose record is gone when listing and claiming', async () => {
    const reg = makeRegistration('urn:stale:2', { expiresAt: 1 });
    await stores.registrations.register(reg);
    await raw.del(stores.keys.reg(reg.endpoint));
    expect((await stores.registrations.list({ limit: 10 })).items).toEqual([]);
    expect(await stores.registrations.claimExpired(Date.now(), 10)).toEqual([]);
    expect(await raw.zscore(stores.keys.expiryIndex, reg.endpoint)).toBeNull();
  });

  it('rebuilds lost index entries with reindex()', async () => {
    const reg = makeRegistration('urn:lost:1');
    await stores.registrations.register(reg);
    const k = stores.keys;
    await raw.del(k.regIdIndex, k.endpointRegIndex, k.endpointsIndex, k.expiryIndex);
    expect(await stores.registrations.getById(reg.registrationId)).toBeUndefined();
    expect(await stores.registrations.reindex()).toBe(1);
    expect(await stores.registrations.getById(reg.registrationId)).toEqual(reg);
    expect(await stores.registrations.nextExpiry()).toBe(reg.expiresAt);
    expect((await stores.registrations.list({ limit: 10 })).items).toEqual([reg]);
  });

  it('lets a newer registration keep the indexes when an older index step arrives late', async () => {
    const older = makeRegistration('urn:late:1');
    const newer = makeRegistration('urn:late:1');
    await stores.registrations.register(older);
    const olderGen = (await raw.get(stores.keys.reg(older.endpoint)))!.split(' ')[2];
    await stores.registrations.register(newer);
    // Replay the older registration's index step, as a slow node would.
    const k = stores.keys;
    const indexKeys = [
      k.regIdIndex,
      k.endpointRegIndex,
      k.endpointsIndex,
      k.expiryIndex,
      k.obsIdIndex,
      k.obsTokenIndex,
    ];
    const store = stores.registrations as unknown as {
      indexSet(ep: string, id: string, exp: number, gen: string): Promise<void>;
    };
    await store.indexSet(older.endpoint, older.registrationId, older.expiresAt, olderGen!);
    expect(await raw.hget(indexKeys[0]!, newer.registrationId)).toBe(newer.endpoint);
    expect(await stores.registrations.getById(newer.registrationId)).toEqual(newer);
    expect(await stores.registrations.getById(older.registrationId)).toBeUndefined();
  });

  it('cleans the token index of observations cancelled by re-registration', async () => {
    const reg = makeRegistration('urn:tok:1');
    await stores.registrations.register(reg);
    const obs = makeObservation(reg);
    await stores.observations.add(obs);
    await stores.registrations.register(makeRegistration('urn:tok:1'));
    expect(await raw.hget(stores.keys.obsTokenIndex, obs.token)).toBeNull();
    expect(await raw.hget(stores.keys.obsIdIndex, obs.id)).toBeNull();
  });
});

describe('command stream housekeeping', () => {
  it('acknowledges a command a dead gateway took, once its deadline passed, without running it', async () => {
    const k = stores.keys;
    await raw.xgroup('CREATE', k.commandStream, k.commandGroup, '$', 'MKSTREAM');
    const cmd = {
      id: 'orphan-1',
      endpoint: 'urn:cmd:1',
      op: 'read' as const,
      path: '/3/0/0',
      timeoutMs: 200,
      createdAt: Date.now(),
    };
    const executing = stores.commands.execute(cmd);
    // A gateway that takes the command and dies.
    let taken: unknown = null;
    for (let i = 0; i < 50 && !taken; i++) {
      taken = await raw.xreadgroup(
        'GROUP',
        k.commandGroup,
        'dead',
        'COUNT',
        1,
        'STREAMS',
        k.commandStream,
        '>',
      );
      if (!taken) await new Promise((r) => setTimeout(r, 10));
    }
    expect(taken).not.toBeNull();
    expect(await executing).toMatchObject({ id: 'orphan-1', status: 504 });

    let runs = 0;
    const stop = await stores.commands.serve(async (c) => {
      runs++;
      return { id: c.id, ok: true, status: 200 };
    });
    const deadline = Date.now() + 3000;
    let pending = 1;
    while (pending > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      pending = ((await raw.xpending(k.commandStream, k.commandGroup)) as [number])[0];
    }
    await stop();
    expect(pending).toBe(0);
    expect(runs).toBe(0);
    expect(await raw.xlen(k.commandStream)).toBe(0);
  });

  it('ends the blocked read at once on stop, also after a reconnect (CLIENT UNBLOCK with the current id)', async () => {
    const slow = createRedisStores(server.url, {
      keyPrefix: stores.keys.prefix,
      commands: { blockMs: 10_000 },
    });
    try {
      const stop = await slow.commands.serve(async (c) => ({ id: c.id, ok: true, status: 204 }));
      // Every client connection dropped: the read reconnects under a new client id.
      await raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const cmd = {
        id: 'k1',
        endpoint: 'e',
        op: 'read' as const,
        path: '/3/0/0',
        timeoutMs: 5000,
        createdAt: Date.now(),
      };
      expect(await stores.commands.execute(cmd)).toMatchObject({ id: 'k1', status: 204 });
      const started = Date.now();
      await stop();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await slow.close();
    }
  });
});
