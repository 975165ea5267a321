// PUT/GET/DELETE /api/v1/devices/{endpoint}/credentials (issue 4): validation as problem+json, roles, and
// the PSK never leaving the api: not in an answer, not in an error, not in a log line.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsKeyError } from '@lwm2m/registry';
import { fakePorts, type TestPorts } from './fakes';
import { type Reply, startApi, type TestApi } from './harness';

/** Every line any Nest logger wrote (the api's own Logger instances included). */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private add(level: string, message: unknown, rest: unknown[]): void {
    this.lines.push(
      `${level} ${String(message)} ${rest.map((r) => (r instanceof Error ? r.stack : String(r))).join(' ')}`,
    );
  }
  log(m: unknown, ...r: unknown[]) {
    this.add('log', m, r);
  }
  error(m: unknown, ...r: unknown[]) {
    this.add('error', m, r);
  }
  warn(m: unknown, ...r: unknown[]) {
    this.add('warn', m, r);
  }
  debug(m: unknown, ...r: unknown[]) {
    this.add('debug', m, r);
  }
  verbose(m: unknown, ...r: unknown[]) {
    this.add('verbose', m, r);
  }
  fatal(m: unknown, ...r: unknown[]) {
    this.add('fatal', m, r);
  }
}

const KEY = randomBytes(16);
const KEY_HEX = KEY.toString('hex');
const BASE = '/api/v1/devices';
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

let ports: TestPorts;
let api: TestApi;
const logger = new CapturingLogger();
const answers: Reply[] = [];
/** What the store throws on put, if anything. */
let failPut: Error | undefined;

async function call(method: string, path: string, opts: Parameters<TestApi['call']>[2] = {}): Promise<Reply> {
  const r = await api.call(method, path, opts);
  answers.push(r);
  return r;
}

function expectProblem(r: Reply, status: number, type?: string): void {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  if (type) expect(r.body.type).toBe(type);
}

beforeAll(async () => {
  ports = fakePorts();
  // A store that can fail like a lost Redis connection (503) or a bug (500, logged with its stack).
  const put = ports.credentials.put.bind(ports.credentials);
  ports.credentials.put = async (ep, c) => {
    if (failPut) throw failPut;
    return put(ep, c);
  };
  api = await startApi(ports, { logger });
});
afterAll(() => api.close());

describe('PUT /api/v1/devices/{endpoint}/credentials', () => {
  it('sets a PSK for a device that never registered, answering without the key', async () => {
    const r = await call('PUT', `${BASE}/urn:imei:1/credentials`, {
      body: { psk: { identity: 'id-1', key: KEY_HEX } },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ type: 'psk', identity: 'id-1' });
    expect(await ports.credentials.pskByIdentity('id-1')).toEqual({ endpoint: 'urn:imei:1', key: KEY });
    const again = await call('PUT', `${BASE}/urn:imei:1/credentials`, {
      body: { psk: { identity: 'id-1', key: KEY_HEX.toUpperCase() } },
    });
    expect(again.status).toBe(200);
  });

  it('accepts a P-256 key as PEM, hex or base64 DER and answers PEM', async () => {
    const key = p256();
    const pem = key.export({ format: 'pem', type: 'spki' }) as string;
    const der = key.export({ format: 'der', type: 'spki' });
    for (const [i, form] of [pem, der.toString('hex'), der.toString('base64')].entries()) {
      const r = await call('PUT', `${BASE}/rpk-${i}/credentials`, { body: { rpk: { publicKey: form } } });
      if (i > 0)
        expect(r.status).toBe(409); // the same key can't belong to two endpoints
      else {
        expect(r.status).toBe(201);
        expect(r.body).toEqual({ type: 'rpk', publicKey: pem });
      }
    }
    expect(await ports.credentials.endpointByPublicKey(der)).toBe('rpk-0');
    const got = await call('GET', `${BASE}/rpk-0/credentials`);
    expect(got.body).toEqual({ type: 'rpk', publicKey: pem });
  });

  it('refuses keys that are not P-256 EC public keys', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    for (const publicKey of [p384, rsa, 'not a key', '3059']) {
      const r = await call('PUT', `${BASE}/rpk-bad/credentials`, { body: { rpk: { publicKey } } });
      expectProblem(r, 400, 'urn:lwm2m-cluster:problem:validation');
    }
    expect(await ports.credentials.get('rpk-bad')).toBeUndefined();
  });

  it('binds a certificate subject to the endpoint name, or to an explicit subject', async () => {
    const a = await call('PUT', `${BASE}/x509-dev/credentials`, { body: { x509: {} } });
    expect(a.status).toBe(201);
    expect(a.body).toEqual({ type: 'x509', subject: 'x509-dev' });
    const b = await call('PUT', `${BASE}/x509-other/credentials`, {
      body: { x509: { subject: 'CN-of-cert' } },
    });
    expect(b.body).toEqual({ type: 'x509', subject: 'CN-of-cert' });
    expect(await ports.credentials.endpointBySubject('CN-of-cert')).toBe('x509-other');
  });

  it('refuses bodies with no mode, two modes, bad hex, oversize keys and unknown fields', async () => {
    const bodies = [
      {},
      { psk: { identity: 'two', key: KEY_HEX }, x509: {} },
      { psk: { identity: 'bad-hex', key: `${KEY_HEX}z` } },
      { psk: { identity: 'odd', key: KEY_HEX.slice(1) } },
      { psk: { identity: 'long', key: KEY_HEX.repeat(5) } },
      { psk: { identity: '', key: KEY_HEX } },
      { psk: { identity: 'extra', key: KEY_HEX, hint: 'x' } },
      { psk: { identity: 'ctl\u0001', key: KEY_HEX } },
      { psk: 'id:key' },
    ];
    for (const body of bodies) {
      const r = await call('PUT', `${BASE}/v-dev/credentials`, { body });
      expectProblem(r, 400, 'urn:lwm2m-cluster:problem:validation');
    }
    const raw = await call('PUT', `${BASE}/v-dev/credentials`, {
      raw: `{"psk":{"identity":"x","key":"${KEY_HEX}"`,
    });
    expectProblem(raw, 400);
    expect(await ports.credentials.get('v-dev')).toBeUndefined();
  });

  it('answers 409 when another endpoint holds the PSK identity, naming that endpoint', async () => {
    await call('PUT', `${BASE}/holder/credentials`, { body: { psk: { identity: 'taken', key: KEY_HEX } } });
    const r = await call('PUT', `${BASE}/thief/credentials`, {
      body: { psk: { identity: 'taken', key: KEY_HEX } },
    });
    expectProblem(r, 409, 'urn:lwm2m-cluster:problem:credential-conflict');
    expect(r.body.holder).toBe('holder');
    expect((await ports.credentials.pskByIdentity('taken'))?.endpoint).toBe('holder');
  });

  it('answers 503 problem+json with Retry-After when Redis is unreachable, logging without the key', async () => {
    failPut = new Error('Connection is closed.');
    try {
      const r = await call('PUT', `${BASE}/down/credentials`, {
        body: { psk: { identity: 'down', key: KEY_HEX } },
      });
      expectProblem(r, 503, 'urn:lwm2m-cluster:problem:store-unavailable');
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(r.text).not.toContain('Connection is closed');
    } finally {
      failPut = undefined;
    }
    expect(logger.lines.some((l) => l.includes('Redis refused it (unreachable)'))).toBe(true);
    expect(logger.lines.some((l) => l.includes(KEY_HEX))).toBe(false);
  });

  it('answers 500 problem+json when the store fails otherwise, logging the error without the key', async () => {
    failPut = new Error('store bug');
    try {
      const r = await call('PUT', `${BASE}/down/credentials`, {
        body: { psk: { identity: 'down', key: KEY_HEX } },
      });
      expectProblem(r, 500);
    } finally {
      failPut = undefined;
    }
    expect(logger.lines.some((l) => l.includes('store bug'))).toBe(true);
    expect(logger.lines.some((l) => l.includes(KEY_HEX))).toBe(false);
  });

  it('answers 503 naming SECRETS_KEY when the api has none to seal a PSK with (issue 11 item 9)', async () => {
    failPut = new SecretsKeyError('SECRETS_KEY is not set: a PSK can only be stored sealed with it');
    try {
      const r = await call('PUT', `${BASE}/nokey/credentials`, {
        body: { psk: { identity: 'nokey', key: KEY_HEX } },
      });
      expectProblem(r, 503);
      expect((r.body as { detail: string }).detail).toMatch(/^SECRETS_KEY is not set/);
      expect(JSON.stringify(r.body)).not.toContain(KEY_HEX);
    } finally {
      failPut = undefined;
    }
  });
});

describe('GET and DELETE /api/v1/devices/{endpoint}/credentials', () => {
  it('replaces, reads and deletes; the old identity stops resolving', async () => {
    await call('PUT', `${BASE}/rot/credentials`, { body: { psk: { identity: 'rot-1', key: KEY_HEX } } });
    const r = await call('PUT', `${BASE}/rot/credentials`, {
      body: { psk: { identity: 'rot-2', key: KEY_HEX } },
    });
    expect(r.status).toBe(200);
    expect(await ports.credentials.pskByIdentity('rot-1')).toBeUndefined();
    expect((await call('GET', `${BASE}/rot/credentials`)).body).toEqual({ type: 'psk', identity: 'rot-2' });
    expect((await call('DELETE', `${BASE}/rot/credentials`)).status).toBe(204);
    expect(await ports.credentials.pskByIdentity('rot-2')).toBeUndefined();
    expectProblem(
      await call('GET', `${BASE}/rot/credentials`),
      404,
      'urn:lwm2m-cluster:problem:unknown-credential',
    );
    expectProblem(await call('DELETE', `${BASE}/rot/credentials`), 404);
  });
});

describe('OSCORE credentials (issue 14 item 3)', () => {
  const oscore = (over: Record<string, unknown> = {}) => ({
    oscore: { masterSecret: KEY_HEX, masterSalt: 'a1b2', senderId: '01', recipientId: 'c1', ...over },
  });

  it('sets an OSCORE context, answering the ids and keySet, never the Master Secret or Salt', async () => {
    const r = await call('PUT', `${BASE}/urn:dev:osc-1/credentials`, {
      body: oscore({ idContext: '37cbf3210017a2d3' }),
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      type: 'oscore',
      oscore: { senderId: '01', recipientId: 'c1', idContext: '37cbf3210017a2d3', keySet: true },
    });
    const g = await call('GET', `${BASE}/urn:dev:osc-1/credentials`);
    expect(g.body).toEqual(r.body);
    expect(g.text).not.toContain('a1b2');
    // The store has it, secret included, for the gateway's lookup by kid.
    const held = await ports.credentials.oscoreByKid(Buffer.from('c1', 'hex'));
    expect(held?.endpoint).toBe('urn:dev:osc-1');
    expect(held?.oscore.masterSecret.equals(KEY)).toBe(true);
  });

  it('refuses bad hex, short secrets, long ids, equal ids, unknown algorithms and two modes (400)', async () => {
    for (const body of [
      oscore({ masterSecret: 'zz' }),
      oscore({ masterSecret: '0011' }),
      oscore({ senderId: '0102030405060708' }),
      oscore({ recipientId: '01' }),
      oscore({ aead: 99 }),
      oscore({ hkdf: 'md5' }),
      oscore({ idContext: 'abc' }),
      { ...oscore(), psk: { identity: 'x', key: KEY_HEX } },
      { oscore: { masterSecret: KEY_HEX, senderId: '01' } },
    ]) {
      const r = await call('PUT', `${BASE}/osc-bad/credentials`, { body });
      expectProblem(r, 400);
    }
    expect(await ports.credentials.get('osc-bad')).toBeUndefined();
  });

  it('answers 409 when another endpoint holds the kid (recipientId)', async () => {
    await call('PUT', `${BASE}/osc-holder/credentials`, { body: oscore({ recipientId: 'd1' }) });
    const r = await call('PUT', `${BASE}/osc-thief/credentials`, {
      body: oscore({ recipientId: 'd1', senderId: '02' }),
    });
    expectProblem(r, 409, 'urn:lwm2m-cluster:problem:credential-conflict');
    expect(await ports.credentials.endpointByOscoreKid(Buffer.from('d1', 'hex'))).toBe('osc-holder');
  });

  it('is documented in the OpenAPI document, the secret write-only', async () => {
    const r = await api.call('GET', '/api/docs-json');
    expect(r.body.components.schemas.OscoreBodyDto.properties.masterSecret.writeOnly).toBe(true);
    expect(r.body.components.schemas.OscoreBodyDto.properties.recipientId.description).toContain('kid');
  });
});

describe('the pre-shared key', () => {
  it('appeared in no answer and no log line of this file', () => {
    expect(answers.length).toBeGreaterThan(20);
    // The capture works: Nest logged its route table and the 500 above.
    expect(logger.lines.some((l) => l.includes('/credentials'))).toBe(true);
    const forms = [KEY_HEX, KEY_HEX.toUpperCase(), KEY.toString('base64'), KEY_HEX.slice(0, 16)];
    for (const text of [
      ...answers.map((a) => `${JSON.stringify([...a.headers])} ${a.text}`),
      ...logger.lines,
    ]) {
      for (const f of forms) expect(text).not.toContain(f);
    }
  });

  it('is marked write-only in the OpenAPI document', async () => {
    const r = await api.call('GET', '/api/docs-json');
    expect(r.body.components.schemas.PskBodyDto.properties.key.writeOnly).toBe(true);
    expect(Object.keys(r.body.components.schemas.CredentialsDto.properties)).not.toContain('key');
  });
});

describe('roles', () => {
  const ADMIN = 'admin-key-0123456789';
  const WRITER = 'writer-key-0123456789';
  const READER = 'reader-key-0123456789';
  let keyed: TestApi;
  beforeAll(async () => {
    keyed = await startApi(ports, { apiKeys: `${ADMIN}:admin,${WRITER}:write,${READER}:read` });
  });
  afterAll(() => keyed.close());
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  it('lets only the admin role set or delete credentials; read may GET', async () => {
    const body = { psk: { identity: 'roles', key: KEY_HEX } };
    for (const key of [READER, WRITER]) {
      const r = await keyed.call('PUT', `${BASE}/roles/credentials`, { body, headers: as(key) });
      expectProblem(r, 403, 'urn:lwm2m-cluster:problem:forbidden');
    }
    expect((await keyed.call('PUT', `${BASE}/roles/credentials`, { body, headers: as(ADMIN) })).status).toBe(
      201,
    );
    expect((await keyed.call('GET', `${BASE}/roles/credentials`, { headers: as(READER) })).status).toBe(200);
    expect((await keyed.call('DELETE', `${BASE}/roles/credentials`, { headers: as(WRITER) })).status).toBe(
      403,
    );
    expect((await keyed.call('DELETE', `${BASE}/roles/credentials`, { headers: as(ADMIN) })).status).toBe(
      204,
    );
  });
});
