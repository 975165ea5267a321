// The Bootstrap interface over OSCORE (RFC 8613; LwM2M TS 1.2 Core E.1: the client's Bootstrap-Server
// account, Security Mode 3 with /0/x/17 linking its /21 instance), end to end with the product: a bootstrap
// configuration carries the client's bootstrap OSCORE context, the gateway's bootstrap NoSec port verifies
// the protected Bootstrap-Request and protects its Bootstrap-Delete, -Discover, -Write and -Finish to the
// client, and the simulated client then registers with the PSK it was given. A NoSec request for that endpoint,
// a wrong Master Secret and a replayed request are refused: no session, counted.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, decodeMessage, encodeMessage, OptionNumber, type Peer } from '@lwm2m/coap';
import { InMemorySequenceLeaseStore } from '@lwm2m/oscore';
import { createRedisStores, RedisBootstrapSessionStore, type RedisStores } from '@lwm2m/registry';
import { BootstrapClient, createDtlsTransport, peerOfUri, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { BootstrapServerService } from '../../apps/gateway/src/bootstrap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

const secretsKey = randomBytes(32);
let server: TestServer;
let stores: RedisStores;
let sessions: RedisBootstrapSessionStore;

beforeAll(async () => {
  server = await startTestServer({
    secretsKey,
    gateway: { BOOTSTRAP_ENABLED: 'true', BOOTSTRAP_PORT: '0', BOOTSTRAP_SECURE_PORT: '0' },
  });
  stores = createRedisStores(server.redis.url, { credentials: { secretsKey } });
  sessions = new RedisBootstrapSessionStore(stores.redis, stores.keys, { secretsKey });
});

afterAll(async () => {
  await stores?.close();
  await server?.stop();
});

/** A series of the node's /metrics, 0 when it has none yet. */
async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** The client's bootstrap context from its side (its Sender ID is the kid the server finds it by). */
const context = {
  masterSecret: randomBytes(16),
  masterSalt: randomBytes(8),
  senderId: Buffer.from('b5', 'hex'),
  recipientId: Buffer.from('01', 'hex'),
};

describe('the bootstrap interface over OSCORE', () => {
  it('a configuration takes the bootstrap context (sealed, never answered); the default configuration refuses one', async () => {
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/bs-osc', {
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk', lifetime: 80 },
      ],
      // Ids from the server's side, as in the credentials API: recipientId is the client's kid.
      bootstrapOscore: {
        masterSecret: context.masterSecret.toString('hex'),
        masterSalt: context.masterSalt.toString('hex'),
        senderId: '01',
        recipientId: 'b5',
      },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ bootstrapOscore: { senderId: '01', recipientId: 'b5', keySet: true } });
    const got = await server.api('GET', '/api/v1/bootstrap/configs/bs-osc');
    const text = JSON.stringify(got.body);
    expect(text).not.toContain(context.masterSecret.toString('hex'));
    expect(text).not.toContain(context.masterSalt.toString('hex'));
    // Sealed at rest: Redis holds neither in clear.
    const raw = (await stores.redis.hget(stores.keys.bootstrapConfigs, 'bs-osc'))!;
    expect(raw).not.toContain(context.masterSecret.toString('hex'));
    expect(raw).not.toContain(context.masterSalt.toString('hex'));
    // Another endpoint can't take the same kid (the OSCORE lookup names one endpoint).
    const clash = await server.api('PUT', '/api/v1/bootstrap/configs/bs-osc-other', {
      servers: [{ shortServerId: 1, uri: `coap://127.0.0.1:${server.coapPort}`, security: 'nosec' }],
      bootstrapOscore: { masterSecret: randomBytes(16).toString('hex'), senderId: '01', recipientId: 'b5' },
    });
    expect(clash.status).toBe(409);
    const incomplete = await server.api('PUT', '/api/v1/bootstrap/configs/bs-osc-other', {
      servers: [{ shortServerId: 1, uri: `coap://127.0.0.1:${server.coapPort}`, security: 'nosec' }],
      bootstrapOscore: { masterSecret: randomBytes(16).toString('hex'), senderId: '01' },
    });
    expect(incomplete.status).toBe(400);
    const shared = await server.api('PUT', '/api/v1/bootstrap/configs/default', {
      servers: [{ shortServerId: 1, uri: `coap://127.0.0.1:${server.coapPort}`, security: 'nosec' }],
      bootstrapOscore: { masterSecret: randomBytes(16).toString('hex'), senderId: '01', recipientId: 'c1' },
    });
    expect(shared.status).toBe(400);
  });

  it('refused without the context: a NoSec Bootstrap-Request, and a wrong Master Secret (no session, counted)', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const refusedBefore = await metric('bootstrap_refused_total', 'reason="security"');
    const decryptBefore = await metric('bootstrap_oscore_requests_total', 'result="decrypt"');
    const attempt = async (address: string, oscore?: typeof context) => {
      const client = new BootstrapClient({
        endpoint: 'bs-osc',
        transport: await UdpTransport.bind({ address, port: 0 }),
        servers: [{ address: '127.0.0.1', port }],
        ...(oscore ? { oscore } : {}),
        timeoutMs: 5000,
        coapParams: { ackTimeout: 300, maxRetransmit: 2 },
      });
      try {
        return await client.run().then(
          () => 'bootstrapped',
          (err: unknown) => (err as { code?: number }).code ?? 'no answer',
        );
      } finally {
        await client.close();
      }
    };
    // Plain NoSec for an endpoint with a bootstrap OSCORE context: 4.00, as for one with a bootstrapPsk.
    expect(await attempt('127.0.0.41')).toBe(CoapCode.BAD_REQUEST);
    expect(await metric('bootstrap_refused_total', 'reason="security"')).toBe(refusedBefore + 1);
    // The right kid with a guessed Master Secret: RFC 8613 8.2 "Decryption failed" (4.00), before any
    // Bootstrap-Server logic.
    expect(await attempt('127.0.0.42', { ...context, masterSecret: randomBytes(16) })).toBe(
      CoapCode.BAD_REQUEST,
    );
    expect(await metric('bootstrap_oscore_requests_total', 'result="decrypt"')).toBe(decryptBefore + 1);
    expect(await metric('bootstrap_refused_total', 'reason="security"')).toBe(refusedBefore + 1);
    expect(await sessions.get('bs-osc')).toBeUndefined();
    const events = (await stores.events.recent(100, 'bs-osc')).filter((e) => e.type.startsWith('bootstrap'));
    expect(events).toEqual([]);
    expect((await server.api('GET', '/api/v1/devices/bs-osc/credentials')).status).toBe(404);
  });

  it('the client bootstraps over OSCORE, then registers with the PSK it was given; a replayed request is refused', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const okBefore = await metric('bootstrap_oscore_requests_total', 'result="ok"');
    // The client's datagrams, as an attacker on the path records them.
    const udp = await UdpTransport.bind({ address: '127.0.0.43', port: 0 });
    const sent: Buffer[] = [];
    const recording = {
      send: (data: Buffer, peer: Peer) => {
        sent.push(Buffer.from(data));
        return udp.send(data, peer);
      },
      onDatagram: (l: (data: Buffer, peer: Peer) => void) => udp.onDatagram(l),
      close: () => udp.close(),
    };
    // One lease store for the client's Sender Sequence Numbers: a later client with the context goes on above.
    const sequences = new InMemorySequenceLeaseStore();
    const client = new BootstrapClient({
      endpoint: 'bs-osc',
      transport: recording,
      servers: [{ address: '127.0.0.1', port }],
      oscore: { ...context, sequences },
      preferredContentFormat: 112,
      timeoutMs: 15_000,
    });
    let dev: SimulatedDevice | undefined;
    try {
      const outcome = await client.run();
      expect(client.operations).toContain('DELETE /');
      expect(client.operations.at(-1)).toBe('POST /bs');
      // Every operation of the server reached the client protected (its seam answers 4.01 to plain ones).
      expect(client.oscore!.seam.counters.requests.ok).toBe(client.operations.length);
      expect(client.oscore!.seam.counters.requests.unprotected ?? 0).toBe(0);
      // The Bootstrap-Server account and its /21/0 survived Delete "/" (TS 1.2 Core E.1, object 21).
      const bsAccount = outcome.objects[0]!.instances.get(0)!;
      expect(bsAccount.resources.get(1)).toMatchObject({ value: true });
      expect(outcome.objects.find((o) => o.id === 21)!.instances.has(0)).toBe(true);
      const account = outcome.servers[0]!;
      expect(account.securityMode).toBe(0);
      expect(account.lifetime).toBe(80);
      expect(await metric('bootstrap_oscore_requests_total', 'result="ok"')).toBeGreaterThan(okBefore);
      expect(await sessions.get('bs-osc')).toMatchObject({ state: 'finished' });

      // The PSK written (protected on the wire) is the LwM2M server's credential for the endpoint.
      dev = new SimulatedDevice({
        endpoint: 'bs-osc',
        transport: createDtlsTransport(await UdpTransport.bind({ port: 0 }), { psk: account.psk! }),
        server: peerOfUri(account.uri),
        lifetime: account.lifetime,
        updateAt: 0,
        requestTimeoutMs: 3000,
        bootstrapped: outcome.objects,
      });
      await dev.start();
      expect(await stores.registrations.getByEndpoint('bs-osc')).toMatchObject({ security: 'psk' });
      expect(JSON.stringify(await stores.events.recent(500))).not.toContain(
        context.masterSecret.toString('hex'),
      );

      // Replay: the recorded Bootstrap-Requests (OSCORE outer POST with the OSCORE option), sent again from
      // another address with fresh Message IDs (no CoAP deduplication applies): 4.01 "Replay detected".
      const requests = sent
        .map((d) => decodeMessage(d))
        .filter((m) => m.code === CoapCode.POST && m.options.some((o) => o.number === OptionNumber.OSCORE));
      expect(requests.length).toBeGreaterThanOrEqual(1);
      const replayBefore = await metric('bootstrap_oscore_requests_total', 'result="replay"');
      const startedBefore = await metric('bootstrap_sessions_started_total', 'kind="new"');
      const attacker = await UdpTransport.bind({ address: '127.0.0.44', port: 0 });
      const answers: Buffer[] = [];
      attacker.onDatagram((d) => answers.push(d));
      try {
        for (const [i, m] of requests.entries())
          await attacker.send(encodeMessage({ ...m, messageId: (m.messageId + 1000 + i) & 0xffff }), {
            address: '127.0.0.1',
            port,
          });
        await expect.poll(() => answers.length, { timeout: 10_000 }).toBe(requests.length);
      } finally {
        await attacker.close();
      }
      for (const a of answers.map((d) => decodeMessage(d))) {
        expect(a.code).toBe(CoapCode.UNAUTHORIZED);
        expect(a.payload.toString('utf8')).toBe('Replay detected');
      }
      expect(await metric('bootstrap_oscore_requests_total', 'result="replay"')).toBe(
        replayBefore + requests.length,
      );
      expect(await metric('bootstrap_sessions_started_total', 'kind="new"')).toBe(startedBefore);
      expect(await sessions.get('bs-osc')).toMatchObject({ state: 'finished' });

      // The operator replaces the bootstrap context (another kid): the old one no longer admits, whether the
      // gateway still holds it in memory (4.00, the configuration names another kid) or not (4.01).
      const replaced = await server.api('PUT', '/api/v1/bootstrap/configs/bs-osc', {
        servers: [{ shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk' }],
        bootstrapOscore: { masterSecret: randomBytes(16).toString('hex'), senderId: '01', recipientId: 'b6' },
      });
      expect(replaced.status).toBe(200);
      const stale = new BootstrapClient({
        endpoint: 'bs-osc',
        transport: await UdpTransport.bind({ address: '127.0.0.45', port: 0 }),
        servers: [{ address: '127.0.0.1', port }],
        // Sequence numbers above the first client's: not refused as a replay, so the configuration decides.
        oscore: { ...context, sequences },
        timeoutMs: 5000,
        coapParams: { ackTimeout: 300, maxRetransmit: 2 },
      });
      try {
        const code = await stale.run().then(
          () => 'bootstrapped',
          (err: unknown) => (err as { code?: number }).code,
        );
        expect([CoapCode.BAD_REQUEST, CoapCode.UNAUTHORIZED]).toContain(code);
      } finally {
        await stale.close();
      }
      expect(await metric('bootstrap_sessions_started_total', 'kind="new"')).toBe(startedBefore);
    } finally {
      await dev?.stop();
      await client.close();
    }
  });

  it('the simulator CLI bootstraps over OSCORE (--bootstrap coap:// with --oscore-*) and registers over OSCORE', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const secret = randomBytes(16);
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/cli-bs-oscore', {
      servers: [{ shortServerId: 1, uri: `coap://127.0.0.1:${server.coapPort}`, security: 'oscore' }],
      bootstrapOscore: { masterSecret: secret.toString('hex'), senderId: '01', recipientId: 'd7' },
    });
    expect(put.status).toBe(201);
    const okBefore = await metric('bootstrap_oscore_requests_total', 'result="ok"');
    const cli = spawn(
      process.execPath,
      [
        join(process.cwd(), 'node_modules/tsx/dist/cli.mjs'),
        'apps/simulator/src/main.ts',
        '--bootstrap',
        `coap://127.0.0.1:${port}`,
        '--endpoint',
        'cli-bs-oscore',
        // The device's side: its Sender ID is the kid.
        '--oscore-secret',
        secret.toString('hex'),
        '--oscore-sender',
        'd7',
        '--oscore-recipient',
        '01',
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toMatch(/cli-bs-oscore registered at \/rd\//);
      expect(out).toMatch(/bootstrapping from coap:\/\/127\.0\.0\.1:\d+ over OSCORE \(kid d7\)/);
      expect(out).toMatch(/cli-bs-oscore bootstrapped: server 1 coap:/);
      const dev = await server.api<{ security: string }>('GET', '/api/v1/devices/cli-bs-oscore');
      expect(dev.body.security).toBe('oscore');
      expect(await metric('bootstrap_oscore_requests_total', 'result="ok"')).toBeGreaterThan(okBefore);
      cli.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      cli.kill('SIGKILL');
    }
  }, 40_000);
});
