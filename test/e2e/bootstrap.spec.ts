// Issue 16 item 1, end to end with the product: a simulated client bootstraps from two Bootstrap-Servers that
// share Redis with the gateway (the first stops mid-sequence, the second continues the session), then
// registers with the gateway's DTLS port using the PSK the bootstrap wrote; a guessed PSK is refused. The
// events are on the Redis stream the api serves.
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootstrapServer, type RunningBootstrapServer } from '@lwm2m/bootstrap';
import { CoapCode } from '@lwm2m/coap';
import { DtlsServer, IdentifiedDtlsTransport } from '@lwm2m/dtls';
import {
  createRedisStores,
  RedisBootstrapConfigStore,
  RedisBootstrapSessionStore,
  type RedisStores,
} from '@lwm2m/registry';
import { BootstrapClient, createDtlsTransport, peerOfUri, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { bootstrapPskLookup } from '@lwm2m/bootstrap';
import { BootstrapServerService } from '../../apps/gateway/src/bootstrap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

const secretsKey = randomBytes(32);
// The gateway's own key (DTLS_KEY_FILE): RPK accounts pin its public half.
const keyDir = mkdtempSync(join(tmpdir(), 'bootstrap-e2e-'));
const gatewayKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const gatewayKeyFile = join(keyDir, 'gateway-key.pem');
writeFileSync(gatewayKeyFile, gatewayKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
let server: TestServer;
let stores: RedisStores;
let configs: RedisBootstrapConfigStore;

async function bootstrapNode(
  nodeId: string,
): Promise<{ node: RunningBootstrapServer; port: number; securePort: number }> {
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const secure = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const node = createBootstrapServer({
    transports: [
      udp,
      new IdentifiedDtlsTransport(new DtlsServer({ transport: secure, psk: bootstrapPskLookup(configs) })),
    ],
    configs,
    sessions: new RedisBootstrapSessionStore(stores.redis, stores.keys, { secretsKey }),
    credentials: stores.credentials,
    events: stores.events,
    nodeId,
    requestTimeoutMs: 3000,
  });
  return { node, port: udp.address().port, securePort: secure.address().port };
}

beforeAll(async () => {
  server = await startTestServer({
    secretsKey,
    gateway: {
      BOOTSTRAP_ENABLED: 'true',
      BOOTSTRAP_PORT: '0',
      BOOTSTRAP_SECURE_PORT: '0',
      DTLS_KEY_FILE: gatewayKeyFile,
    },
  });
  stores = createRedisStores(server.redis.url, { credentials: { secretsKey } });
  configs = new RedisBootstrapConfigStore(stores.redis, stores.keys, { secretsKey });
});

afterAll(async () => {
  await stores?.close();
  await server?.stop();
});

async function device(endpoint: string, client: BootstrapClient, psk?: { identity: string; key: Buffer }) {
  const outcome = client.outcome();
  const account = outcome.servers[0]!;
  return new SimulatedDevice({
    endpoint,
    transport: createDtlsTransport(await UdpTransport.bind({ port: 0 }), { psk: psk ?? account.psk! }),
    server: peerOfUri(account.uri),
    lifetime: account.lifetime,
    updateAt: 0,
    requestTimeoutMs: 3000,
    bootstrapped: outcome.objects,
  });
}

/** A series of the node's /metrics (the whole process), 0 when it has none yet. */
async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('bootstrap against the product (Redis, gateway)', () => {
  it('a DTLS PSK bootstrap moves to a second node mid-sequence, then the device registers with the PSK written', async () => {
    const a = await bootstrapNode('bs-a');
    const b = await bootstrapNode('bs-b');
    const factoryKey = randomBytes(16);
    await configs.put('e2e-bs', {
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk', lifetime: 60 },
      ],
      bootstrapPsk: { identity: 'e2e-bs-factory', key: factoryKey },
    });
    const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const client = new BootstrapClient({
      endpoint: 'e2e-bs',
      transport: createDtlsTransport(udp, { psk: { identity: 'e2e-bs-factory', key: factoryKey } }),
      servers: [
        { address: '127.0.0.1', port: a.securePort },
        { address: '127.0.0.1', port: b.securePort },
      ],
      preferredContentFormat: 11542,
      retryAfterMs: 400,
      answerDelayMs: 100,
      timeoutMs: 20_000,
    });
    try {
      const run = client.run();
      while (client.operations.length < 2) await new Promise((r) => setTimeout(r, 20));
      await a.node.close();
      const outcome = await run;
      expect(client.operations.filter((o) => o === 'DELETE /')).toHaveLength(1);
      const key = outcome.servers[0]!.psk!.key;

      // A guessed key for the same identity is refused by the gateway's DTLS port.
      const impostor = await device('e2e-bs', client, { identity: 'e2e-bs', key: randomBytes(16) });
      await expect(impostor.start()).rejects.toThrow();
      await impostor.stop();

      const dev = await device('e2e-bs', client);
      await dev.start();
      try {
        const got = await server.api<{ endpoint: string; security?: string }>(
          'GET',
          '/api/v1/devices/e2e-bs',
        );
        expect(got.status).toBe(200);
        const read = await server.api<{ values: Array<{ value: unknown }> }>(
          'GET',
          '/api/v1/devices/e2e-bs/data/1/0/1',
        );
        expect(read.body.values[0]?.value).toBe(60);
      } finally {
        await dev.stop();
      }
      const events = (await stores.events.recent(200, 'e2e-bs')).filter((e) =>
        e.type.startsWith('bootstrap'),
      );
      expect(events.map((e) => e.type)).toEqual([
        'bootstrap-started',
        'bootstrap-started',
        'bootstrap-finished',
      ]);
      expect(events[1]).toMatchObject({ node: 'bs-b' });
      const stream = JSON.stringify(events);
      expect(stream).not.toContain(key.toString('hex'));
      expect(stream).not.toContain(key.toString('base64'));
    } finally {
      await client.close();
      await b.node.close();
    }
  });

  it('an endpoint with no configuration gets 4.00 Bad Request (TS 1.1 Transport table 6.1: unknown Endpoint Client Name)', async () => {
    const b = await bootstrapNode('bs-c');
    const client = new BootstrapClient({
      endpoint: 'e2e-nobody',
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      servers: [{ address: '127.0.0.1', port: b.port }],
      timeoutMs: 3000,
    });
    await expect(client.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
    await client.close();
    await b.node.close();
  });

  it("npm start's gateway serves bootstrap: config over REST, bootstrap on its port, PSK registration, then a server-initiated trigger", async () => {
    const ports = server.node.gateway.get(BootstrapServerService).addresses()!;
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/e2e-rest', {
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk', lifetime: 90 },
      ],
      allowNoSec: true,
    });
    expect(put.status).toBe(201);
    const client = new BootstrapClient({
      endpoint: 'e2e-rest',
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      servers: [{ address: '127.0.0.1', port: ports.port }],
      preferredContentFormat: 112,
      timeoutMs: 10_000,
    });
    try {
      const outcome = await client.run();
      const cred = await server.api<{ type: string; identity: string }>(
        'GET',
        '/api/v1/devices/e2e-rest/credentials',
      );
      expect(cred.body).toEqual({ type: 'psk', identity: 'e2e-rest' });
      const dev = await device('e2e-rest', client);
      await dev.start();
      try {
        const triggered = new Promise<void>((resolve) => dev.once('bootstrapTrigger', () => resolve()));
        const t = await server.api('POST', '/api/v1/devices/e2e-rest/bootstrap-trigger');
        expect(t.status).toBe(204);
        await triggered;
      } finally {
        await dev.stop();
      }
      expect(outcome.servers[0]!.lifetime).toBe(90);
      const got = await server.api<{ servers: Array<{ psk?: unknown }> }>(
        'GET',
        '/api/v1/bootstrap/configs/e2e-rest',
      );
      expect(JSON.stringify(got.body)).not.toContain(outcome.servers[0]!.psk!.key.toString('hex'));
    } finally {
      await client.close();
    }
  });

  it('a device with a wrong bootstrap credential is refused, and the refusals are counted on /metrics', async () => {
    const { securePort, port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const factory = { identity: 'e2e-wrong-factory', key: randomBytes(16) };
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/e2e-wrong', {
      servers: [{ shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk' }],
      bootstrapPsk: { identity: factory.identity, key: factory.key.toString('hex') },
    });
    expect(put.status).toBe(201);
    await server.api('PUT', '/api/v1/bootstrap/configs/e2e-wrong-other', {
      servers: [{ shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk' }],
      bootstrapPsk: { identity: 'e2e-wrong-other-factory', key: randomBytes(16).toString('hex') },
    });
    const refusedBefore = await metric('bootstrap_refused_total', 'reason="security"');
    const handshakesFailedBefore = await metric('bootstrap_dtls_handshakes_failed_total');
    // Each attempt from its own loopback address: the per-source Bootstrap-Request rate is not what refuses.
    const attempt = async (
      address: string,
      bsPort: number,
      psk?: { identity: string; key: Buffer },
      endpoint = 'e2e-wrong',
    ) => {
      const udp = await UdpTransport.bind({ address, port: 0 });
      const client = new BootstrapClient({
        endpoint,
        transport: psk ? createDtlsTransport(udp, { psk }) : udp,
        servers: [{ address: '127.0.0.1', port: bsPort }],
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
    // The right identity with a guessed key: the DTLS handshake fails, nothing reaches the Bootstrap-Server.
    expect(await attempt('127.0.0.11', securePort, { ...factory, key: randomBytes(16) })).toBe('no answer');
    await expect
      .poll(() => metric('bootstrap_dtls_handshakes_failed_total'))
      .toBeGreaterThan(handshakesFailedBefore);
    // Over NoSec, for an endpoint with a bootstrap credential: 4.00.
    expect(await attempt('127.0.0.12', port)).toBe(CoapCode.BAD_REQUEST);
    // Another endpoint's valid bootstrap credential: 4.00.
    const other = (await configs.get('e2e-wrong-other'))!.bootstrapPsk!;
    expect(await attempt('127.0.0.14', securePort, other)).toBe(CoapCode.BAD_REQUEST);
    expect(await metric('bootstrap_refused_total', 'reason="security"')).toBe(refusedBefore + 2);
    const events = (await stores.events.recent(100, 'e2e-wrong')).filter((e) =>
      e.type.startsWith('bootstrap'),
    );
    expect(events).toEqual([]);
    expect((await server.api('GET', '/api/v1/devices/e2e-wrong/credentials')).status).toBe(404);
    // The right credential bootstraps.
    const finishedBefore = await metric('bootstrap_finished_total');
    expect(await attempt('127.0.0.15', securePort, factory)).toBe('bootstrapped');
    await expect.poll(() => metric('bootstrap_finished_total')).toBe(finishedBefore + 1);
  });

  it('a config change reaches the device on its next bootstrap (server-initiated by the trigger)', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const configOf = (lifetime: number) => ({
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk', lifetime },
      ],
      allowNoSec: true,
    });
    expect((await server.api('PUT', '/api/v1/bootstrap/configs/e2e-change', configOf(60))).status).toBe(201);
    const bootstrap = async (address: string) => {
      const client = new BootstrapClient({
        endpoint: 'e2e-change',
        transport: await UdpTransport.bind({ address, port: 0 }),
        servers: [{ address: '127.0.0.1', port }],
        timeoutMs: 10_000,
      });
      await client.run().finally(() => client.close());
      return client;
    };
    const first = await bootstrap('127.0.0.21');
    const dev = await device('e2e-change', first);
    await dev.start();
    expect((await stores.registrations.getByEndpoint('e2e-change'))?.lifetime).toBe(60);

    // The operator changes the configuration, then asks the device to bootstrap again (/1/0/9).
    expect((await server.api('PUT', '/api/v1/bootstrap/configs/e2e-change', configOf(90))).status).toBe(200);
    const triggered = new Promise<void>((resolve) => dev.once('bootstrapTrigger', () => resolve()));
    expect((await server.api('POST', '/api/v1/devices/e2e-change/bootstrap-trigger')).status).toBe(204);
    await triggered;
    await dev.stop();
    const second = await bootstrap('127.0.0.22');
    const [was, now] = [first.outcome().servers[0]!, second.outcome().servers[0]!];
    expect(was.lifetime).toBe(60);
    expect(now.lifetime).toBe(90);
    // A new PSK per bootstrap: the LwM2M server now accepts the new one, and no longer the old one.
    expect(now.psk!.key.equals(was.psk!.key)).toBe(false);
    const stale = await device('e2e-change', first);
    await expect(stale.start()).rejects.toThrow();
    await stale.stop();
    const again = await device('e2e-change', second);
    await again.start();
    try {
      expect((await stores.registrations.getByEndpoint('e2e-change'))?.lifetime).toBe(90);
      const read = await server.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        '/api/v1/devices/e2e-change/data/1/0/1',
      );
      expect(read.body.values[0]?.value).toBe(90);
    } finally {
      await again.stop();
    }
  });

  it('an OSCORE account: /21 written and linked from /0/x/17, then the device registers over OSCORE with exactly that context', async () => {
    const { securePort } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const factory = { identity: 'e2e-osc-factory', key: randomBytes(16) };
    const salt = randomBytes(8);
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/e2e-osc', {
      servers: [
        {
          shortServerId: 1,
          uri: `coap://127.0.0.1:${server.coapPort}`,
          security: 'oscore',
          lifetime: 70,
          // The Master Secret and the device's Sender ID are generated per bootstrap.
          oscore: { masterSalt: salt.toString('hex'), senderId: '0b' },
        },
      ],
      bootstrapPsk: { identity: factory.identity, key: factory.key.toString('hex') },
    });
    expect(put.status).toBe(201);
    const client = new BootstrapClient({
      endpoint: 'e2e-osc',
      transport: createDtlsTransport(await UdpTransport.bind({ address: '127.0.0.31', port: 0 }), {
        psk: factory,
      }),
      servers: [{ address: '127.0.0.1', port: securePort }],
      preferredContentFormat: 112,
      timeoutMs: 10_000,
    });
    let dev: SimulatedDevice | undefined;
    try {
      const outcome = await client.run();
      const account = outcome.servers[0]!;
      expect(account.securityMode).toBe(3);
      const osc = account.oscore!;
      expect(osc.masterSecret.length).toBe(16);
      expect(osc.recipientId).toEqual(Buffer.from('0b', 'hex'));
      expect(osc.masterSalt).toEqual(salt);
      expect(client.operations.indexOf('PUT /21/0')).toBeGreaterThanOrEqual(0);
      expect(client.operations.indexOf('PUT /21/0')).toBeLessThan(client.operations.indexOf('PUT /0/1'));
      // The LwM2M server's credential is that context (ids from its point of view), its secret never shown.
      const cred = await server.api('GET', '/api/v1/devices/e2e-osc/credentials');
      expect(cred.body).toEqual({
        type: 'oscore',
        oscore: { senderId: '0b', recipientId: osc.senderId.toString('hex'), keySet: true },
      });
      const cfg = await server.api('GET', '/api/v1/bootstrap/configs/e2e-osc');
      expect((cfg.body as { servers: Array<{ oscore: unknown }> }).servers[0]!.oscore).toEqual({
        senderId: '0b',
        keySet: false,
      });

      const oscoreDevice = (masterSecret: Buffer) =>
        UdpTransport.bind({ address: '127.0.0.1', port: 0 }).then(
          (udp) =>
            new SimulatedDevice({
              endpoint: 'e2e-osc',
              transport: udp,
              server: peerOfUri(account.uri),
              lifetime: account.lifetime,
              updateAt: 0,
              requestTimeoutMs: 3000,
              oscore: { ...osc, masterSecret },
              bootstrapped: outcome.objects,
            }),
        );
      // The same kid with a guessed Master Secret does not register.
      const impostor = await oscoreDevice(randomBytes(16));
      await expect(impostor.start()).rejects.toThrow();
      await impostor.stop();
      dev = await oscoreDevice(osc.masterSecret);
      await dev.start();
      expect(await stores.registrations.getByEndpoint('e2e-osc')).toMatchObject({
        security: 'oscore',
        lifetime: 70,
      });
      const read = await server.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        '/api/v1/devices/e2e-osc/data/1/0/1',
      );
      expect(read.body.values[0]?.value).toBe(70);
      const all = JSON.stringify(await stores.events.recent(500));
      expect(all).not.toContain(osc.masterSecret.toString('hex'));
      expect(all).not.toContain(osc.masterSecret.toString('base64'));
    } finally {
      await dev?.stop();
      await client.close();
    }
  });

  it('an RPK account: a key pair generated for the device, the gateway key pinned, the device registers with that key', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/e2e-rpk', {
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'rpk', lifetime: 80 },
      ],
      allowNoSec: true,
    });
    expect(put.status).toBe(201);
    const client = new BootstrapClient({
      endpoint: 'e2e-rpk',
      transport: await UdpTransport.bind({ address: '127.0.0.41', port: 0 }),
      servers: [{ address: '127.0.0.1', port }],
      timeoutMs: 10_000,
    });
    let dev: SimulatedDevice | undefined;
    try {
      const outcome = await client.run();
      const account = outcome.servers[0]!;
      expect(account.securityMode).toBe(1);
      const rpk = account.rpk!;
      expect(rpk.serverPublicKey).toEqual(gatewayKey.publicKey.export({ type: 'spki', format: 'der' }));
      const devicePublic = createPublicKey(
        createPrivateKey({ key: rpk.privateKey, format: 'der', type: 'pkcs8' }),
      ).export({
        type: 'spki',
        format: 'der',
      });
      const cred = await server.api<{ type: string; publicKey: string }>(
        'GET',
        '/api/v1/devices/e2e-rpk/credentials',
      );
      expect(cred.body.type).toBe('rpk');
      expect(JSON.stringify(cred.body)).toContain(devicePublic.toString('base64').slice(0, 40));
      const rpkDevice = (privateKey: Buffer) =>
        UdpTransport.bind({ address: '127.0.0.1', port: 0 }).then(
          (udp) =>
            new SimulatedDevice({
              endpoint: 'e2e-rpk',
              transport: createDtlsTransport(udp, { rpk: { ...rpk, privateKey } }),
              server: peerOfUri(account.uri),
              lifetime: account.lifetime,
              updateAt: 0,
              requestTimeoutMs: 3000,
              bootstrapped: outcome.objects,
            }),
        );
      // Another key pair does not register as this endpoint.
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'der',
      });
      const impostor = await rpkDevice(other);
      await expect(impostor.start()).rejects.toThrow();
      await impostor.stop();
      dev = await rpkDevice(rpk.privateKey);
      await dev.start();
      expect(await stores.registrations.getByEndpoint('e2e-rpk')).toMatchObject({
        security: 'rpk',
        lifetime: 80,
      });
      const all = JSON.stringify(await stores.events.recent(500));
      expect(all).not.toContain(rpk.privateKey.toString('base64'));
    } finally {
      await dev?.stop();
      await client.close();
    }
  });

  it.each([
    ['psk', 'cli-bs', (): object => ({ uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'psk' })],
    [
      'oscore',
      'cli-bs-osc',
      (): object => ({ uri: `coap://127.0.0.1:${server.coapPort}`, security: 'oscore' }),
    ],
  ])(
    'the simulator CLI bootstraps (--bootstrap) and registers over %s with what it was given',
    async (security, ep, account) => {
      const ports = server.node.gateway.get(BootstrapServerService).addresses()!;
      await server.api('PUT', `/api/v1/bootstrap/configs/${ep}`, {
        servers: [{ shortServerId: 1, ...account() }],
        allowNoSec: true,
      });
      const cli = spawn(
        process.execPath,
        [
          join(process.cwd(), 'node_modules/tsx/dist/cli.mjs'),
          'apps/simulator/src/main.ts',
          '--bootstrap',
          `coap://127.0.0.1:${ports.port}`,
          '--endpoint',
          ep,
          '--quiet',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
      cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
      try {
        await expect.poll(() => out, { timeout: 20_000 }).toMatch(new RegExp(`${ep} registered at /rd/`));
        expect(out).toMatch(new RegExp(`${ep} bootstrapped: server 1 coaps?:`));
        const dev = await server.api<{ security: string }>('GET', `/api/v1/devices/${ep}`);
        expect(dev.body.security).toBe(security);
        cli.kill('SIGINT');
        expect(await exited).toBe(0);
      } finally {
        cli.kill('SIGKILL');
      }
    },
    40_000,
  );
});
