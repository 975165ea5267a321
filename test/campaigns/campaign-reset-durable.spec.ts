// The reset a cancel owes an interrupted device is durable (DeviceRun.resetPending, stored with the
// interruption): a process that stopped or failed before the device acknowledged it leaves it to the next
// tick of any engine (a new instance, as after a crash), and a reset that never succeeds is given up after
// its attempts, with the error on the run and counted. The engine on the Redis store, scripted devices,
// the clock driven by hand.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CampaignEngine,
  type CampaignCommand,
  type CampaignDevices,
  DEFAULT_POLICY,
  newRun,
  onInterrupt,
  type Reachability,
  RedisCampaignStore,
} from '@lwm2m/campaigns';
import type { DeviceCommandResult, Lwm2mEvent } from '@lwm2m/server';
import { type RedisHandle, startRedis } from '../support/redis';

const URI = 'coap://127.0.0.1/fw/img';
const isReset = (cmd: CampaignCommand) => cmd.op === 'write' && cmd.values?.[0]?.value === '';

/** Answers everything; a reset (an empty Package URI) as `onReset` says. */
class ScriptedDevices implements CampaignDevices {
  sent: Array<{ ep: string; cmd: CampaignCommand }> = [];
  reach: Reachability = 'reachable';
  /** When set, a write of a non-empty Package URI waits for it. */
  hold?: Promise<void>;
  constructor(public onReset: () => Promise<DeviceCommandResult> = async () => ok(204)) {}

  async reachability(): Promise<Reachability> {
    return this.reach;
  }

  async run(ep: string, cmd: CampaignCommand): Promise<DeviceCommandResult> {
    this.sent.push({ ep, cmd });
    if (isReset(cmd)) return this.onReset();
    if (cmd.op === 'write' && this.hold) await this.hold;
    return { ...ok(cmd.op === 'observe' ? 205 : 204), observationId: `obs-${ep}` };
  }

  resets(ep: string): number {
    return this.sent.filter((s) => s.ep === ep && isReset(s.cmd)).length;
  }
}

function ok(status: number): DeviceCommandResult {
  return { id: 'x', ok: true, status };
}

function report(endpoint: string, state: number): Lwm2mEvent {
  return {
    type: 'notification',
    endpoint,
    observationId: `obs-${endpoint}`,
    paths: ['/5/0'],
    values: [
      { path: '/5/0/3', type: 'integer', value: state },
      { path: '/5/0/5', type: 'integer', value: 0 },
    ],
  } as Lwm2mEvent;
}

describe('an interrupted device owes its reset until it is acknowledged (engine and Redis store)', () => {
  let redis: RedisHandle;
  let conn: Redis;
  let store: RedisCampaignStore;
  let n = 0;
  let t = 1_800_000_000_000;
  const clock = () => t;

  beforeAll(async () => {
    redis = await startRedis();
    conn = new Redis(redis.url);
    store = new RedisCampaignStore(conn as never, { keyPrefix: 'reset:' });
  });
  afterAll(async () => {
    conn?.disconnect();
    await redis?.stop();
  });

  const engineWith = (devices: CampaignDevices, errors: unknown[] = [], resetAttempts?: number) =>
    new CampaignEngine({
      store,
      devices,
      now: clock,
      redriveAfterMs: 1000,
      ...(resetAttempts !== undefined ? { resetAttempts } : {}),
      onError: (e) => errors.push(e),
    });

  /** A campaign with one device downloading (engine `e`), then cancelled (not settled yet). */
  const downloading = async (ep: string, e: CampaignEngine) => {
    const id = `cmp-reset${String(++n).padStart(4, '0')}`;
    const r = await store.create(
      {
        id,
        imageId: 'img',
        mode: 'pull',
        packageUri: URI,
        policy: { ...DEFAULT_POLICY, maxAttempts: 1 },
        window: {},
        endpoints: [ep],
        createdAt: t,
      },
      [newRun(ep, false, t)],
    );
    expect(r.ok).toBe(true);
    await e.tick(id);
    await e.onEvent(report(ep, 1));
    expect((await store.getRun(id, ep))!.state).toBe('downloading');
    expect(await store.update(id, ['running'], { state: 'cancelled' }, t)).toBe(true);
    return id;
  };

  it('a reset whose command threw is sent by a new engine on its tick, then the campaign ends', async () => {
    const errorsA: unknown[] = [];
    const a = new ScriptedDevices(async () => {
      throw new Error('process going down');
    });
    const engineA = engineWith(a, errorsA);
    const id = await downloading('t-1', engineA);
    await engineA.settle(id);
    expect(a.resets('t-1')).toBe(1);
    expect(String(errorsA.at(-1))).toContain('process going down');
    // Owed: recorded on the run, the campaign not ended, the device still the campaign's.
    expect((await store.getRun(id, 't-1'))!).toMatchObject({
      state: 'cancelled',
      interrupted: 'downloading',
      resetPending: true,
      resetAttempts: 1,
    });
    expect(await store.resets(id)).toEqual({ owed: 1, failed: 0 });
    expect((await store.get(id))!.endedAt).toBeUndefined();
    expect(await store.running()).toContain(id);
    expect(await store.campaignOf('t-1')).toBe(id);

    // A new engine (as after a crash): not before the backoff, then on its tick.
    const b = new ScriptedDevices();
    const engineB = engineWith(b);
    await engineB.tickAll();
    expect(b.resets('t-1')).toBe(0);
    t += 1000;
    await engineB.tickAll();
    expect(b.resets('t-1')).toBe(1);
    const run = (await store.getRun(id, 't-1'))!;
    expect(run.resetPending).toBeUndefined();
    expect(run).toMatchObject({ state: 'cancelled', resetAttempts: 2 });
    expect(await store.resets(id)).toEqual({ owed: 0, failed: 0 });
    expect((await store.get(id))!.endedAt).toBe(t);
    expect(await store.running()).not.toContain(id);
    expect(await store.campaignOf('t-1')).toBeUndefined();
    // Acknowledged: no tick sends it again.
    t += 60_000;
    await engineB.tick(id);
    expect(b.resets('t-1')).toBe(1);
  });

  it('an interruption stored by a process that stopped before any reset is sent at once by the next tick', async () => {
    const a = new ScriptedDevices();
    const id = await downloading('s-1', engineWith(a));
    // What the interrupting process stored, and nothing more (it stopped right after the write).
    const run = (await store.getRun(id, 's-1'))!;
    const d = onInterrupt(run, 'campaign cancelled', t)!;
    expect(d.action).toBe('interrupt');
    expect(await store.casRun(id, { ...d.run, rev: run.rev + 1 })).toBe('ok');
    expect(a.resets('s-1')).toBe(0);
    const b = new ScriptedDevices();
    await engineWith(b).tickAll();
    expect(b.resets('s-1')).toBe(1);
    expect((await store.getRun(id, 's-1'))!.resetPending).toBeUndefined();
    expect((await store.get(id))!.endedAt).toBeDefined();
  });

  it('a reset that never succeeds is given up after its attempts, with the error, and counted', async () => {
    const errors: unknown[] = [];
    const devices = new ScriptedDevices(async () => ({ id: 'x', ok: false, status: 404, coapCode: '4.04' }));
    const engine = engineWith(devices, errors, 3);
    const id = await downloading('f-1', engine);
    await engine.settle(id);
    expect(devices.resets('f-1')).toBe(1);
    // Backoff from redriveAfterMs, doubling: due again after 1 s, then after 2 s.
    t += 999;
    await engine.tick(id);
    expect(devices.resets('f-1')).toBe(1);
    t += 1;
    await engine.tick(id);
    expect(devices.resets('f-1')).toBe(2);
    t += 1999;
    await engine.tick(id);
    expect(devices.resets('f-1')).toBe(2);
    expect((await store.get(id))!.endedAt).toBeUndefined();
    t += 1;
    await engine.tick(id);
    expect(devices.resets('f-1')).toBe(3);
    const run = (await store.getRun(id, 'f-1'))!;
    expect(run).toMatchObject({ state: 'cancelled', resetFailed: true, resetAttempts: 3 });
    expect(run.resetPending).toBeUndefined();
    expect(run.error).toMatch(/the reset was given up after 3 attempts: \/5\/0\/1: 4\.04/);
    expect(await store.resets(id)).toEqual({ owed: 0, failed: 1 });
    expect(errors.map(String).filter((e) => e.includes('reset attempt'))).toHaveLength(3);
    // Given up: the campaign ends, the device is free, and no later tick tries again.
    expect((await store.get(id))!.endedAt).toBe(t);
    expect(await store.campaignOf('f-1')).toBeUndefined();
    t += 3_600_000;
    await engine.tick(id);
    expect(devices.resets('f-1')).toBe(3);
  });

  it('a write answered after the campaign ended owes a reset again, retried by the tick until acknowledged', async () => {
    const devices = new ScriptedDevices();
    const engine = engineWith(devices);
    const id = `cmp-reset${String(++n).padStart(4, '0')}`;
    await store.create(
      {
        id,
        imageId: 'img',
        mode: 'pull',
        packageUri: URI,
        policy: { ...DEFAULT_POLICY, maxAttempts: 1 },
        window: {},
        endpoints: ['w-1'],
        createdAt: t,
      },
      [newRun('w-1', false, t)],
    );
    let release!: () => void;
    devices.hold = new Promise<void>((r) => (release = r));
    const ticking = engine.tick(id);
    for (let i = 0; i < 200 && !devices.sent.some((x) => x.cmd.op === 'write'); i++)
      await new Promise((r) => setTimeout(r, 10));
    // The URI write is on its way when the campaign is cancelled: the reset is acknowledged, the campaign ends.
    await store.update(id, ['running'], { state: 'cancelled' }, t);
    await engine.settle(id);
    expect(devices.resets('w-1')).toBe(1);
    expect((await store.get(id))!.endedAt).toBeDefined();
    expect(await store.running()).not.toContain(id);
    // Then the write is answered; the reset it now owes fails once.
    devices.onReset = async () => ({ id: 'x', ok: false, status: 504, error: 'timeout' });
    release();
    await ticking;
    expect(devices.resets('w-1')).toBe(2);
    expect((await store.getRun(id, 'w-1'))!).toMatchObject({ resetPending: true, resetAttempts: 1 });
    // Ticked again although it had ended, until the device acknowledged it; then retired once more.
    expect(await store.running()).toContain(id);
    devices.onReset = async () => ok(204);
    t += 1000;
    await engine.tickAll();
    expect(devices.resets('w-1')).toBe(3);
    expect((await store.getRun(id, 'w-1'))!.resetPending).toBeUndefined();
    expect(await store.resets(id)).toEqual({ owed: 0, failed: 0 });
    expect(await store.running()).not.toContain(id);
  });

  it('a reset owed again after another campaign took the device is not sent (it would cancel that download)', async () => {
    const devices = new ScriptedDevices();
    const engine = engineWith(devices);
    const def = (id: string) => ({
      id,
      imageId: 'img',
      mode: 'pull' as const,
      packageUri: URI,
      policy: { ...DEFAULT_POLICY, maxAttempts: 1 },
      window: {},
      endpoints: ['o-1'],
      createdAt: t,
    });
    const first = `cmp-reset${String(++n).padStart(4, '0')}`;
    await store.create(def(first), [newRun('o-1', false, t)]);
    let release!: () => void;
    devices.hold = new Promise<void>((r) => (release = r));
    const ticking = engine.tick(first);
    for (let i = 0; i < 200 && !devices.sent.some((x) => x.cmd.op === 'write'); i++)
      await new Promise((r) => setTimeout(r, 10));
    await store.update(first, ['running'], { state: 'cancelled' }, t);
    await engine.settle(first);
    expect(devices.resets('o-1')).toBe(1);
    // The device is free: a second campaign takes it before the first one's late write is answered.
    const second = `cmp-reset${String(++n).padStart(4, '0')}`;
    expect((await store.create(def(second), [newRun('o-1', false, t)])).ok).toBe(true);
    expect(await store.campaignOf('o-1')).toBe(second);
    release();
    await ticking;
    // Owed, then settled without a reset: the second campaign's device is left alone, and still its own.
    expect(devices.resets('o-1')).toBe(1);
    expect((await store.getRun(first, 'o-1'))!.resetPending).toBeUndefined();
    expect(await store.campaignOf('o-1')).toBe(second);
  });

  it('an owed reset is sent when its device registers again, not after the backoff', async () => {
    const devices = new ScriptedDevices(async () => ({
      id: 'x',
      ok: false,
      status: 404,
      error: 'not registered',
    }));
    const engine = engineWith(devices);
    const id = await downloading('r-1', engine);
    await engine.settle(id);
    expect(devices.resets('r-1')).toBe(1);
    expect((await store.getRun(id, 'r-1'))!.resetPending).toBe(true);
    devices.onReset = async () => ok(204);
    // No time passes: the registration makes it due.
    await engine.onEvent({ type: 'registered', endpoint: 'r-1' } as Lwm2mEvent);
    expect(devices.resets('r-1')).toBe(2);
    expect((await store.getRun(id, 'r-1'))!.resetPending).toBeUndefined();
    expect((await store.get(id))!.endedAt).toBe(t);
  });
});
