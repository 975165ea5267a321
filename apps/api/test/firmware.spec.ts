// /api/v1/firmware and /api/v1/devices/{ep}/firmware over fake ports: roles (upload and delete are admin,
// the HTTP content is public for devices), the commands a push and a pull put on the bus, the audit trail,
// problem+json for bad input, and the Range header parser (RFC 9110 section 14) against mutated headers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirmwareStores, type FirmwareStores, type FirmwareImage } from '@lwm2m/firmware';
import { parseRange } from '../src/firmware/firmware.controller';
import { fakePorts, registration, type TestPorts } from './fakes';
import { startApi, type TestApi } from './harness';
import { mutate, prng } from '../../../test/support/fuzz';

const ADMIN = 'a'.repeat(32);
const WRITER = 'w'.repeat(32);
const READER = 'r'.repeat(32);
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

let ports: TestPorts;
let firmware: FirmwareStores;
let api: TestApi;

beforeAll(async () => {
  ports = fakePorts();
  firmware = createFirmwareStores({
    FIRMWARE_MAX_BYTES: 100_000,
    FIRMWARE_REDIS_MAX_BYTES: 100_000,
    FIRMWARE_COAP_BASE: 'coaps://gw.example.com:5684',
  });
  api = await startApi({ ...ports, firmware }, { apiKeys: `${ADMIN}:admin,${WRITER}:write,${READER}:read` });
  await ports.registrations.register(registration('dev-1'));
});

afterAll(async () => {
  await api?.close();
});

async function upload(key: string, body: Buffer) {
  const res = await fetch(`${api.base}/api/v1/firmware?name=x&version=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...auth(key) },
    body,
  });
  return { status: res.status, body: (await res.json()) as FirmwareImage & { type?: string } };
}

describe('firmware routes', () => {
  let image: FirmwareImage;

  it('takes uploads from admins only (403 for a writer), 415 for JSON', async () => {
    expect((await upload(WRITER, randomBytes(10))).status).toBe(403);
    expect((await upload(READER, randomBytes(10))).status).toBe(403);
    const json = await api.call('POST', '/api/v1/firmware?name=x&version=1', {
      body: {},
      headers: auth(ADMIN),
    });
    expect(json.status).toBe(415);
    const ok = await upload(ADMIN, randomBytes(50_000));
    expect(ok.status).toBe(201);
    image = ok.body;
    expect((await firmware.images.list()).length).toBe(1);
  });

  it('refuses an upload over the limit by its Content-Length with 413 problem+json', async () => {
    const big = await upload(ADMIN, randomBytes(100_001));
    expect(big.status).toBe(413);
    expect(big.body.type).toBe('urn:lwm2m-cluster:problem:payload-too-large');
  });

  it('lists for readers, serves the content without a key, deletes for admins only', async () => {
    expect((await api.call('GET', '/api/v1/firmware', { headers: auth(READER) })).body.items).toHaveLength(1);
    expect((await api.call('GET', '/api/v1/firmware')).status).toBe(401);
    const content = await fetch(`${api.base}/api/v1/firmware/${image.id}/content`, {
      headers: { range: 'bytes=-10' },
    });
    expect(content.status).toBe(206);
    expect((await content.arrayBuffer()).byteLength).toBe(10);
    expect((await api.call('DELETE', `/api/v1/firmware/${image.id}`, { headers: auth(WRITER) })).status).toBe(
      403,
    );
  });

  it('puts a firmware-push command on the bus for a push, and audits it', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: true, status: 202 });
    const res = await api.call('POST', '/api/v1/devices/dev-1/firmware', {
      body: { imageId: image.id, mode: 'push' },
      headers: auth(WRITER),
    });
    expect(res.status).toBe(202);
    expect(ports.commands.last).toMatchObject({ op: 'firmware-push', endpoint: 'dev-1', imageId: image.id });
    const audit = await api.call('GET', '/api/v1/audit', { headers: auth(ADMIN) });
    expect(JSON.stringify(audit.body)).toContain('firmware-update');
  });

  it('writes the Package URI from FIRMWARE_COAP_BASE for a pull', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: true, status: 204 });
    const res = await api.call('POST', '/api/v1/devices/dev-1/firmware', {
      body: { imageId: image.id, mode: 'pull' },
      headers: auth(WRITER),
    });
    expect(res.status).toBe(202);
    expect(res.body.packageUri).toBe(`coaps://gw.example.com:5684/fw/${image.id}`);
    expect(ports.commands.last).toMatchObject({
      op: 'write',
      path: '/5/0/1',
      values: [{ path: '/5/0/1', type: 'string', value: `coaps://gw.example.com:5684/fw/${image.id}` }],
    });
  });

  it('refuses a reader (403), a bad Package URI (400) and reports an unknown push (404)', async () => {
    const post = (body: unknown, key = WRITER) =>
      api.call('POST', '/api/v1/devices/dev-1/firmware', { body, headers: auth(key) });
    expect((await post({ imageId: image.id, mode: 'push' }, READER)).status).toBe(403);
    expect((await post({ imageId: image.id, mode: 'pull', packageUri: 'file:///etc/passwd' })).status).toBe(
      400,
    );
    expect((await api.call('GET', '/api/v1/devices/dev-1/firmware', { headers: auth(READER) })).status).toBe(
      404,
    );
  });
});

describe('parseRange', () => {
  it('reads single byte ranges and refuses what cannot be satisfied', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual([0, 9]);
    expect(parseRange('bytes=90-', 100)).toEqual([90, 99]);
    expect(parseRange('bytes=-5', 100)).toEqual([95, 99]);
    expect(parseRange('bytes=50-500', 100)).toEqual([50, 99]);
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('items=0-1', 100)).toBeUndefined();
    expect(parseRange(undefined, 100)).toBeUndefined();
  });

  it('gives a range inside the image or none for any mutated header (seeded)', () => {
    const rand = prng(7);
    const seeds = ['bytes=0-9', 'bytes=-5', 'bytes=90-', 'bytes=12345678901234567890-'].map((s) =>
      Buffer.from(s),
    );
    for (let i = 0; i < 50_000; i++) {
      const size = 1 + Math.floor(rand() * 1000);
      const r = parseRange(mutate(rand, seeds[i % seeds.length]!, seeds).toString('latin1'), size);
      if (r === undefined || r === 'unsatisfiable') continue;
      expect(r[0]).toBeGreaterThanOrEqual(0);
      expect(r[1]).toBeLessThan(size);
      expect(r[0]).toBeLessThanOrEqual(r[1]);
    }
  });
});
