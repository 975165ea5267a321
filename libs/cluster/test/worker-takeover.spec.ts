// GATEWAY_WORKERS in cluster mode: a worker thread that dies is restarted under its index, and the sessions
// it held come back from Redis on their next record, as after a node restart (session-keeper.ts): no new
// handshake, writes resumed above the dead worker's lease. Real Redis, sockets and worker threads.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMembership, workerOfCid, workerOfDatagram } from '@lwm2m/cluster';
import { DtlsClient } from '@lwm2m/dtls';
import {
  createRedisStores,
  type LocalRedis,
  RedisMembershipStore,
  type RedisStores,
  startLocalRedis,
} from '@lwm2m/registry';
import { runWorkers, UdpTransport, type WorkerPool } from '@lwm2m/udp';

let redis: LocalRedis;
let stores: RedisStores;
beforeAll(async () => {
  redis = await startLocalRedis();
  stores = createRedisStores(redis.url);
});
afterAll(async () => {
  await stores.close();
  await redis.stop();
});

describe('a worker thread dies in cluster mode', () => {
  it('its restarted successor takes its DTLS sessions back from Redis without a handshake', async () => {
    // The node's lease is the main thread's, as the gateway process would hold it.
    const membership = new ClusterMembership({
      store: new RedisMembershipStore(stores.redis, stores.keys),
      id: 1,
      linkHost: '127.0.0.1',
      linkPort: 1,
      sessions: () => 0,
    });
    await membership.start();
    let pool: WorkerPool | undefined;
    const clients: DtlsClient[] = [];
    try {
      pool = await runWorkers({
        workers: 2,
        entry: join(__dirname, 'fixtures/keeper-worker.ts'),
        data: { redisUrl: redis.url },
        restartDelayMs: 50,
        ports: [
          {
            name: 'coaps',
            port: 0,
            route: (data, _peer, workers) => workerOfDatagram(data, 8, workers),
          },
        ],
      });
      await pool.ready();
      const server = pool.addresses.coaps!;
      const devices = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const client = new DtlsClient({
            transport: await UdpTransport.bind({ port: 0 }),
            psk: { identity: `device-${i}`, key: Buffer.from('worker-psk') },
            connectionId: true,
          });
          clients.push(client);
          const heard: string[] = [];
          client.onDatagram((d) => heard.push(d.toString()));
          const session = await client.connect(server);
          return { client, heard, owner: workerOfCid(session.peerCid!)!, sessionId: session.sessionId };
        }),
      );
      for (const [i, d] of devices.entries()) {
        await d.client.send(Buffer.from(`a${i}`), server);
        await expect.poll(() => d.heard, { timeout: 5000 }).toContain(`w${d.owner}:a${i}`);
      }
      // every session is in Redis, owned by node 1
      for (const d of devices)
        expect(await stores.sessions.owner(d.client.session(server)!.peerCid!.toString('hex'))).toBe(1);

      const victim = devices[0]!;
      const thread = pool.threadId(victim.owner);
      await victim.client.send(Buffer.from('crash'), server);
      await expect.poll(() => pool!.counters.restarts, { timeout: 5000 }).toBe(1);
      await expect.poll(() => pool!.dispatcher.isReady(victim.owner), { timeout: 5000 }).toBe(true);
      expect(pool.threadId(victim.owner)).not.toBe(thread);

      // Every device carries on with its session: those of the dead worker are taken back from Redis.
      for (const [i, d] of devices.entries()) {
        await d.client.send(Buffer.from(`b${i}`), server);
        await expect.poll(() => d.heard, { timeout: 5000 }).toContain(`w${d.owner}:b${i}`);
        expect(d.client.session(server)!.sessionId.equals(d.sessionId)).toBe(true);
      }
    } finally {
      for (const c of clients) await c.close();
      await pool?.close();
      await membership.stop({ release: true });
    }
  });
});
