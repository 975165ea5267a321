// Issue 16 item 1: a simulated client bootstraps over NoSec and over DTLS PSK with real UDP, receives its LwM2M
// Server account, and registers with the LwM2M server using exactly the PSK the bootstrap wrote; another PSK
// is refused. Also: unknown endpoints (4.00), the default configuration, Bootstrap-Read/Discover, deletes,
// failures with their step, a stranger's flood, and Bootstrap-Pack.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, formatCode } from '@lwm2m/coap';
import { ContentFormat, defaultObjectModelRegistry, getCompositeCodec } from '@lwm2m/lwm2m';
import type { StoredEvent } from '@lwm2m/server';
import { UdpTransport } from '@lwm2m/udp';
import { BootstrapError } from '@lwm2m/simulator';
import { type BootstrapConfig, type BootstrapSessionStore, DEFAULT_CONFIG } from '../src';
import {
  bootstrapClient,
  type BootstrapSide,
  InMemoryBootstrapConfigStore,
  InMemoryBootstrapSessionStore,
  type LwM2mSide,
  registerAsBootstrapped,
  startBootstrapServer,
  startLwm2mServer,
} from './world';

let lwm2m: LwM2mSide;
let bs: BootstrapSide;
const configs = new InMemoryBootstrapConfigStore();
const sessions = new InMemoryBootstrapSessionStore();

beforeAll(async () => {
  lwm2m = await startLwm2mServer();
  bs = await startBootstrapServer({
    configs,
    sessions,
    credentials: lwm2m.stores.credentials,
    events: lwm2m.stores.events,
  });
});

afterAll(async () => {
  await bs?.running.close();
  await lwm2m?.close();
});

const account = (over: Partial<BootstrapConfig['servers'][0]> = {}): BootstrapConfig['servers'][0] => ({
  shortServerId: 1,
  uri: `coaps://127.0.0.1:${lwm2m.coapsPort}`,
  security: 'psk',
  lifetime: 60,
  ...over,
});

async function eventsOf(endpoint: string): Promise<StoredEvent[]> {
  return (await lwm2m.stores.events.recent(1000, endpoint)).filter((e) => e.type.startsWith('bootstrap'));
}

async function registered(endpoint: string): Promise<boolean> {
  return (await lwm2m.stores.registrations.getByEndpoint(endpoint)) !== undefined;
}

describe('client-initiated bootstrap', () => {
  it('over NoSec: the client gets a generated PSK, and the LwM2M server accepts exactly that PSK', async () => {
    await configs.put('bs-nosec', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-nosec', [bs.port]);
    try {
      const outcome = await client.run();
      expect(client.operations[0]).toBe('DELETE /');
      expect(client.operations).toContain('GET /');
      expect(client.operations).toContain('PUT /0/1');
      expect(client.operations).toContain('PUT /1/0');
      expect(client.operations.at(-1)).toBe('POST /bs');
      const s = outcome.servers[0]!;
      expect(s.securityMode).toBe(0);
      expect(s.psk?.identity).toBe('bs-nosec');
      expect(s.psk?.key.length).toBe(16);
      expect(s.lifetime).toBe(60);
      // The key the device got is the endpoint's LwM2M credential now.
      expect(await lwm2m.stores.credentials.pskByIdentity('bs-nosec')).toEqual({
        endpoint: 'bs-nosec',
        key: s.psk!.key,
      });

      // Abuse: the same identity with another key does not get in.
      const impostor = await registerAsBootstrapped('bs-nosec', client, {
        identity: 'bs-nosec',
        key: randomBytes(16),
      });
      await expect(impostor.start()).rejects.toThrow();
      await impostor.stop();
      expect(await registered('bs-nosec')).toBe(false);

      const dev = await registerAsBootstrapped('bs-nosec', client);
      await dev.start();
      try {
        expect(await registered('bs-nosec')).toBe(true);
        expect(dev.tree.getValue('/0/1/10')).toBe(1);
      } finally {
        await dev.stop();
      }
      const types = (await eventsOf('bs-nosec')).map((e) => e.type);
      expect(types).toEqual(['bootstrap-started', 'bootstrap-finished']);
      // No key material in any event.
      const all = JSON.stringify(await lwm2m.stores.events.recent(1000));
      expect(all).not.toContain(s.psk!.key.toString('hex'));
      expect(all).not.toContain(s.psk!.key.toString('base64'));
    } finally {
      await client.close();
    }
  });

  it('over DTLS PSK with the bootstrap credential; the same endpoint over NoSec is refused', async () => {
    const bootstrapKey = randomBytes(16);
    await configs.put('bs-dtls', {
      servers: [account()],
      bootstrapPsk: { identity: 'bs-dtls-factory', key: bootstrapKey },
    });
    const nosec = await bootstrapClient('bs-dtls', [bs.port]);
    await expect(nosec.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
    await nosec.close();
    // A DTLS client with another endpoint's bootstrap identity can't bootstrap as this one.
    await configs.put('bs-other', {
      servers: [account()],
      bootstrapPsk: { identity: 'bs-other-id', key: randomBytes(16) },
    });
    const wrong = await bootstrapClient('bs-other', [bs.securePort], {
      psk: { identity: 'bs-dtls-factory', key: bootstrapKey },
    });
    await expect(wrong.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
    await wrong.close();

    const client = await bootstrapClient('bs-dtls', [bs.securePort], {
      psk: { identity: 'bs-dtls-factory', key: bootstrapKey },
    });
    try {
      const outcome = await client.run();
      const dev = await registerAsBootstrapped('bs-dtls', client);
      await dev.start();
      expect(await registered('bs-dtls')).toBe(true);
      await dev.stop();
      expect(outcome.servers[0]!.psk!.key.equals(bootstrapKey)).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('an endpoint with no configuration and no default gets 4.00 Bad Request', async () => {
    const client = await bootstrapClient('nobody', [bs.port]);
    await expect(client.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
    await client.close();
    expect(client.operations).toEqual([]);
  });

  it('the default configuration provisions a new endpoint, never one that has a credential', async () => {
    await configs.put(DEFAULT_CONFIG, { servers: [account({ shortServerId: 7 })], allowNoSec: true });
    try {
      const client = await bootstrapClient('bs-new', [bs.port]);
      const outcome = await client.run();
      await client.close();
      expect(outcome.servers[0]!.shortServerId).toBe(7);
      expect((await lwm2m.stores.credentials.get('bs-new'))?.type).toBe('psk');
      // Abuse: a stranger naming an endpoint that already holds a credential gets nothing.
      await lwm2m.stores.credentials.put('bs-victim', {
        type: 'psk',
        identity: 'victim',
        key: randomBytes(16),
      });
      const thief = await bootstrapClient('bs-victim', [bs.port]);
      await expect(thief.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
      await thief.close();
      expect((await lwm2m.stores.credentials.get('bs-victim')) as unknown).toEqual({
        type: 'psk',
        identity: 'victim',
      });
    } finally {
      await configs.remove(DEFAULT_CONFIG);
    }
  });

  it('Bootstrap-Read and -Discover: results kept with the session; configured deletes are sent', async () => {
    await configs.put('bs-read', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-read', [bs.port]);
    try {
      await client.run();
      // A second bootstrap reads /1, deletes the first account and writes another.
      await configs.put('bs-read', {
        servers: [account({ shortServerId: 2, lifetime: 120 })],
        allowNoSec: true,
        read: ['/1'],
        delete: ['/0/1', '/1/0'],
      });
      const outcome = await client.run();
      await waitFor(async () => (await sessions.get('bs-read'))?.state === 'finished', 5000);
      expect(client.operations).toContain('GET /1');
      expect(client.operations).toContain('DELETE /0/1');
      expect(outcome.servers.map((s) => s.shortServerId)).toEqual([2]);
      const session = await sessions.get('bs-read');
      expect(session?.state).toBe('finished');
      expect(session?.discovered).toContain('</0/0>');
      expect(session?.read?.['/1']).toContainEqual(expect.objectContaining({ path: '/1/0/0', value: 1 }));
    } finally {
      await client.close();
    }
  });

  it('a client that stops answering fails the bootstrap at that step (bootstrap-failed with the step)', async () => {
    await configs.put('bs-mute', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-mute', [bs.port], undefined, {
      silentAfter: 2,
      timeoutMs: 1500,
      retryAfterMs: 60_000,
    });
    await expect(client.run()).rejects.toBeInstanceOf(BootstrapError);
    await client.close();
    await waitFor(async () => (await eventsOf('bs-mute')).some((e) => e.type === 'bootstrap-failed'), 10_000);
    const failed = (await eventsOf('bs-mute')).find((e) => e.type === 'bootstrap-failed');
    expect(failed).toMatchObject({ type: 'bootstrap-failed', step: 'write /0/1' });
    expect((await sessions.get('bs-mute'))?.state).toBe('failed');
  });

  it('Bootstrap-Finish answered 4.06 Not Acceptable fails the bootstrap at step "finish"', async () => {
    await configs.put('bs-406', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-406', [bs.port], undefined, {
      finishCode: CoapCode.NOT_ACCEPTABLE,
    });
    await expect(client.run()).rejects.toMatchObject({ code: CoapCode.NOT_ACCEPTABLE });
    await client.close();
    await waitFor(async () => (await sessions.get('bs-406'))?.state === 'failed', 5000);
    const failed = (await eventsOf('bs-406')).find((e) => e.type === 'bootstrap-failed');
    expect(failed).toMatchObject({ step: 'finish' });
    expect((failed as { error: string }).error).toContain('4.06');
  });

  it('a released session whose configuration changed meanwhile starts over instead of resuming', async () => {
    await sessions.claim(
      {
        id: 'stale',
        endpoint: 'bs-changed',
        state: 'running',
        node: 'gone',
        leaseUntil: 0,
        step: 3,
        startedAt: 0,
        updatedAt: 0,
        contentFormat: 11542,
        usesDefault: false,
        keys: {},
        instances: { security: { 1: 1 }, server: { 1: 0 }, acl: [] },
      },
      Date.now(),
    );
    await configs.put('bs-changed', { servers: [account({ shortServerId: 9 })], allowNoSec: true });
    const client = await bootstrapClient('bs-changed', [bs.port]);
    try {
      const outcome = await client.run();
      expect(outcome.servers.map((s) => s.shortServerId)).toEqual([9]);
      expect(client.operations[0]).toBe('DELETE /');
      const started = (await eventsOf('bs-changed')).find((e) => e.type === 'bootstrap-started');
      expect(started).not.toHaveProperty('resumedAt');
    } finally {
      await client.close();
    }
  });

  it('a flood of Bootstrap-Requests from a stranger gets 4.29 and does not stop a real device', async () => {
    await configs.put('bs-real', { servers: [account()], allowNoSec: true });
    const stranger = new CoapEndpoint({
      transport: await UdpTransport.bind({ address: '127.0.0.2', port: 0 }),
    });
    const codes = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        stranger
          .request(
            { address: '127.0.0.1', port: bs.port },
            { code: CoapCode.POST, path: ['bs'], query: [`ep=x${i}`] },
            { timeout: 5000 },
          )
          .then((r) => formatCode(r.code)),
      ),
    );
    await stranger.close();
    expect(codes.filter((c) => c === '4.29').length).toBeGreaterThanOrEqual(80);
    const client = await bootstrapClient('bs-real', [bs.port]);
    try {
      const outcome = await client.run();
      expect(outcome.servers).toHaveLength(1);
    } finally {
      await client.close();
    }
    expect(bs.running.server.counters.rateLimited).toBeGreaterThanOrEqual(80);
  });

  it('garbage on the bootstrap port gets answers or silence, never a crash', async () => {
    const sock = createSocket('udp4');
    for (let i = 0; i < 200; i++) sock.send(randomBytes(1 + (i % 60)), bs.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    await configs.put('bs-after', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-after', [bs.port]);
    await expect(client.run()).resolves.toBeDefined();
    await client.close();
  });
});

describe('Bootstrap-Pack-Request (1.2)', () => {
  it('GET /bspack answers 2.05 with the accounts in SenML CBOR, and stores the credential written', async () => {
    await configs.put('bs-pack', { servers: [account()], allowNoSec: true });
    const ep = new CoapEndpoint({ transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }) });
    try {
      const res = await ep.request(
        { address: '127.0.0.1', port: bs.port },
        { code: CoapCode.GET, path: ['bspack'], query: ['ep=bs-pack'], accept: ContentFormat.SENML_CBOR },
      );
      expect(formatCode(res.code)).toBe('2.05');
      expect(res.contentFormat).toBe(ContentFormat.SENML_CBOR);
      const nodes = getCompositeCodec(ContentFormat.SENML_CBOR)!.decodeComposite(
        res.payload,
        defaultObjectModelRegistry(),
      );
      const flat = JSON.stringify(nodes.map((n) => n.path.toString()));
      expect(flat).toContain('/0/1/5');
      expect(flat).toContain('/1/0/1');
      const sec = nodes.find((n) => n.path.toString() === '/0/1/5')!.node as { value: Buffer };
      expect(
        (await lwm2m.stores.credentials.pskByIdentity('bs-pack'))?.key.equals(Buffer.from(sec.value)),
      ).toBe(true);
      const types = (await eventsOf('bs-pack')).map((e) => e.type);
      expect(types).toEqual(['bootstrap-started', 'bootstrap-finished']);
    } finally {
      await ep.close();
    }
  });
});

describe('a session continued by another Bootstrap-Server', () => {
  it('resumes at the step reached, with the same keys, when the first node stops mid-sequence', async () => {
    const b = await startBootstrapServer({
      configs,
      sessions,
      credentials: lwm2m.stores.credentials,
      events: lwm2m.stores.events,
      nodeId: 'bs-2',
    });
    await configs.put('bs-move', { servers: [account()], allowNoSec: true });
    const client = await bootstrapClient('bs-move', [bs.port, b.port], undefined, {
      retryAfterMs: 300,
      answerDelayMs: 100,
    });
    try {
      const running = client.run();
      await waitFor(async () => client.operations.length >= 2, 5000);
      // The first node stops: its session is released after the step in flight.
      const first = bs.running;
      await first.close();
      const outcome = await running;
      expect(client.operations.filter((o) => o === 'DELETE /')).toHaveLength(1);
      expect(client.operations.at(-1)).toBe('POST /bs');
      const started = (await eventsOf('bs-move')).filter((e) => e.type === 'bootstrap-started');
      expect(started).toHaveLength(2);
      expect(started[1]).toMatchObject({ node: 'bs-2' });
      expect((started[1] as { resumedAt?: string }).resumedAt).toBeDefined();
      const dev = await registerAsBootstrapped('bs-move', client);
      await dev.start();
      expect(await registered('bs-move')).toBe(true);
      await dev.stop();
      expect(outcome.servers).toHaveLength(1);
    } finally {
      await client.close();
      await b.running.close();
      // Later tests (none) would need the first node again.
      bs = await startBootstrapServer({
        configs,
        sessions,
        credentials: lwm2m.stores.credentials,
        events: lwm2m.stores.events,
      });
    }
  });
});

describe('the session lease', () => {
  it('a node that can no longer renew its lease stops at once; another continues only after the lease', async () => {
    const shared = new InMemoryBootstrapSessionStore();
    let cut = false;
    // Node A's view of the shared store, which becomes unreachable (a partition, a dying process).
    const partitioned: BootstrapSessionStore = {
      get: (ep) => shared.get(ep),
      claim: (s, now) => (cut ? Promise.reject(new Error('unreachable')) : shared.claim(s, now)),
      save: (s) => (cut ? Promise.reject(new Error('unreachable')) : shared.save(s)),
    };
    const side = (nodeId: string, sessions: BootstrapSessionStore) =>
      startBootstrapServer({
        configs,
        sessions,
        credentials: lwm2m.stores.credentials,
        events: lwm2m.stores.events,
        nodeId,
        extra: { leaseMs: 600 },
      });
    const a = await side('lease-a', partitioned);
    const b = await side('lease-b', shared);
    await configs.put('bs-lease', { servers: [account()], allowNoSec: true });
    // After its first Bootstrap-Request the client reaches B only (a load balancer that dropped A).
    const client = await bootstrapClient('bs-lease', [a.port, ...Array<number>(50).fill(b.port)], undefined, {
      retryAfterMs: 200,
      answerDelayMs: 150,
    });
    try {
      const running = client.run();
      await waitFor(() => client.operations.length >= 2, 5000);
      const held = (await shared.get('bs-lease'))!;
      expect(held.node).toBe('lease-a');
      cut = true;
      let stoppedAt = 0;
      let takenAt = 0;
      while (takenAt === 0) {
        const now = Date.now();
        if (stoppedAt === 0 && a.running.server.activeSessions === 0) stoppedAt = now;
        if ((await shared.get('bs-lease'))?.node === 'lease-b') takenAt = now;
        if (now - held.startedAt > 10_000) throw new Error('never taken over');
        await new Promise((r) => setTimeout(r, 10));
      }
      const outcome = await running;
      // A gave up driving before its lease ran out; B claimed only after it had.
      expect(stoppedAt).toBeGreaterThan(0);
      expect(stoppedAt).toBeLessThan(held.leaseUntil);
      expect(takenAt).toBeGreaterThanOrEqual(held.leaseUntil);
      expect(outcome.servers[0]!.lifetime).toBe(60);
      const started = (await eventsOf('bs-lease')).filter((e) => e.type === 'bootstrap-started');
      expect(started.map((e) => (e as { node?: string }).node)).toEqual(['lease-a', 'lease-b']);
      const dev = await registerAsBootstrapped('bs-lease', client);
      await dev.start();
      expect(await registered('bs-lease')).toBe(true);
      await dev.stop();
      expect(b.running.server.counters).toMatchObject({ resumed: 1, finished: 1 });
    } finally {
      await client.close();
      await a.running.close();
      await b.running.close();
    }
  });

  it('a client slower than the lease keeps one driver: the lease is renewed while it answers, so B never claims', async () => {
    const shared = new InMemoryBootstrapSessionStore();
    const side = (nodeId: string) =>
      startBootstrapServer({
        configs,
        sessions: shared,
        credentials: lwm2m.stores.credentials,
        events: lwm2m.stores.events,
        nodeId,
        extra: { leaseMs: 300 },
      });
    const a = await side('slow-a');
    const b = await side('slow-b');
    await configs.put('bs-slow', { servers: [account()], allowNoSec: true });
    // Each answer takes longer than the lease; meanwhile the impatient client asks B again and again.
    const client = await bootstrapClient('bs-slow', [a.port, ...Array<number>(50).fill(b.port)], undefined, {
      retryAfterMs: 250,
      answerDelayMs: 700,
    });
    try {
      await client.run();
      expect(client.operations.filter((o) => o === 'DELETE /')).toHaveLength(1);
      expect(b.running.server.counters).toMatchObject({ started: 0, resumed: 0 });
      expect(b.running.server.counters.requests).toBeGreaterThan(0);
      const types = (await eventsOf('bs-slow')).map((e) => e.type);
      expect(types).toEqual(['bootstrap-started', 'bootstrap-finished']);
    } finally {
      await client.close();
      await a.running.close();
      await b.running.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
