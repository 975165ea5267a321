// A DTLS session moves between nodes through Redis without a handshake, and no write sequence number (the
// AES-CCM nonce's explicit part, RFC 6655 section 3) is ever used twice: the owner never writes past its
// lease, and a node that takes the session over starts where the lease ended.
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsClient, type DtlsPeer, DtlsServer } from '@lwm2m/dtls';
import {
  cidGenerator,
  ClusterMembership,
  deriveClusterKeys,
  SealedSessionCache,
  SessionKeeper,
} from '@lwm2m/cluster';
import {
  createRedisStores,
  type LocalRedis,
  RedisMembershipStore,
  type RedisStores,
  startLocalRedis,
} from '@lwm2m/registry';
import { UdpTransport } from '@lwm2m/udp';

const KEY = Buffer.from('takeover-psk-key');
const keys = deriveClusterKeys('takeover-test-cluster-key');

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

async function node(id: number) {
  const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  const dtls = new DtlsServer({
    transport: udp,
    psk: (i) => (i.toString() === 'dev' ? KEY : undefined),
    cidGenerator: cidGenerator(id),
    sessionCache: new SealedSessionCache(stores.resumption, keys.atRest),
  });
  const membership = new ClusterMembership({
    store: new RedisMembershipStore(stores.redis, stores.keys),
    id,
    linkHost: '127.0.0.1',
    linkPort: 1,
    sessions: () => dtls.counters.sessions,
    ttlMs: 600,
    heartbeatMs: 150,
  });
  await membership.start();
  const keeper = new SessionKeeper({ dtls, store: stores.sessions, membership, keys, sequenceBlock: 64 });
  keeper.start();
  // Echo every datagram, as the CoAP layer answers.
  dtls.onDatagram((data, peer) => void dtls.send(Buffer.concat([Buffer.from('echo '), data]), peer));
  return { udp, dtls, membership, keeper };
}

async function client(): Promise<DtlsClient> {
  return new DtlsClient({
    transport: await UdpTransport.bind({ port: 0 }),
    psk: { identity: 'dev', key: KEY },
  });
}

async function stopNode(n: Awaited<ReturnType<typeof node>>): Promise<void> {
  await n.keeper.stop();
  await n.membership.stop({ release: true });
  await n.dtls.close();
}

/** A UDP load balancer in miniature: one upstream socket per client, target switchable. */
async function relay(target: { port: number }) {
  const front: Socket = createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  const ups = new Map<string, Socket>();
  front.on('message', (msg, rinfo) => {
    const k = `${rinfo.address}:${rinfo.port}`;
    let up = ups.get(k);
    if (!up) {
      up = createSocket('udp4');
      up.bind(0, '127.0.0.1');
      up.on('message', (back) => front.send(back, rinfo.port, rinfo.address));
      ups.set(k, up);
    }
    up.send(msg, target.port, '127.0.0.1');
  });
  return {
    port: (front.address() as { port: number }).port,
    close() {
      for (const u of ups.values()) u.close();
      front.close();
    },
  };
}

describe('session takeover through Redis', () => {
  it('continues on another node after the owner dies, without a handshake and with no nonce reused', async () => {
    const a = await node(1);
    const b = await node(2);
    const target = { port: a.udp.address().port };
    const lb = await relay(target);
    const cli = await client();
    const server = { address: '127.0.0.1', port: lb.port };
    const replies: string[] = [];
    cli.onDatagram((d) => replies.push(d.toString()));
    try {
      // 100 request/response round trips: A writes past two lease blocks of 64, extending its lease in
      // Redis halfway through each (a burst of more than half a block within one Redis round trip would
      // find the lease exhausted: the default block is 100 000).
      for (let i = 0; i < 100; i++) {
        await cli.send(Buffer.from(`m${i}`), server);
        await expect.poll(() => replies.length, { timeout: 5000, interval: 1 }).toBe(i + 1);
      }
      const session = a.dtls.sessions()[0]!;
      const cid = session.cid!.toString('hex');
      expect(parseInt(cid.slice(2, 6), 16)).toBe(1); // the CID names node 1
      const usedByA = a.dtls.writeSequence(session.ref)!;
      const stored = await stores.redis.hgetall(stores.keys.dtlsSession(cid));
      expect(Number(stored.owner)).toBe(1);
      expect(Number(stored.seqEnd)).toBeGreaterThan(usedByA);
      expect(Number(stored.seqEnd)).toBeGreaterThanOrEqual(128);
      // Keys are sealed: nothing of the snapshot's JSON is readable in Redis.
      expect(stored.sealed).not.toContain('writeKey');

      // A crashes: no hand-over, its lease runs out.
      await a.membership.stop();
      await a.dtls.close({ notifyPeers: false });
      await expect.poll(() => b.membership.isAlive(1), { timeout: 3000 }).toBe(false);

      target.port = b.udp.address().port;
      expect(await b.keeper.route(cid)).toEqual({ kind: 'local' });
      expect(b.keeper.counters.sessionTakeovers).toBe(1);
      const first = b.dtls.writeSequence(session.ref)!;
      expect(first).toBeGreaterThanOrEqual(Number(stored.seqEnd));
      expect(await stores.sessions.owner(cid)).toBe(2);
      // The old owner can no longer extend its lease: it would drop the session.
      expect(await stores.sessions.extend(cid, 1, 64)).toBeUndefined();

      await cli.send(Buffer.from('after'), server);
      await expect.poll(() => replies.at(-1), { timeout: 5000 }).toBe('echo after');
      expect(cli.counters.handshakesCompleted).toBe(1);
      expect(b.dtls.counters.handshakesCompleted).toBe(0);
    } finally {
      lb.close();
      await cli.close();
      await stopNode(b);
    }
  });

  it('the same node id restarting (a single node after SIGKILL) takes its own sessions back above the old lease', async () => {
    const before = await node(6);
    const target = { port: before.udp.address().port };
    const lb = await relay(target);
    const cli = await client();
    const server = { address: '127.0.0.1', port: lb.port };
    const replies: string[] = [];
    cli.onDatagram((d) => replies.push(d.toString()));
    let after: Awaited<ReturnType<typeof node>> | undefined;
    try {
      for (let i = 0; i < 40; i++) {
        await cli.send(Buffer.from(`m${i}`), server);
        await expect.poll(() => replies.length, { timeout: 5000, interval: 1 }).toBe(i + 1);
      }
      const session = before.dtls.sessions()[0]!;
      const cid = session.cid!.toString('hex');
      const usedBefore = before.dtls.writeSequence(session.ref)!;
      // The process dies: no hand-over, its lease stays until it lapses, its sessions stay in Redis.
      await before.membership.stop();
      await before.dtls.close({ notifyPeers: false });
      const leaseEnd = Number((await stores.redis.hgetall(stores.keys.dtlsSession(cid))).seqEnd);
      expect(leaseEnd).toBeGreaterThan(usedBefore);

      // Started again under the same node id: it claims the id once the dead lease lapsed, then finds the
      // session still owned by "itself" and takes it over like any dead owner's, from the lease's end.
      after = await node(6);
      target.port = after.udp.address().port;
      expect(await after.keeper.route(cid)).toEqual({ kind: 'local' });
      expect(after.dtls.writeSequence(session.ref)!).toBeGreaterThanOrEqual(leaseEnd);
      expect(Number((await stores.redis.hgetall(stores.keys.dtlsSession(cid))).seqEnd)).toBe(leaseEnd + 64);
      await cli.send(Buffer.from('after'), server);
      await expect.poll(() => replies.at(-1), { timeout: 5000 }).toBe('echo after');
      expect(cli.counters.handshakesCompleted).toBe(1);
      expect(after.dtls.counters.handshakesCompleted).toBe(0);
    } finally {
      lb.close();
      await cli.close();
      if (after) await stopNode(after);
    }
  });

  it('refuses to write past the leased sequence numbers', async () => {
    const a = await node(3);
    const lb = await relay({ port: a.udp.address().port });
    const cli = await client();
    const server = { address: '127.0.0.1', port: lb.port };
    try {
      await cli.send(Buffer.from('hi'), server);
      await expect.poll(() => a.dtls.sessions().length).toBe(1);
      const key = a.dtls.sessions()[0]!.ref;
      const next = a.dtls.writeSequence(key)!;
      a.dtls.setWriteSequenceLimit(key, next + 2);
      const session = a.dtls.session(key)!;
      const send = () =>
        a.dtls.send(Buffer.from('x'), { address: '127.0.0.1', port: 1, session } as DtlsPeer);
      await send();
      await send();
      await expect(send()).rejects.toThrow(/lease exhausted/);
    } finally {
      lb.close();
      await cli.close();
      await stopNode(a);
    }
  });

  it('resumes a session by session id on another node (the sealed cache in Redis)', async () => {
    const a = await node(4);
    const b = await node(5);
    const target = { port: a.udp.address().port };
    const lb = await relay(target);
    const cli = await client();
    const server = { address: '127.0.0.1', port: lb.port };
    try {
      expect((await cli.connect(server)).resumed).toBe(false);
      cli.closeSession(server);
      target.port = b.udp.address().port;
      const again = await cli.connect(server);
      expect(again.resumed).toBe(true);
      await expect.poll(() => b.dtls.counters.handshakesResumed).toBe(1);
      // The master secret is sealed in Redis, never in the clear.
      const ids = await stores.redis.keys('*dtlsres*');
      expect(ids.length).toBeGreaterThan(0);
      const raw = await stores.redis.getBuffer(ids[0]!);
      expect(raw!.includes(Buffer.from('masterSecret'))).toBe(false);
    } finally {
      lb.close();
      await cli.close();
      for (const n of [a, b]) await stopNode(n);
    }
  });
});
