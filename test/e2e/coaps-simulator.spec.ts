// Issue 4 item 3: the device simulator speaks DTLS through the client role of libs/dtls: PSK with and
// without a Connection ID, a raw public key (RFC 7250) against a gateway with a server key, and the CLI flags.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDtlsTransport, type DeviceSecurity, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

const dir = mkdtempSync(join(tmpdir(), 'coaps-sim-'));
const serverKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const serverKeyFile = join(dir, 'server-key.pem');
writeFileSync(serverKeyFile, serverKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
const serverSpki = serverKey.publicKey.export({ format: 'der', type: 'spki' });

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ gateway: { DTLS_KEY_FILE: serverKeyFile } });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Device {
  endpoint: string;
  security: string;
}

async function simulate(endpoint: string, security: DeviceSecurity): Promise<SimulatedDevice> {
  const dev = new SimulatedDevice({
    endpoint,
    transport: createDtlsTransport(await UdpTransport.bind({ port: 0 }), security),
    server: { address: '127.0.0.1', port: server.coapsPort },
    lifetime: 60,
    updateAt: 0,
  });
  await dev.start();
  return dev;
}

const dtls = () => server.node.gateway.get(CoapServerService).dtls!;
const sessionOf = (identity: (i: unknown) => boolean) =>
  dtls()
    .sessions()
    .find((s) => identity(s.identity));

describe('simulated devices over DTLS', () => {
  it('PSK without a Connection ID: registers, is read, and the session has no CID', async () => {
    const key = randomBytes(16);
    await server.api('PUT', '/api/v1/devices/sim-psk-nocid/credentials', {
      psk: { identity: 'sim-psk-nocid', key: key.toString('hex') },
    });
    const dev = await simulate('sim-psk-nocid', {
      psk: { identity: 'sim-psk-nocid', key },
      connectionId: false,
    });
    try {
      const read = await server.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        '/api/v1/devices/sim-psk-nocid/data/3/0/0',
      );
      expect(read.status).toBe(200);
      expect(read.body.values[0]?.value).toBe('Open Mobile Alliance');
      const s = sessionOf((i) => (i as { identity?: string })?.identity === 'sim-psk-nocid');
      expect(s?.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
      expect(s?.cid).toBeUndefined();
    } finally {
      await dev.stop();
    }
  });

  it('PSK with a Connection ID: the session carries the server-issued 8-byte CID', async () => {
    const key = randomBytes(16);
    await server.api('PUT', '/api/v1/devices/sim-psk-cid/credentials', {
      psk: { identity: 'sim-psk-cid', key: key.toString('hex') },
    });
    const dev = await simulate('sim-psk-cid', { psk: { identity: 'sim-psk-cid', key } });
    try {
      const s = sessionOf((i) => (i as { identity?: string })?.identity === 'sim-psk-cid');
      expect(s?.cid?.length).toBe(8);
      expect((await server.api<Device>('GET', '/api/v1/devices/sim-psk-cid')).body.security).toBe('psk');
    } finally {
      await dev.stop();
    }
  });

  it('RPK: a provisioned P-256 key registers with ECDHE-ECDSA, pinning the server key; an unknown key cannot', async () => {
    const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = device.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const put = await server.api('PUT', '/api/v1/devices/sim-rpk/credentials', { rpk: { publicKey: pem } });
    expect(put.status).toBe(201);
    const privateKey = device.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const dev = await simulate('sim-rpk', { rpk: { privateKey, serverPublicKey: serverSpki } });
    try {
      const got = await server.api<Device>('GET', '/api/v1/devices/sim-rpk');
      expect(got.body.security).toBe('rpk');
      const read = await server.api('GET', '/api/v1/devices/sim-rpk/data/3/0/0');
      expect(read.status).toBe(200);
    } finally {
      await dev.stop();
    }
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const refused = new SimulatedDevice({
      endpoint: 'sim-rpk',
      transport: createDtlsTransport(await UdpTransport.bind({ port: 0 }), {
        rpk: {
          privateKey: stranger.export({ format: 'pem', type: 'pkcs8' }) as string,
          serverPublicKey: serverSpki,
        },
      }),
      server: { address: '127.0.0.1', port: server.coapsPort },
      lifetime: 60,
      requestTimeoutMs: 1500,
    });
    try {
      await expect(refused.register()).rejects.toThrow();
    } finally {
      await refused.close();
    }
  });
});

describe('the simulator CLI over coaps', () => {
  it('registers with --psk-key (identity = endpoint name), and de-registers on SIGINT', async () => {
    const key = randomBytes(16).toString('hex');
    await server.api('PUT', '/api/v1/devices/cli-dtls/credentials', { psk: { identity: 'cli-dtls', key } });
    const cli = spawn(
      process.execPath,
      [
        join(process.cwd(), 'node_modules/tsx/dist/cli.mjs'),
        'apps/simulator/src/main.ts',
        '--server',
        `coaps://127.0.0.1:${server.coapsPort}`,
        '--endpoint',
        'cli-dtls',
        '--psk-key',
        key,
        '--cid',
        'on',
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 15_000 }).toMatch(/cli-dtls registered at \/rd\//);
      expect(out).toMatch(/coaps:\/\/127\.0\.0\.1:\d+ .*DTLS PSK CID on/);
      expect(out).not.toContain(key);
      expect((await server.api<Device>('GET', '/api/v1/devices/cli-dtls')).body.security).toBe('psk');
      cli.kill('SIGINT');
      expect(await exited).toBe(0);
      expect((await server.api('GET', '/api/v1/devices/cli-dtls')).status).toBe(404);
    } finally {
      cli.kill('SIGKILL');
    }
  }, 30_000);

  it('refuses coaps without a credential and bad flag values with a usage message', async () => {
    const runs = [
      ['--server', 'coaps://127.0.0.1:5684'],
      ['--server', 'coaps://127.0.0.1:5684', '--psk-key', 'xyz'],
      ['--server', 'coaps://127.0.0.1:5684', '--psk-key', '00', '--cid', 'maybe'],
    ].map((args) => {
      const cli = spawn(
        process.execPath,
        [join(process.cwd(), 'node_modules/tsx/dist/cli.mjs'), 'apps/simulator/src/main.ts', ...args],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return new Promise<{ code: number | null; err: string }>((r) =>
        cli.on('exit', (code) => r({ code, err })),
      );
    });
    for (const { code, err } of await Promise.all(runs)) {
      expect(code).toBe(2);
      expect(err).toMatch(/usage: main\.ts/);
    }
  }, 30_000);
});
