// X.509 LwM2M Server accounts through the Bootstrap-Server (TS 1.2 Core E.1 Security Mode 2: /0/x/3 the
// client's certificate, /0/x/4 the server's, /0/x/5 the private key), end to end with the product: a P-256 key
// generated per bootstrap and a certificate for it issued by the gateway's CA (DTLS_CA_FILE with
// DTLS_CA_KEY_FILE), or a certificate and key the configuration gives; the endpoint's credential becomes the
// {x509:{subject}} binding, and the simulated device registers over DTLS with that certificate.
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import {
  BootstrapClient,
  type BootstrapOutcome,
  createDtlsTransport,
  peerOfUri,
  SimulatedDevice,
} from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { BootstrapServerService } from '../../apps/gateway/src/bootstrap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';
import { TestCa } from '../support/x509';

const secretsKey = randomBytes(32);
const ca = new TestCa('bs-x509-ca');
const gatewayCert = ca.issue('/CN=lwm2m-gateway', undefined, 'gateway');
let server: TestServer;
let stores: RedisStores;

beforeAll(async () => {
  writeFileSync(ca.file('gateway-chain.pem'), gatewayCert.pem + ca.pem);
  server = await startTestServer({
    secretsKey,
    gateway: {
      BOOTSTRAP_ENABLED: 'true',
      BOOTSTRAP_PORT: '0',
      BOOTSTRAP_SECURE_PORT: '0',
      DTLS_KEY_FILE: ca.file('gateway.key'),
      DTLS_CERT_FILE: ca.file('gateway-chain.pem'),
      DTLS_CA_FILE: ca.file('ca.pem'),
      DTLS_CA_KEY_FILE: ca.file('ca.key'),
    },
  });
  stores = createRedisStores(server.redis.url, { credentials: { secretsKey } });
});

afterAll(async () => {
  await stores?.close();
  await server?.stop();
  ca.remove();
});

/** Registers `endpoint` over DTLS with the certificate account the bootstrap wrote; returns the device. */
async function registerWith(endpoint: string, outcome: BootstrapOutcome): Promise<SimulatedDevice> {
  const account = outcome.servers[0]!;
  const x509 = account.x509!;
  const dev = new SimulatedDevice({
    endpoint,
    transport: createDtlsTransport(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }), {
      x509: {
        certificate: x509.certificate,
        privateKey: x509.privateKey,
        trustAnchors: [x509.serverCertificate!],
      },
    }),
    server: peerOfUri(account.uri),
    lifetime: account.lifetime,
    updateAt: 0,
    requestTimeoutMs: 3000,
    bootstrapped: outcome.objects,
  });
  await dev.start();
  return dev;
}

describe('X.509 LwM2M Server accounts', () => {
  it('a key and a certificate issued by the gateway CA per bootstrap; the device registers over DTLS with them', async () => {
    const { securePort } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const factory = { identity: 'bs-x509-factory', key: randomBytes(16) };
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/bs-x509', {
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'x509', lifetime: 75 },
      ],
      bootstrapPsk: { identity: factory.identity, key: factory.key.toString('hex') },
    });
    expect(put.status).toBe(201);
    // Nothing given: nothing to show but the mode (the key and certificate are made per bootstrap).
    expect(put.body).toEqual({
      servers: [
        { shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'x509', lifetime: 75 },
      ],
      bootstrapPsk: { identity: factory.identity, keySet: true },
    });
    const client = new BootstrapClient({
      endpoint: 'bs-x509',
      transport: createDtlsTransport(await UdpTransport.bind({ address: '127.0.0.51', port: 0 }), {
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
      expect(account.securityMode).toBe(2);
      // /0/x/3: a certificate naming the endpoint, issued by the CA the gateway trusts for clients.
      const cert = new X509Certificate(account.x509!.certificate);
      const caCert = new X509Certificate(ca.pem);
      expect(cert.subject).toBe('CN=bs-x509');
      expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      // /0/x/4: the gateway's own certificate (DTLS_CERT_FILE).
      expect(new X509Certificate(account.x509!.serverCertificate!).raw).toEqual(gatewayCert.der);
      const cred = await server.api('GET', '/api/v1/devices/bs-x509/credentials');
      expect(cred.body).toEqual({ type: 'x509', subject: 'bs-x509' });

      dev = await registerWith('bs-x509', outcome);
      expect(await stores.registrations.getByEndpoint('bs-x509')).toMatchObject({
        security: 'x509',
        lifetime: 75,
      });
      // The private key never reaches an event, and the session keeps it sealed.
      const keyPem = account.x509!.privateKey;
      const keyB64 = keyPem.replace(/-----[A-Z ]+-----|\s/g, '');
      const all = JSON.stringify(await stores.events.recent(500));
      expect(all).not.toContain(keyB64.slice(0, 40));
      const session = (await stores.redis.get(stores.keys.bootstrapSession('bs-x509')))!;
      expect(session).not.toContain(keyB64.slice(0, 40));
    } finally {
      await dev?.stop();
      await client.close();
    }
  });

  it('a certificate and key the configuration gives (PEM): written as given, the key never answered', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    const given = ca.issue('/CN=bs-x509-given');
    const put = await server.api('PUT', '/api/v1/bootstrap/configs/bs-x509-given', {
      servers: [
        {
          shortServerId: 3,
          uri: `coaps://127.0.0.1:${server.coapsPort}`,
          security: 'x509',
          x509: { certificate: given.pem, privateKey: given.key },
        },
      ],
      allowNoSec: true,
    });
    expect(put.status).toBe(201);
    const got = await server.api('GET', '/api/v1/bootstrap/configs/bs-x509-given');
    expect(got.body).toMatchObject({
      servers: [{ x509: { certificate: given.der.toString('base64'), keySet: true } }],
    });
    const keyB64 = given.key.replace(/-----[A-Z ]+-----|\s/g, '');
    expect(JSON.stringify(got.body)).not.toContain(keyB64.slice(0, 40));
    expect(await stores.redis.hget(stores.keys.bootstrapConfigs, 'bs-x509-given')).not.toContain(
      keyB64.slice(0, 40),
    );
    const client = new BootstrapClient({
      endpoint: 'bs-x509-given',
      transport: await UdpTransport.bind({ address: '127.0.0.52', port: 0 }),
      servers: [{ address: '127.0.0.1', port }],
      timeoutMs: 10_000,
    });
    let dev: SimulatedDevice | undefined;
    try {
      const outcome = await client.run();
      expect(new X509Certificate(outcome.servers[0]!.x509!.certificate).raw).toEqual(given.der);
      dev = await registerWith('bs-x509-given', outcome);
      expect(await stores.registrations.getByEndpoint('bs-x509-given')).toMatchObject({ security: 'x509' });
    } finally {
      await dev?.stop();
      await client.close();
    }
  });

  it('refuses a key that is not the certificate one, a certificate without its key, and x509 on coap://', async () => {
    const a = ca.issue('/CN=bs-x509-a');
    const b = ca.issue('/CN=bs-x509-b');
    const put = (x509: object, uri = `coaps://127.0.0.1:${server.coapsPort}`) =>
      server.api('PUT', '/api/v1/bootstrap/configs/bs-x509-bad', {
        servers: [{ shortServerId: 1, uri, security: 'x509', x509 }],
      });
    const mismatched = await put({ certificate: a.pem, privateKey: b.key });
    expect(mismatched.status).toBe(400);
    expect(JSON.stringify(mismatched.body)).toContain("the certificate's P-256 private key");
    expect((await put({ certificate: a.pem })).status).toBe(400);
    expect((await put({ certificate: 'not a certificate', privateKey: a.key })).status).toBe(400);
    expect((await put({}, `coap://127.0.0.1:${server.coapPort}`)).status).toBe(400);
  });

  it('the simulator CLI bootstraps (--bootstrap) and registers over DTLS with the certificate issued', async () => {
    const { port } = server.node.gateway.get(BootstrapServerService).addresses()!;
    await server.api('PUT', '/api/v1/bootstrap/configs/cli-bs-x509', {
      servers: [{ shortServerId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, security: 'x509' }],
      allowNoSec: true,
    });
    const cli = spawn(
      process.execPath,
      [
        join(process.cwd(), 'node_modules/tsx/dist/cli.mjs'),
        'apps/simulator/src/main.ts',
        '--bootstrap',
        `coap://127.0.0.1:${port}`,
        '--endpoint',
        'cli-bs-x509',
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toMatch(/cli-bs-x509 registered at \/rd\//);
      expect(out).toMatch(/cli-bs-x509 bootstrapped: server 1 coaps:\/\/\S+ \(security mode 2\)/);
      const dev = await server.api<{ security: string }>('GET', '/api/v1/devices/cli-bs-x509');
      expect(dev.body.security).toBe('x509');
      cli.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      cli.kill('SIGKILL');
    }
  }, 40_000);
});
