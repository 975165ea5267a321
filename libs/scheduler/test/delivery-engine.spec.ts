// The delivery engine's judgement of attempts whose answer it did not get (a lost bus reply, a stopped
// scheduler, a gateway lost mid-run), on the real Redis store and on its in-memory twin (memory mode). The command bus here plays a gateway that
// crashes at chosen points (fault injection); everything else is real.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandBus,
  type DeviceCommand,
  type DeviceCommandResult,
  InMemoryEventBus,
  InMemoryRegistrationStore,
  type Registration,
} from '@lwm2m/server';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { DeliveryEngine } from '../src/delivery-engine';
import { InMemoryRequestStore } from '../src/in-memory-request-store';
import { RedisRequestStore } from '../src/redis-request-store';
import type { RequestStore } from '../src/request-store';

let redis: RedisHandle;
let conn: Redis;
let store: RequestStore;

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
});

afterAll(async () => {
  conn?.disconnect();
  await redis?.stop();
});

/** A gateway whose behaviour per call the test scripts; it runs only what the ledger lets begin. */
function gateway(script: Array<'run' | 'lost-before-begin' | 'lost-after-begin'>) {
  const runs: string[] = [];
  const bus: CommandBus = {
    async execute(cmd: DeviceCommand): Promise<DeviceCommandResult> {
      const step = script.shift() ?? 'run';
      const timeout: DeviceCommandResult = { id: cmd.id, ok: false, status: 504, error: 'no answer' };
      if (step === 'lost-before-begin') return timeout;
      if (!(await store.begin(cmd.id, cmd.delivery!))) return { id: cmd.id, ok: false, status: 409 };
      if (step === 'lost-after-begin') return timeout; // ran on the device, never recorded
      runs.push(cmd.id);
      const result = { id: cmd.id, ok: true, status: 204, coapCode: '2.04' };
      await store.complete(cmd.id, cmd.delivery!, result);
      return result;
    },
    serve: () => Promise.reject(new Error('not a gateway')),
  };
  return { bus, runs };
}

async function setup(ep: string, script: Parameters<typeof gateway>[0]) {
  const registrations = new InMemoryRegistrationStore();
  const clock = { now: 1_000_000 };
  await registrations.register({
    registrationId: `r-${ep}`,
    endpoint: ep,
    lwm2mVersion: '1.1',
    lifetime: 86400,
    binding: 'U',
    queueMode: false,
    address: { address: '127.0.0.1', port: 1 },
    session: { kind: 'address', address: '127.0.0.1', port: 1, secure: false },
    rootPath: '/',
    objectLinks: [],
    supportedContentFormats: [],
    registeredAt: 0,
    lastUpdate: 0,
    lastSeen: 0,
    expiresAt: 1e15,
    security: 'nosec',
  } satisfies Registration);
  const gw = gateway(script);
  const engine = new DeliveryEngine({
    store,
    registrations,
    commands: gw.bus,
    events: new InMemoryEventBus(),
    policy: { maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 10 },
    awakeWindowMs: 93_000,
    graceMs: 100,
    pollMs: 10,
    now: () => clock.now,
  });
  await store.enqueue({
    id: `${ep}-1`,
    endpoint: ep,
    command: { id: `${ep}-1`, endpoint: ep, op: 'execute', path: '/3/0/4', timeoutMs: 1000 },
    origin: 'operator',
    acceptedAt: clock.now,
    expiresAt: clock.now + 3_600_000,
  });
  return { engine, clock, runs: gw.runs };
}

const STORES: Array<{ name: string; create: () => RequestStore }> = [
  { name: 'Redis', create: () => new RedisRequestStore(conn, { keyPrefix: 'e:' }) },
  { name: 'in-memory', create: () => new InMemoryRequestStore() },
];

describe.each(STORES)('DeliveryEngine on the $name request store', ({ create }) => {
  beforeAll(() => {
    store = create();
  });

  it('fences off an attempt no gateway began, then delivers it once', async () => {
    const { engine, clock, runs } = await setup('ep-fence', ['lost-before-begin', 'run']);
    const first = await engine.flush('ep-fence');
    expect(first.stop).toBe('backoff'); // requeued, not counted
    clock.now = first.at!;
    await engine.flush('ep-fence');
    const r = await store.get('ep-fence-1');
    expect(r?.state).toBe('succeeded');
    expect(r?.attempts).toBe(1);
    expect(runs).toEqual(['ep-fence-1']);
  });

  it('ends an attempt a gateway began but never recorded as failed with an unknown outcome, never run again', async () => {
    const { engine, clock, runs } = await setup('ep-lost', ['lost-after-begin', 'run']);
    const first = await engine.flush('ep-lost');
    expect(first.stop).toBe('inflight');
    expect(first.at).toBe(1_000_000 + 2 * 1000 + 100); // 2 x timeout + grace after the start
    clock.now = first.at!;
    await engine.flush('ep-lost');
    const r = await store.get('ep-lost-1');
    expect(r?.state).toBe('failed');
    expect(r?.error).toMatch(/outcome unknown/);
    expect(runs).toEqual([]);
  });
});
