// Redis Cluster (REDIS_CLUSTER_NODES): the shared contract suites, the gateway cluster's stores and the
// command bus on a real three-master cluster, where every key lives on the master owning its slot.
import { randomBytes } from 'node:crypto';
import {
  createRedisClient,
  createRedisStores,
  isCluster,
  redisClusterNodes,
  redisClusterOptions,
  redisOptions,
  type RedisStores,
} from '@lwm2m/registry';
import type { StoredSession } from '@lwm2m/cluster';
import type { DeviceCommand, UpdateAnnouncement } from '@lwm2m/server';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeAllStoreContracts, makeRegistration } from '../../server/test/contracts';
import { type RedisClusterHandle, startRedisCluster } from '../../../test/support/redis-cluster';
import { groupObserveKeys, RedisMulticastLeg, RedisTopicStore } from '../src/group-observations';

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const prefix = () => `c${randomBytes(4).toString('hex')}:`;

describe('Redis Cluster configuration (REDIS_CLUSTER_NODES)', () => {
  it('reads the seed nodes, and password, user and TLS from REDIS_URL', () => {
    expect(redisClusterNodes({ REDIS_CLUSTER_NODES: 'a.example:7000, b.example ,[::1]:7001' })).toEqual([
      { host: 'a.example', port: 7000 },
      { host: 'b.example', port: 6379 },
      { host: '::1', port: 7001 },
    ]);
    expect(redisClusterNodes({})).toBeUndefined();
    expect(redisClusterOptions('rediss://u:p%40ss@ignored:6379/0')).toEqual({
      redisOptions: { username: 'u', password: 'p@ss', tls: {} },
      scaleReads: 'master',
      enableReadyCheck: true,
    });
  });

  it('refuses what a Cluster cannot mean: another db, Sentinel too, single-node options', () => {
    expect(() => redisClusterOptions('redis://h:6379/2')).toThrow(/only db 0/);
    expect(() => redisClusterNodes({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2' })).toThrow(
      /not both/,
    );
    expect(() => redisClusterNodes({ REDIS_CLUSTER_NODES: 'a:1,,b:2' })).toThrow(/not host:port/);
    expect(() => redisOptions('redis://h:6379', { REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/createRedisClient/);
  });

  it('builds a Cluster client with REDIS_CLUSTER_NODES, a single one without', async () => {
    const c = createRedisClient(cluster.url, cluster.env);
    const single = createRedisClient('redis://127.0.0.1:1', {});
    single.on('error', () => undefined);
    try {
      expect(c).toBeInstanceOf(Cluster);
      expect(isCluster(c)).toBe(true);
      expect(isCluster(single)).toBe(false);
      await c.set('{cfg}:k', 'v');
      expect(await c.get('{cfg}:k')).toBe('v');
    } finally {
      single.disconnect();
      await c.quit();
    }
  });
});

// Each test gets its own key prefix on the shared cluster, and a second client (another node) on it.
describeAllStoreContracts('redis cluster', async () => {
  const options = {
    keyPrefix: prefix(),
    env: cluster.env,
    commands: { blockMs: 200 },
    events: { blockMs: 500 },
    credentials: { secretsKey: randomBytes(32) },
  };
  const node = createRedisStores(cluster.url, options);
  const other = createRedisStores(cluster.url, options);
  return {
    ...node,
    peer: other,
    async close() {
      await Promise.all([node.close(), other.close()]);
    },
  };
});

describe('registry on Redis Cluster', () => {
  let stores: RedisStores;
  beforeEach(() => {
    stores = createRedisStores(cluster.url, {
      keyPrefix: prefix(),
      env: cluster.env,
      commands: { blockMs: 10_000 },
    });
  });
  afterEach(async () => {
    await stores.close();
  });

  it('keeps Register, Update, De-register and values apart from their events (three slots: no one script)', async () => {
    const reg = makeRegistration('cl-events');
    const event = { type: 'registered' as const, endpoint: reg.endpoint, registration: reg };
    expect((await stores.registrations.register(reg, event)).eventId).toBeUndefined();
    const announce: UpdateAnnouncement = { event: (registration) => ({ ...event, registration }) };
    expect(await stores.registrations.update(reg.registrationId, { lifetime: 9 }, announce)).toBeDefined();
    expect(announce.appended).toBeUndefined();
    const v = [{ path: '/3/0/0', type: 'string' as const, value: 'x' }];
    expect(
      await stores.values.put(reg.endpoint, v, 1, {
        type: 'notification',
        endpoint: reg.endpoint,
        observationId: 'o',
        paths: [],
        values: v,
      }),
    ).toBeUndefined();
    const gone = {
      type: 'deregistered' as const,
      endpoint: reg.endpoint,
      registrationId: reg.registrationId,
      reason: 'device' as const,
    };
    expect((await stores.registrations.deregister(reg.registrationId, gone))?.eventId).toBeUndefined();
    expect(await stores.events.recent(10, reg.endpoint)).toEqual([]);
    expect(await stores.registrations.getById(reg.registrationId)).toBeUndefined();
  });

  it('is a Cluster whose data spreads over every master', async () => {
    expect(isCluster(stores.redis)).toBe(true);
    for (let i = 0; i < 30; i++) await stores.registrations.register(makeRegistration(`spread-${i}`));
    const c = stores.redis as Cluster;
    const perMaster = await Promise.all(c.nodes('master').map((n) => n.dbsize()));
    expect(perMaster).toHaveLength(3);
    for (const n of perMaster) expect(n).toBeGreaterThan(0);
  });

  it('reindex() scans every master', async () => {
    const eps = Array.from({ length: 20 }, (_, i) => `reidx-${i}`);
    for (const ep of eps) await stores.registrations.register(makeRegistration(ep));
    // Lose the index step of every registration (a crash between the two steps).
    const k = stores.keys;
    await stores.redis.del(k.regIdIndex, k.endpointRegIndex, k.endpointsIndex, k.expiryIndex);
    expect((await stores.registrations.list({ limit: 100 })).items).toHaveLength(0);
    expect(await stores.registrations.reindex()).toBe(eps.length);
    const listed = (await stores.registrations.list({ limit: 100 })).items.map((r) => r.endpoint);
    expect(listed.sort()).toEqual([...eps].sort());
  });

  it('leases node ids (one slot: MGET of the leases)', async () => {
    const m = stores.membership;
    const info = { name: 'gw-a', linkHost: '10.0.0.1', linkPort: 5690, sessions: 0, startedAt: Date.now() };
    const id = await m.claim(info, 5000);
    expect(id).toBe(1);
    const id2 = await stores.membership.claim({ ...info, name: 'gw-b', id: 7 }, 5000);
    expect(id2).toBe(7);
    expect(await m.renew({ ...info, id: 1, sessions: 3 }, 5000, m.token)).toBe(true);
    expect(await m.renew({ ...info, id: 1 }, 5000, 'someone-else')).toBe(false);
    const live = await m.live();
    expect(live.map((n) => [n.id, n.name, n.sessions])).toEqual([
      [1, 'gw-a', 3],
      [7, 'gw-b', 0],
    ]);
    await m.release(1, m.token);
    expect((await m.live()).map((n) => n.id)).toEqual([7]);
  });

  it('takes a DTLS session over by compare-and-set, extends and touches its lease', async () => {
    const s = stores.sessions;
    const session = (owner: number): StoredSession => ({
      sealed: Buffer.from([0, 1, 2, 0xff, 0x80]),
      owner,
      seqEnd: 1000,
      readTop: 41,
      address: '198.51.100.7',
      port: 40001,
      family: 'IPv4',
    });
    const cids = Array.from({ length: 12 }, (_, i) => `0100${i.toString(16).padStart(2, '0')}abcdef`);
    for (const cid of cids) await s.put(cid, session(1), 60_000);
    expect(await s.owner(cids[0]!)).toBe(1);

    // The CAS: only the expected owner is replaced, once.
    expect(await s.takeover(cids[0]!, 2, 3, 500)).toEqual({ kind: 'owned', owner: 1 });
    const taken = await s.takeover(cids[0]!, 1, 2, 500);
    expect(taken).toEqual({
      kind: 'taken',
      seqStart: 1000,
      session: { ...session(2), seqEnd: 1500 },
    });
    expect(await s.takeover(cids[0]!, 1, 3, 500)).toEqual({ kind: 'owned', owner: 2 });
    expect(await s.takeover('01ffffffffffffff', 1, 2, 500)).toEqual({ kind: 'missing' });

    expect(await s.extend(cids[0]!, 2, 500)).toBe(2000);
    expect(await s.extend(cids[0]!, 1, 500)).toBeUndefined();

    // One touch for sessions in many slots (on several masters): no cross-slot pipeline.
    await s.touch(
      cids.map((cid) => ({
        cid,
        owner: cid === cids[0] ? 2 : 1,
        readTop: 99,
        address: '203.0.113.9',
        port: 7,
      })),
      60_000,
    );
    const after = await s.takeover(cids[5]!, 1, 4, 10);
    expect(after).toMatchObject({ kind: 'taken', session: { readTop: 99, address: '203.0.113.9', port: 7 } });

    await s.remove(cids[1]!, 2); // not the owner: kept
    expect(await s.owner(cids[1]!)).toBe(1);
    await s.remove(cids[1]!, 1);
    expect(await s.owner(cids[1]!)).toBeUndefined();

    await stores.resumption.set('sid-1', Buffer.from('sealed'), 60_000);
    expect((await stores.resumption.get('sid-1'))?.toString()).toBe('sealed');
  });

  it('runs a command through the bus and wakes the blocked read at once on stop', async () => {
    const other = createRedisStores(cluster.url, {
      keyPrefix: stores.keys.prefix,
      env: cluster.env,
      commands: { blockMs: 10_000 },
    });
    try {
      const stopShared = await other.commands.serve(async (cmd) => ({ id: cmd.id, ok: true, status: 205 }));
      const stopNode = await other.commands.serveNode(3, async (cmd) => ({
        id: cmd.id,
        ok: true,
        status: 204,
      }));
      const cmd: DeviceCommand = {
        id: 'c1',
        endpoint: 'dev',
        op: 'read',
        path: '/3/0/0',
        timeoutMs: 3000,
        createdAt: Date.now(),
      };
      expect(await stores.commands.execute(cmd)).toEqual({ id: 'c1', ok: true, status: 205 });
      stores.commands.setRouter(async () => 3);
      expect(await stores.commands.execute({ ...cmd, id: 'c2' })).toEqual({
        id: 'c2',
        ok: true,
        status: 204,
      });
      // Both reads block for 10 s; CLIENT UNBLOCK on the masters owning {cmd} and {cmd:node:3} ends them now.
      const started = Date.now();
      await Promise.all([stopShared(), stopNode()]);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await other.close();
    }
  });

  it('carries the group-observer multicast leg over pub/sub and keeps its topics', async () => {
    const keys = groupObserveKeys(stores.keys.prefix);
    const topics = new RedisTopicStore(stores.redis, keys);
    const topic = { name: 't1', value: 1, contentFormat: 0, payload: 'MQ==', updatedAt: 5 };
    await topics.save(topic);
    expect(await topics.list()).toEqual([topic]);
    const leg = new RedisMulticastLeg(stores.redis, keys);
    try {
      const group = { address: '239.0.0.1', port: 5683 };
      const got = new Promise<{ data: Buffer; source: { address: string; port: number } }>((resolve) => {
        void leg
          .join(group, (data, source) => resolve({ data, source }))
          .then(() => leg.sender({ address: '10.1.2.3', port: 5683 }).send(Buffer.from([1, 2, 3]), group));
      });
      expect(await got).toEqual({
        data: Buffer.from([1, 2, 3]),
        source: { address: '10.1.2.3', port: 5683 },
      });
    } finally {
      await leg.close();
    }
  });
});
