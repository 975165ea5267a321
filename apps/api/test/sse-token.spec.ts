// The event-stream token (POST /api/v1/events/token, then GET /api/v1/events?sse_token=): what a browser's
// EventSource uses instead of an Authorization header. Attacks: an expired token, a forged or altered one,
// a token of a removed key, a token used on any other route or method, a token sent as a bearer key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../src/auth/api-keys';
import { mintSseToken, SSE_TOKEN_TTL_MS, verifySseToken } from '../src/auth/sse-tokens';
import { fakePorts, registration } from './fakes';
import { readSse, startApi, type TestApi } from './harness';

const API_KEYS = 'ops=admin-key-0001:admin,viewer=read-key-00001:read,writer=write-key-0001:write';
const ports = fakePorts();
let api: TestApi;

beforeAll(async () => {
  await ports.registrations.register(registration('dev1'));
  api = await startApi(ports, { apiKeys: API_KEYS, sseHeartbeatMs: 50 });
});
afterAll(() => api.close());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function mint(key: string): Promise<string> {
  const r = await api.call('POST', '/api/v1/events/token', { headers: bearer(key) });
  expect(r.status).toBe(201);
  expect(r.headers.get('cache-control')).toBe('no-store');
  return r.body.token as string;
}

async function openStream(query: string): Promise<{ status: number; res: Response; close(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${api.base}/api/v1/events${query}`, { signal: controller.signal });
  return { status: res.status, res, close: () => controller.abort() };
}

describe('event-stream tokens', () => {
  it('a token minted by a read key opens the stream as that key, and events arrive', async () => {
    const token = await mint('read-key-00001');
    expect(token).not.toContain('read-key-00001');
    const s = await openStream(`?sse_token=${encodeURIComponent(token)}&endpoint=dev1`);
    expect(s.status).toBe(200);
    const reading = readSse(s.res, (m) => m.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    await ports.events.publish({ type: 'registered', endpoint: 'dev1', registration: registration('dev1') });
    const { messages } = await reading;
    s.close();
    expect(messages[0].event).toBe('registered');
  });

  it('minting needs a key: 401 without one or with a wrong one', async () => {
    expect((await api.call('POST', '/api/v1/events/token')).status).toBe(401);
    expect(
      (await api.call('POST', '/api/v1/events/token', { headers: bearer('not-a-key-000') })).status,
    ).toBe(401);
  });

  it('an expired token is refused with 401', async () => {
    const keys = parseApiKeys(API_KEYS);
    const old = mintSseToken(keys, { name: 'ops', role: 'admin' }, Date.now() - SSE_TOKEN_TTL_MS - 1);
    expect(verifySseToken(keys, old.token)).toEqual({ refused: 'expired event-stream token' });
    const s = await openStream(`?sse_token=${encodeURIComponent(old.token)}`);
    s.close();
    expect(s.status).toBe(401);
  });

  it('forged and altered tokens are refused with 401', async () => {
    const token = await mint('read-key-00001');
    const [v, , exp, tag] = token.split('.');
    const forged = [
      `${v}.ops.${exp}.${tag}`, // a read key's signature under the admin key's name
      `${v}.viewer.${Number(exp) + 1000}.${tag}`, // a later expiry
      `${v}.viewer.${exp}.${Buffer.alloc(32).toString('base64url')}`,
      `${v}.viewer.${exp}.`,
      `${v}.nobody.${exp}.${tag}`,
      'sse1.viewer.99999999999999.AAAA',
      'garbage',
      '',
    ];
    for (const t of forged) {
      const s = await openStream(`?sse_token=${encodeURIComponent(t)}`);
      s.close();
      expect(s.status, t).toBe(401);
    }
    // A token signed with the right key but valid far longer than a token's lifetime: not minted by us.
    const keys = parseApiKeys(API_KEYS);
    const far = mintSseToken(keys, { name: 'viewer', role: 'read' }, Date.now() + 3_600_000);
    expect(verifySseToken(keys, far.token)).toEqual({ refused: 'invalid event-stream token' });
    // An array of tokens (?sse_token=a&sse_token=b) is not a token.
    const s = await openStream(`?sse_token=${token}&sse_token=${token}`);
    s.close();
    expect(s.status).toBe(401);
  });

  it('a token opens no other route, whatever the role of its key', async () => {
    const token = encodeURIComponent(await mint('admin-key-0001'));
    for (const [method, path] of [
      ['GET', '/api/v1/devices'],
      ['GET', '/api/v1/devices/dev1'],
      ['GET', '/api/v1/audit'],
      ['PUT', '/api/v1/devices/dev1/data/3/0/15'],
      ['POST', '/api/v1/events/token'],
    ] as const) {
      const r = await api.call(
        method,
        `${path}?sse_token=${token}`,
        method === 'PUT' ? { body: { value: 'x' } } : {},
      );
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.detail).toMatch(/token/);
    }
    // Nor is it an API key.
    expect(
      (await api.call('GET', '/api/v1/devices', { headers: bearer(decodeURIComponent(token)) })).status,
    ).toBe(401);
  });

  it('a token dies with its key: an api without that key refuses it', async () => {
    const token = await mint('write-key-0001');
    const other = await startApi(ports, { apiKeys: 'ops=admin-key-0001:admin' });
    try {
      const res = await fetch(`${other.base}/api/v1/events?sse_token=${encodeURIComponent(token)}`);
      await res.body?.cancel();
      expect(res.status).toBe(401);
      // ...and another api process with the same API_KEYS accepts it (no shared state needed).
      const same = await startApi(ports, { apiKeys: API_KEYS });
      const controller = new AbortController();
      const ok = await fetch(`${same.base}/api/v1/events?sse_token=${encodeURIComponent(token)}`, {
        signal: controller.signal,
      });
      controller.abort();
      await same.close();
      expect(ok.status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('a read key may mint a token but still may not write', async () => {
    await mint('read-key-00001');
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/3/0/15', {
      body: { value: 'x' },
      headers: bearer('read-key-00001'),
    });
    expect(r.status).toBe(403);
  });
});
