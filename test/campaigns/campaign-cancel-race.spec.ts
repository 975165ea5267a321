// The races of a cancel, on the engine with the Redis store and scripted devices (each step driven by hand):
// a Downloaded reported after the cancel never leads to an Execute; a write answered after the cancel's reset
// is reset again; a sleeping device gets its reset queued; an updating device is left to end as it reports.
import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CampaignEngine,
  type CampaignCommand,
  type CampaignDevices,
  DEFAULT_POLICY,
  newRun,
  type Reachability,
  RedisCampaignStore,
} from '@lwm2m/campaigns';
import type { DeviceCommandResult, Lwm2mEvent } from '@lwm2m/server';
import { type RedisHandle, startRedis } from '../support/redis';

class ScriptedDevices implements CampaignDevices {
  sent: Array<{ ep: string; cmd: CampaignCommand }> = [];
  queued: Array<{ ep: string; cmd: CampaignCommand }> = [];
  reach: Reachability = 'reachable';
  /** When set, a write of a non-empty Package URI waits for it. */
  hold?: Promise<void>;

  async reachability(): Promise<Reachability> {
    return this.reach;
  }

  async run(ep: string, cmd: CampaignCommand): Promise<DeviceCommandResult> {
    this.sent.push({ ep, cmd });
    if (cmd.op === 'write' && cmd.values?.[0]?.value !== '' && this.hold) await this.hold;
    return { id: 'x', ok: true, status: cmd.op === 'observe' ? 205 : 204, observationId: `obs-${ep}` };
  }

  async queue(ep: string, cmd: CampaignCommand) {
    this.queued.push({ ep, cmd });
    return { ok: true, requestId: 'q-1' };
  }

  ops(ep: string): string[] {
    return this.sent
      .filter((s) => s.ep === ep && s.cmd.op !== 'cancel-observation')
      .map((s) => `${s.cmd.op} ${s.cmd.path ?? ''} ${String(s.cmd.values?.[0]?.value ?? '')}`.trim());
  }
}

const URI = 'coap://127.0.0.1/fw/img';

function report(endpoint: string, state: number, result = 0): Lwm2mEvent {
  return {
    type: 'notification',
    endpoint,
    observationId: `obs-${endpoint}`,
    paths: ['/5/0'],
    values: [
      { path: '/5/0/3', type: 'integer', value: state },
      { path: '/5/0/5', type: 'integer', value: result },
    ],
  } as Lwm2mEvent;
}

describe('campaign cancel races (engine and Redis store)', () => {
  let redis: RedisHandle;
  let conn: Redis;
  let store: RedisCampaignStore;
  let devices: ScriptedDevices;
  let engine: CampaignEngine;
  const errors: unknown[] = [];
  let n = 0;

  beforeAll(async () => {
    redis = await startRedis();
    conn = new Redis(redis.url);
    store = new RedisCampaignStore(conn as never, { keyPrefix: 'race:' });
  });
  afterAll(async () => {
    conn?.disconnect();
    await redis?.stop();
  });
  beforeEach(() => {
    devices = new ScriptedDevices();
    errors.length = 0;
    engine = new CampaignEngine({ store, devices, onError: (e) => errors.push(e) });
  });

  const create = async (eps: string[], mode: 'pull' | 'push' = 'pull') => {
    const id = `cmp-race${String(++n).padStart(4, '0')}`;
    const now = Date.now();
    const r = await store.create(
      {
        id,
        imageId: 'img',
        mode,
        ...(mode === 'pull' ? { packageUri: URI } : {}),
        policy: { ...DEFAULT_POLICY, maxAttempts: 1 },
        window: {},
        endpoints: eps,
        createdAt: now,
      },
      eps.map((ep) => newRun(ep, false, now)),
    );
    expect(r.ok).toBe(true);
    return id;
  };
  const cancel = (id: string) => store.update(id, ['running', 'paused'], { state: 'cancelled' }, Date.now());

  it('the Lua script refuses a guarded step once the campaign is cancelled', async () => {
    const id = await create(['g-1']);
    const run = (await store.getRun(id, 'g-1'))!;
    await cancel(id);
    const next = { ...run, state: 'starting' as const, rev: run.rev + 1, attempts: 1 };
    expect(await store.casRun(id, next, undefined, ['running'])).toBe('stopped');
    expect((await store.getRun(id, 'g-1'))!.state).toBe('pending');
  });

  it('a Downloaded reported after the cancel is never executed: the device is reset instead', async () => {
    const id = await create(['d-1']);
    await engine.tick(id);
    expect(devices.ops('d-1')).toEqual(['observe /5/0', `write /5/0/1 ${URI}`]);
    await engine.onEvent(report('d-1', 1));
    expect((await store.getRun(id, 'd-1'))!.state).toBe('downloading');
    await cancel(id);
    await engine.onEvent(report('d-1', 2));
    const run = (await store.getRun(id, 'd-1'))!;
    expect(run).toMatchObject({ state: 'cancelled', interrupted: 'downloaded' });
    expect(devices.ops('d-1')).toEqual(['observe /5/0', `write /5/0/1 ${URI}`, 'write /5/0/1']);
    expect(devices.sent.some((s) => s.cmd.op === 'execute')).toBe(false);
    expect((await store.get(id))!.endedAt).toBeDefined();
  });

  it('a write answered after the reset of the cancel is reset again', async () => {
    const id = await create(['w-1']);
    let release!: () => void;
    devices.hold = new Promise<void>((r) => (release = r));
    const ticking = engine.tick(id);
    // The URI write is on its way (its intent stored) when the campaign is cancelled and interrupted.
    for (let i = 0; i < 100 && devices.ops('w-1').length < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(devices.ops('w-1')).toEqual(['observe /5/0', `write /5/0/1 ${URI}`]);
    await cancel(id);
    await engine.settle(id);
    expect((await store.getRun(id, 'w-1'))!).toMatchObject({ state: 'cancelled', interrupted: 'starting' });
    release();
    await ticking;
    // The last word to the device is a reset, after the URI write was answered.
    expect(devices.ops('w-1')).toEqual([
      'observe /5/0',
      `write /5/0/1 ${URI}`,
      'write /5/0/1',
      'write /5/0/1',
    ]);
  });

  it('push: the push is aborted, then the empty Package written as octet-stream', async () => {
    const id = await create(['p-1'], 'push');
    await engine.tick(id);
    await engine.onEvent(report('p-1', 1));
    await cancel(id);
    await engine.settle(id);
    const cmds = devices.sent.filter((s) => s.ep === 'p-1').map((s) => s.cmd);
    const abort = cmds.findIndex((c) => c.op === 'firmware-push-abort');
    const reset = cmds.findIndex((c) => c.op === 'write' && c.path === '/5/0/0');
    expect(abort).toBeGreaterThan(0);
    expect(reset).toBeGreaterThan(abort);
    expect(cmds[reset]).toMatchObject({
      contentFormat: 42,
      values: [{ path: '/5/0/0', type: 'opaque', value: '' }],
    });
  });

  it('sleeping devices get their reset queued, not sent', async () => {
    const id = await create(['s-1', 's-2']);
    await engine.tick(id);
    await engine.onEvent(report('s-1', 1));
    devices.reach = 'asleep';
    await cancel(id);
    await engine.settle(id);
    expect(devices.queued).toEqual([
      {
        ep: 's-1',
        cmd: { op: 'write', path: '/5/0/1', values: [{ path: '/5/0/1', type: 'string', value: '' }] },
      },
      {
        ep: 's-2',
        cmd: { op: 'write', path: '/5/0/1', values: [{ path: '/5/0/1', type: 'string', value: '' }] },
      },
    ]);
    expect(devices.ops('s-1').filter((o) => o === 'write /5/0/1')).toEqual([]);
    expect((await store.getRun(id, 's-1'))!).toMatchObject({
      state: 'cancelled',
      interrupted: 'downloading',
    });
  });

  it('an updating device is left to end as it reports; the campaign ends then', async () => {
    const id = await create(['u-1', 'u-2']);
    await engine.tick(id);
    await engine.onEvent(report('u-1', 2));
    expect(devices.ops('u-1')).toContain('execute /5/0/2');
    await engine.onEvent(report('u-1', 3));
    await cancel(id);
    await engine.settle(id);
    expect((await store.getRun(id, 'u-1'))!.state).toBe('updating');
    expect((await store.getRun(id, 'u-2'))!).toMatchObject({ state: 'cancelled', interrupted: 'starting' });
    expect((await store.get(id))!.endedAt).toBeUndefined();
    await engine.onEvent(report('u-1', 0, 1));
    expect((await store.getRun(id, 'u-1'))!.state).toBe('succeeded');
    const c = (await store.get(id))!;
    expect(c.state).toBe('cancelled');
    expect(c.endedAt).toBeDefined();
    expect(devices.ops('u-1').filter((o) => o.startsWith('write'))).toEqual([`write /5/0/1 ${URI}`]);
  });
});
