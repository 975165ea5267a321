// The compact registration record (registration-record.ts): what it costs in Redis (issue 12 item 5: <= 1 KiB
// per device with a 10-object link list, index entries included), that it round-trips every Registration,
// and that records of the first format (a hash with the Registration's JSON) are still read and upgraded.
import { randomBytes } from 'node:crypto';
import { addressRef, cidRef, formatSessionRef } from '@lwm2m/transport';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import type { Registration, UpdateAnnouncement } from '@lwm2m/server';
import fc from 'fast-check';
import Redis from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from '../src/registration-record';
import { makeObservation, makeRegistration } from '../../server/test/contracts';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

/** A device as the issue pictures it: ten object instances behind the root link. */
const TEN_OBJECTS = [
  '/1/0',
  '/3/0',
  '/4/0',
  '/5/0',
  '/6/0',
  '/7/0',
  '/3303/0',
  '/3303/1',
  '/3304/0',
  '/3305/0',
];

function tenObjectDevice(endpoint: string): Registration {
  return makeRegistration(endpoint, {
    objectLinks: [
      { path: '/', attributes: { rt: '"oma.lwm2m"', ct: '110' } },
      ...TEN_OBJECTS.map((path) => ({ path, attributes: {} })),
    ],
    supportedContentFormats: [110],
  });
}

let server: RedisHandle;
let stores: RedisStores;
let raw: Redis;
beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url);
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});
beforeEach(() => {
  stores = createRedisStores(server.url, { keyPrefix: `k${randomBytes(3).toString('hex')}:` });
});
afterEach(async () => {
  await stores.close();
});

const usage = async (key: string) => Number((await raw.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);

describe('registration record size (issue 12 item 5)', () => {
  it('costs at most 1 KiB of Redis per device with a 10-object link list, index entries and presence included', async () => {
    const n = 200;
    const regs = Array.from({ length: n }, (_, i) =>
      tenObjectDevice(`urn:imei:35${String(i).padStart(13, '0')}`),
    );
    for (const reg of regs) await stores.registrations.register(reg);
    // A sighting, as every live device has (the presence record apart from the registration).
    await stores.registrations.touch(
      regs.map((r) => ({
        endpoint: r.endpoint,
        registrationId: r.registrationId,
        lastSeen: r.lastSeen + 1000,
        address: r.address,
        session: r.session,
        gatewayNode: 'gw-0',
      })),
      60_000,
    );
    const k = stores.keys;
    const record = (await Promise.all(regs.map((r) => usage(k.reg(r.endpoint))))).reduce((a, b) => a + b) / n;
    const presence =
      (await Promise.all(regs.map((r) => usage(k.presence(r.endpoint))))).reduce((a, b) => a + b) / n;
    let indexes = 0;
    for (const key of [k.regIdIndex, k.endpointRegIndex, k.endpointsIndex, k.expiryIndex])
      indexes += await usage(key);
    const perDevice = record + presence + indexes / n;
    console.log(
      `Redis per device (MEMORY USAGE, ${n} devices, 10-object link list): record ${record.toFixed(0)} B, ` +
        `presence ${presence.toFixed(0)} B, index entries ${(indexes / n).toFixed(0)} B; ` +
        `total ${perDevice.toFixed(0)} B`,
    );
    expect(perDevice).toBeLessThanOrEqual(1024);
    // And it reads back whole, presence merged.
    const back = await stores.registrations.getByEndpoint(regs[0]!.endpoint);
    expect(back).toEqual({ ...regs[0]!, lastSeen: regs[0]!.lastSeen + 1000, gatewayNode: 'gw-0' });
  });
});

describe('one call per change on a single Redis', () => {
  it("appends the event of a Register, an Update, a De-register and a notification in the change's own script", async () => {
    const reg = tenObjectDevice('urn:one-call:1');
    const event = { type: 'registered' as const, endpoint: reg.endpoint, registration: reg };
    const r = await stores.registrations.register(reg, event);
    expect(r.eventId).toMatch(/^\d+-\d+$/);
    const announce: UpdateAnnouncement = {
      event: (registration) => ({ type: 'updated', endpoint: reg.endpoint, registration }),
    };
    const updated = await stores.registrations.update(
      reg.registrationId,
      { lifetime: 9, expiresAt: reg.expiresAt + 9 },
      announce,
    );
    expect(announce.appended).toMatch(/^\d+-\d+$/);
    // The Update's index step ran in the same call: the expiry index follows it.
    expect(await stores.registrations.nextExpiry()).toBe(reg.expiresAt + 9);
    const v = [{ path: '/3303/0/5700', type: 'float' as const, value: 20 }];
    const n = {
      type: 'notification' as const,
      endpoint: reg.endpoint,
      observationId: 'o',
      paths: ['/3303/0/5700'],
      values: v,
    };
    const nid = await stores.values.put(reg.endpoint, v, 5, n);
    expect(nid).toMatch(/^\d+-\d+$/);
    const gone = {
      type: 'deregistered' as const,
      endpoint: reg.endpoint,
      registrationId: reg.registrationId,
      reason: 'device' as const,
    };
    const removed = await stores.registrations.deregister(reg.registrationId, gone);
    expect(removed?.eventId).toMatch(/^\d+-\d+$/);
    expect((await stores.events.recent(10, reg.endpoint)).map(({ at: _at, ...e }) => e)).toEqual([
      { ...event, id: r.eventId },
      { type: 'updated', endpoint: reg.endpoint, registration: updated, id: announce.appended },
      { ...n, id: nid },
      { ...gone, id: removed!.eventId },
    ]);
    // The De-register's index step ran too.
    expect(await raw.hget(stores.keys.regIdIndex, reg.registrationId)).toBeNull();
    expect(await raw.zscore(stores.keys.expiryIndex, reg.endpoint)).toBeNull();
  });
});

describe('registration record format', () => {
  const registration = fc.record({
    registrationId: fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/),
    lwm2mVersion: fc.constantFrom('1.0', '1.1', '1.2'),
    lifetime: fc.integer({ min: 1, max: 2 ** 31 }),
    binding: fc.constantFrom('U', 'UQ', 'T', 'UT'),
    queueMode: fc.boolean(),
    smsNumber: fc.option(fc.string(), { nil: undefined }),
    address: fc.record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }),
    session: fc.oneof(
      fc
        .record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }), secure: fc.boolean() })
        .map((a) => addressRef(a, a.secure)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => cidRef(Buffer.from(b))),
    ),
    rootPath: fc.constantFrom('/', '/lwm2m'),
    objectLinks: fc.array(
      fc.record({ path: fc.string(), attributes: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }) }),
      { maxLength: 12 },
    ),
    supportedContentFormats: fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }),
    registeredAt: fc.integer({ min: 0, max: 2 ** 45 }),
    lastUpdate: fc.integer({ min: 0, max: 2 ** 45 }),
    lastSeen: fc.integer({ min: 0, max: 2 ** 45 }),
    asleepAt: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: undefined }),
    expiresAt: fc.integer({ min: 0, max: 2 ** 45 }),
    gatewayNode: fc.option(fc.string(), { nil: undefined }),
    security: fc.constantFrom('nosec', 'psk', 'rpk', 'x509'),
    extraAttributes: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
  });

  it('round-trips every registration (fast-check)', () => {
    fc.assert(
      fc.property(registration, fc.string(), (r, endpoint) => {
        const reg = { ...r, endpoint } as Registration;
        for (const k of Object.keys(reg) as Array<keyof Registration>)
          if (reg[k] === undefined) delete reg[k];
        const { reg: back, header } = decodeRecord(endpoint, encodeRecord(reg, 7, '123'));
        expect(back).toEqual(reg);
        expect(header).toEqual({ id: reg.registrationId, exp: reg.expiresAt, v: 7, gen: '123' });
      }),
    );
  });

  it('refuses a registration id the header could not hold', () => {
    expect(() => encodeRecord(makeRegistration('x', { registrationId: 'a b' }), 1, '1')).toThrow(
      /registration id/,
    );
    expect(() => decodeRecord('x', 'not a record')).toThrow(/not readable/);
  });
});

describe('records of the first format (a hash with the Registration JSON)', () => {
  /** Writes `reg` as the first format did: the hash, and the index entries its Register wrote. */
  async function writeLegacy(reg: Registration, gen = '1700000000000000'): Promise<void> {
    const k = stores.keys;
    await raw.hset(
      k.reg(reg.endpoint),
      'id',
      reg.registrationId,
      'exp',
      reg.expiresAt,
      'v',
      1,
      'gen',
      gen,
      'json',
      // Its session as text in peerKey, as that format stored it.
      JSON.stringify({ ...reg, session: undefined, peerKey: formatSessionRef(reg.session) }),
    );
    await raw.hset(k.regIdIndex, reg.registrationId, reg.endpoint);
    await raw.hset(k.endpointRegIndex, reg.endpoint, `${gen}:${reg.registrationId}`);
    await raw.zadd(k.endpointsIndex, 0, reg.endpoint);
    await raw.zadd(k.expiryIndex, reg.expiresAt, reg.endpoint);
  }

  it('reads, lists, touches and updates one; the update rewrites it in the compact format', async () => {
    const reg = tenObjectDevice('urn:legacy:1');
    await writeLegacy(reg);
    expect(await raw.type(stores.keys.reg(reg.endpoint))).toBe('hash');
    expect(await stores.registrations.getByEndpoint(reg.endpoint)).toEqual(reg);
    expect(await stores.registrations.getById(reg.registrationId)).toEqual(reg);
    expect((await stores.registrations.list({ limit: 10 })).items).toEqual([reg]);
    const seen = {
      endpoint: reg.endpoint,
      registrationId: reg.registrationId,
      lastSeen: reg.lastSeen + 5,
      address: reg.address,
      session: reg.session,
    };
    expect(await stores.registrations.touch([seen], 60_000)).toEqual([{ registered: true }]);
    expect((await stores.registrations.getByEndpoint(reg.endpoint))?.lastSeen).toBe(reg.lastSeen + 5);
    const updated = await stores.registrations.update(reg.registrationId, {
      lifetime: 60,
      expiresAt: reg.expiresAt + 1,
    });
    expect(updated).toEqual({ ...reg, lifetime: 60, expiresAt: reg.expiresAt + 1 });
    expect(await raw.type(stores.keys.reg(reg.endpoint))).toBe('string');
    expect(await stores.registrations.getById(reg.registrationId)).toEqual({
      ...updated,
      lastSeen: reg.lastSeen + 5,
    });
    expect(await stores.registrations.nextExpiry()).toBe(reg.expiresAt + 1);
  });

  it('wakes a queue-mode device of the first format as before (the scripts read its JSON)', async () => {
    const reg = makeRegistration('urn:legacy:q', { queueMode: true, asleepAt: Date.now() + 10 });
    await writeLegacy(reg);
    const at = reg.asleepAt! + 100;
    const seen = {
      endpoint: reg.endpoint,
      registrationId: reg.registrationId,
      lastSeen: at,
      address: reg.address,
      session: reg.session,
    };
    expect(await stores.registrations.touch([seen], 60_000)).toEqual([
      { registered: true, wokeAfterMs: at - reg.lastSeen },
    ]);
  });

  it('is replaced by a new Register, deregistered and claimed at expiry', async () => {
    const old = makeRegistration('urn:legacy:2');
    await writeLegacy(old);
    const obs = makeObservation(old);
    await stores.observations.add(obs);
    const next = makeRegistration('urn:legacy:2');
    const res = await stores.registrations.register(next);
    expect(res.replaced).toEqual(old);
    expect(res.cancelledObservations).toEqual([obs]);
    expect(await stores.registrations.getById(old.registrationId)).toBeUndefined();

    const gone = makeRegistration('urn:legacy:3');
    await writeLegacy(gone);
    expect((await stores.registrations.deregister(gone.registrationId))?.registration).toEqual(gone);
    expect(await raw.exists(stores.keys.reg(gone.endpoint))).toBe(0);

    const due = makeRegistration('urn:legacy:4', { expiresAt: Date.now() - 1 });
    await writeLegacy(due);
    const claimed = await stores.registrations.claimExpired(Date.now(), 10);
    expect(claimed.map((c) => c.registration)).toEqual([due]);
  });
});
