// The fan-out on a real redis-server with a scripted dispatcher: the rate limit and the in-flight cap hold,
// a runner that stops leaves nothing sent twice and another runner finishes the request, a lapsed lease is
// taken over, queued members finish when their device request does, and the deadline times out the rest.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import {
  type DispatchOutcome,
  GroupRunner,
  type GroupStore,
  type MemberDispatcher,
  type MemberResult,
  type NewGroupRequest,
  RedisGroupStore,
} from '../src';
import { InMemoryEventBus } from '@lwm2m/server';

let redis: RedisHandle;
let conn: Redis;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
});

afterAll(async () => {
  conn?.disconnect();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newStore(): GroupStore {
  return new RedisGroupStore(conn, { keyPrefix: `r${n++}:` });
}

function req(
  id: string,
  rate: { perSecond: number; maxInFlight: number },
  deadlineMs = 30_000,
): NewGroupRequest {
  const now = Date.now();
  return {
    id,
    group: 'g',
    spec: { op: 'read', path: '/3/0/0' },
    createdAt: now,
    createdBy: 'test',
    deadline: now + deadlineMs,
    timeoutMs: 1000,
    rate,
  };
}

/** Answers every device after `delayMs`; records when and how many were awaited at once. */
class ScriptedDispatcher implements MemberDispatcher {
  readonly sent: Array<{ endpoint: string; at: number }> = [];
  inFlight = 0;
  maxInFlight = 0;
  queued = new Map<string, MemberResult | undefined>();
  cancelled: string[] = [];

  constructor(
    private readonly delayMs: number,
    private readonly sleeping: ReadonlySet<string> = new Set(),
  ) {}

  async dispatch(endpoint: string): Promise<DispatchOutcome> {
    this.sent.push({ endpoint, at: Date.now() });
    if (this.sleeping.has(endpoint)) {
      this.queued.set(`q-${endpoint}`, undefined);
      return { kind: 'queued', requestId: `q-${endpoint}` };
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await sleep(this.delayMs);
    this.inFlight--;
    return {
      kind: 'result',
      result: {
        id: 'x',
        ok: true,
        status: 200,
        values: [{ path: '/3/0/0', value: endpoint, type: 'string' }],
      },
    };
  }

  async queuedResult(_endpoint: string, requestId: string): Promise<MemberResult | undefined> {
    return this.queued.get(requestId);
  }

  async cancelQueued(requestId: string): Promise<void> {
    this.cancelled.push(requestId);
  }
}

async function done(store: GroupStore, id: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = (await store.getRequest(id))!;
    if (r.state === 'completed' || r.state === 'cancelled') return r;
    if (Date.now() > end) throw new Error(`request ${id} did not finish: ${JSON.stringify(r.counts)}`);
    await sleep(25);
  }
}

const members = (count: number) => Array.from({ length: count }, (_, i) => `d${i}`);

describe('GroupRunner', () => {
  it('dispatches at the rate limit with at most maxInFlight awaited at once', async () => {
    const store = newStore();
    const dispatcher = new ScriptedDispatcher(60);
    const runner = new GroupRunner({ store, dispatcher, scanMs: 100 });
    await store.createRequest(req('rate', { perSecond: 100, maxInFlight: 4 }), members(60));
    const began = Date.now();
    runner.kick('rate');
    const r = await done(store, 'rate');
    await runner.close();
    expect(r.counts.succeeded).toBe(60);
    expect(dispatcher.maxInFlight).toBeLessThanOrEqual(4);
    // 60 devices at 100/s with a burst of 20: no sooner than ~0.4 s; 4 in flight x 60 ms caps it near 66/s.
    expect(Date.now() - began).toBeGreaterThanOrEqual(400);
    const firstSecond = dispatcher.sent.filter((s) => s.at - began < 200).length;
    expect(firstSecond).toBeLessThanOrEqual(25);
  });

  it('survives its runner: a second runner finishes, nothing is sent twice', async () => {
    const store = newStore();
    const first = new ScriptedDispatcher(200);
    const a = new GroupRunner({ store, dispatcher: first, owner: 'A' });
    await store.createRequest(req('takeover', { perSecond: 1000, maxInFlight: 5 }), members(30));
    a.kick('takeover');
    await sleep(100);
    await a.close(); // the api stops: 5 answers are lost with it
    const second = new ScriptedDispatcher(5);
    const b = new GroupRunner({ store, dispatcher: second, owner: 'B', scanMs: 50 });
    b.start();
    const r = await done(store, 'takeover');
    await b.close();
    const sentA = new Set(first.sent.map((s) => s.endpoint));
    expect(sentA.size).toBe(5);
    expect(second.sent.some((s) => sentA.has(s.endpoint))).toBe(false);
    expect(r.counts).toMatchObject({ succeeded: 25, failed: 5 });
    const unknown = (await store.results('takeover', 0, 100)).filter((m) => m.state === 'failed');
    expect(unknown.every((m) => sentA.has(m.endpoint) && /outcome unknown/.test(m.error ?? ''))).toBe(true);
    expect(b.counters.takeovers).toBe(5);
  });

  it('takes over a request whose lease lapsed (its runner died without releasing it)', async () => {
    const store = newStore();
    await store.createRequest(req('lapsed', { perSecond: 1000, maxInFlight: 10 }), members(10));
    expect(await store.lease('lapsed', 'dead', 400)).toBe(true);
    const dispatcher = new ScriptedDispatcher(1);
    const runner = new GroupRunner({ store, dispatcher, scanMs: 50 });
    runner.start();
    await sleep(250);
    expect(dispatcher.sent).toHaveLength(0); // the lease is still the dead runner's
    const r = await done(store, 'lapsed');
    await runner.close();
    expect(r.counts.succeeded).toBe(10);
  });

  it('finishes queued members when their device request does, and cancels them on cancel', async () => {
    const store = newStore();
    const dispatcher = new ScriptedDispatcher(1, new Set(['d0', 'd1']));
    const runner = new GroupRunner({ store, dispatcher, queuedPollMs: 50 });
    await store.createRequest(req('q', { perSecond: 1000, maxInFlight: 10 }), members(4));
    runner.kick('q');
    for (;;) {
      const r = (await store.getRequest('q'))!;
      if (r.counts.queued === 2 && r.counts.succeeded === 2) break;
      await sleep(20);
    }
    dispatcher.queued.set('q-d0', { endpoint: 'd0', state: 'succeeded', status: 200, at: Date.now() });
    for (;;) {
      if ((await store.getMember('q', 'd0'))?.state === 'succeeded') break;
      await sleep(20);
    }
    await store.requestCancel('q');
    const r = await done(store, 'q');
    await runner.close();
    expect(r.state).toBe('cancelled');
    expect(r.counts).toMatchObject({ succeeded: 3, cancelled: 1 });
    expect(dispatcher.cancelled).toEqual(['q-d1']);
  });

  it('times out at the deadline what did not answer, and sends nothing more', async () => {
    const store = newStore();
    const dispatcher = new ScriptedDispatcher(1, new Set(['d0']));
    const runner = new GroupRunner({ store, dispatcher, queuedPollMs: 50 });
    await store.createRequest(req('late', { perSecond: 5, maxInFlight: 1 }, 1000), members(20));
    runner.kick('late');
    const r = await done(store, 'late');
    await runner.close();
    expect(r.state).toBe('completed');
    expect(r.counts['timed-out']).toBe(20 - r.counts.succeeded);
    expect(r.counts.succeeded).toBeLessThanOrEqual(8);
    expect(dispatcher.cancelled).toEqual(['q-d0']);
    expect(dispatcher.sent.length).toBe(r.counts.succeeded + 1);
  });

  it("settles a queued member on its request's final event, without waiting for the poll", async () => {
    const store = newStore();
    const events = new InMemoryEventBus();
    const dispatcher = new ScriptedDispatcher(1, new Set(['d0']));
    const runner = new GroupRunner({ store, dispatcher, events, queuedPollMs: 60_000 });
    runner.start();
    await store.createRequest(req('ev', { perSecond: 1000, maxInFlight: 10 }), members(2));
    runner.kick('ev');
    for (;;) {
      const r = (await store.getRequest('ev'))!;
      if (r.counts.queued === 1 && r.counts.succeeded === 1) break;
      await sleep(20);
    }
    await sleep(100); // past the first poll, which saw it still queued
    dispatcher.queued.set('q-d0', { endpoint: 'd0', state: 'succeeded', status: 200, at: Date.now() });
    await events.publish({
      type: 'request',
      endpoint: 'd0',
      requestId: 'q-d0',
      op: 'read',
      state: 'succeeded',
    });
    const r = await done(store, 'ev', 3000);
    await runner.close();
    expect(r.counts.succeeded).toBe(2);
  });
});
