// PUT/GET/DELETE /api/v1/bootstrap/configs/{endpoint} and POST /api/v1/devices/{ep}/bootstrap-trigger (issue 16
// item 1): validation as problem+json, the admin role to write, and keys never leaving the api: not in an
// answer, an error or a log line.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, InMemoryBootstrapConfigStore } from '@lwm2m/bootstrap';
import { fakePorts, registration, type TestPorts } from './fakes';
import { type Reply, startApi, type TestApi } from './harness';

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log = (...a: unknown[]) => this.lines.push(a.map(String).join(' '));
  error = (...a: unknown[]) =>
    this.lines.push(a.map((x) => (x instanceof Error ? x.stack : String(x))).join(' '));
  warn = (...a: unknown[]) => this.lines.push(a.map(String).join(' '));
  debug = (...a: unknown[]) => this.lines.push(a.map(String).join(' '));
  verbose = (...a: unknown[]) => this.lines.push(a.map(String).join(' '));
  fatal = (...a: unknown[]) => this.lines.push(a.map(String).join(' '));
}

const KEY = randomBytes(16).toString('hex');
const BKEY = randomBytes(16).toString('hex');
const OSECRET = randomBytes(16).toString('hex');
const OSALT = randomBytes(8).toString('hex');
const rpkPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const RPK_PRIVATE = rpkPair.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex');
const RPK_SERVER = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');
const ADMIN = 'admin-key-0123456789';
const WRITER = 'write-key-0123456789';
const BASE = '/api/v1/bootstrap/configs';
const admin = { authorization: `Bearer ${ADMIN}` };

let ports: TestPorts;
let configs: InMemoryBootstrapConfigStore;
let api: TestApi;
const logger = new CapturingLogger();
const answers: Reply[] = [];

async function call(method: string, path: string, opts: Parameters<TestApi['call']>[2] = {}): Promise<Reply> {
  const r = await api.call(method, path, { ...opts, headers: { ...admin, ...opts.headers } });
  answers.push(r);
  return r;
}

const valid = () => ({
  servers: [
    {
      shortServerId: 1,
      uri: 'coaps://lwm2m.example.com:5684',
      security: 'psk',
      psk: { identity: 'dev-1', key: KEY },
    },
  ],
  bootstrapPsk: { identity: 'factory-1', key: BKEY },
});

beforeAll(async () => {
  ports = fakePorts();
  configs = new InMemoryBootstrapConfigStore();
  api = await startApi(
    { ...ports, bootstrapConfigs: configs },
    { logger, apiKeys: `${ADMIN}:admin,${WRITER}:write` },
  );
});
afterAll(() => api.close());

describe('bootstrap configurations over REST', () => {
  it('PUT stores the keys and answers without them; GET too; a second PUT answers 200', async () => {
    const r = await call('PUT', `${BASE}/dev-1`, { body: valid() });
    expect(r.status).toBe(201);
    expect(r.body.servers[0].psk).toEqual({ identity: 'dev-1', keySet: true });
    expect(r.body.bootstrapPsk).toEqual({ identity: 'factory-1', keySet: true });
    expect((await configs.get('dev-1'))?.servers[0]?.psk?.key?.toString('hex')).toBe(KEY);
    const got = await call('GET', `${BASE}/dev-1`);
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(KEY);
    expect((await call('PUT', `${BASE}/dev-1`, { body: valid() })).status).toBe(200);
  });

  it('"default" names the default configuration', async () => {
    const body = { servers: [{ shortServerId: 2, uri: 'coap://lwm2m.example.com', security: 'nosec' }] };
    expect((await call('PUT', `${BASE}/default`, { body })).status).toBe(201);
    expect((await configs.get(DEFAULT_CONFIG))?.servers[0]?.shortServerId).toBe(2);
    expect((await call('DELETE', `${BASE}/default`)).status).toBe(204);
    expect((await call('GET', `${BASE}/default`)).status).toBe(404);
  });

  it('refuses invalid configurations with 400 problem+json naming the field, never echoing a key', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{}, /servers/],
      [{ servers: [{ ...valid().servers[0], uri: 'http://x' }] }, /uri/],
      [{ servers: [{ ...valid().servers[0], security: 'psk', uri: 'coap://x' }] }, /coaps/],
      [{ servers: [{ ...valid().servers[0], psk: { key: 'zz' + KEY } }] }, /psk.key must be hex/],
      [{ servers: [{ ...valid().servers[0], shortServerId: 0 }] }, /shortServerId/],
      [{ ...valid(), read: ['/0'] }, /read/],
      [{ ...valid(), extra: 1 }, /unknown field/],
      [{ servers: [valid().servers[0], valid().servers[0]] }, /used twice/],
    ];
    for (const [body, detail] of bad) {
      const r = await call('PUT', `${BASE}/dev-bad`, { body });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body.detail).toMatch(detail);
    }
    expect(await configs.get('dev-bad')).toBeUndefined();
  });

  it('a bootstrap identity held by another endpoint is a 409', async () => {
    const r = await call('PUT', `${BASE}/dev-2`, { body: valid() });
    expect(r.status).toBe(409);
  });

  it('writing needs the admin role; a write key gets 403 and changes nothing', async () => {
    const asWriter = { authorization: `Bearer ${WRITER}` };
    expect((await call('PUT', `${BASE}/dev-3`, { body: valid(), headers: asWriter })).status).toBe(403);
    expect((await call('DELETE', `${BASE}/dev-1`, { headers: asWriter })).status).toBe(403);
    expect((await call('GET', `${BASE}/dev-1`, { headers: asWriter })).status).toBe(403);
    expect(await configs.get('dev-3')).toBeUndefined();
    expect((await api.call('PUT', `${BASE}/dev-3`, { body: valid() })).status).toBe(401);
  });

  it('an OSCORE account: stored sealed, answered with its ids and keySet only; bad ones are a 400 naming the field', async () => {
    const oscore = { masterSecret: OSECRET, masterSalt: OSALT, senderId: '01', recipientId: '5a', aead: 10 };
    const body = {
      servers: [{ shortServerId: 1, uri: 'coap://lwm2m.example.com', security: 'oscore', oscore }],
    };
    const r = await call('PUT', `${BASE}/dev-osc`, { body });
    expect(r.status).toBe(201);
    expect(r.body.servers[0].oscore).toEqual({ senderId: '01', recipientId: '5a', aead: 10, keySet: true });
    expect((await configs.get('dev-osc'))?.servers[0]?.oscore?.masterSecret?.toString('hex')).toBe(OSECRET);
    expect((await call('GET', `${BASE}/dev-osc`)).body.servers[0].oscore.keySet).toBe(true);
    const account = body.servers[0]!;
    const bad: Array<[unknown, RegExp]> = [
      [{ ...account, uri: 'coaps://x' }, /coap:\/\//],
      [{ ...account, security: 'nosec' }, /oscore is for security "oscore" only/],
      [{ ...account, oscore: { ...oscore, masterSecret: '00ff' } }, /masterSecret must have 16\.\.64 bytes/],
      [{ ...account, oscore: { ...oscore, recipientId: '01' } }, /must differ/],
      [
        { ...account, oscore: { ...oscore, senderId: '0011223344556677' } },
        /senderId must have 0\.\.7 bytes/,
      ],
      [{ ...account, oscore: { ...oscore, aead: 99 } }, /aead must be one of/],
      [{ ...account, oscore: { ...oscore, kid: '01' } }, /unknown field/],
    ];
    for (const [server, detail] of bad) {
      const res = await call('PUT', `${BASE}/dev-osc-bad`, { body: { servers: [server] } });
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(detail);
    }
    expect(await configs.get('dev-osc-bad')).toBeUndefined();
  });

  it('an RPK account: the private key stored sealed and never answered; a key that is not P-256 is a 400', async () => {
    const body = {
      servers: [
        {
          shortServerId: 1,
          uri: 'coaps://lwm2m.example.com',
          security: 'rpk',
          rpk: { privateKey: RPK_PRIVATE, serverPublicKey: RPK_SERVER },
        },
      ],
    };
    const r = await call('PUT', `${BASE}/dev-rpk`, { body });
    expect(r.status).toBe(201);
    expect(r.body.servers[0].rpk).toEqual({ serverPublicKey: RPK_SERVER, keySet: true });
    expect((await configs.get('dev-rpk'))?.servers[0]?.rpk?.privateKey?.toString('hex')).toBe(RPK_PRIVATE);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'der',
    });
    const bad: Array<[unknown, RegExp]> = [
      [
        { ...body.servers[0], rpk: { privateKey: rsa.toString('hex') } },
        /privateKey must be a P-256 private key/,
      ],
      [
        { ...body.servers[0], rpk: { serverPublicKey: 'nope' } },
        /serverPublicKey must be a P-256 public key/,
      ],
      [{ ...body.servers[0], uri: 'coap://x' }, /coaps/],
    ];
    for (const [server, detail] of bad) {
      const res = await call('PUT', `${BASE}/dev-rpk-bad`, { body: { servers: [server] } });
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(detail);
    }
  });

  it('DELETE removes it (then 404)', async () => {
    expect((await call('DELETE', `${BASE}/dev-1`)).status).toBe(204);
    expect((await call('DELETE', `${BASE}/dev-1`)).status).toBe(404);
  });

  it('no answer and no log line holds key material', () => {
    const text = answers.map((a) => a.text).join('\n') + logger.lines.join('\n');
    for (const k of [KEY, BKEY, OSECRET, OSALT, RPK_PRIVATE]) {
      expect(text).not.toContain(k);
      expect(text).not.toContain(Buffer.from(k, 'hex').toString('base64'));
    }
  });
});

describe('POST /api/v1/devices/{endpoint}/bootstrap-trigger', () => {
  it("executes /1/x/9 on the device's Server instance", async () => {
    await ports.registrations.register(
      registration('trig-1', {
        objectLinks: [
          { path: '/1/3', attributes: {} },
          { path: '/3/0', attributes: {} },
        ],
      }),
    );
    const r = await call('POST', '/api/v1/devices/trig-1/bootstrap-trigger');
    expect(r.status).toBe(204);
    expect(ports.commands.commands.at(-1)).toMatchObject({
      op: 'execute',
      path: '/1/3/9',
      endpoint: 'trig-1',
    });
  });

  it('an unregistered device is a 404', async () => {
    expect((await call('POST', '/api/v1/devices/nobody/bootstrap-trigger')).status).toBe(404);
  });
});
