// Sections 2.2 (shifting traditional observers), 2.4 (congestion control), 2.5 (cancellation) and
// 5.1 / Appendix B.1 (the client's feedback request), on real sockets.
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapType, getNoResponse, getObserve, getOption, type IncomingRequest } from '@lwm2m/coap';
import {
  groupObserveNumbers,
  type GroupNotification,
  type GroupObservationHandle,
} from '@lwm2m/group-observe';
import {
  groupSniffer,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function server(n: number, opts: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const s = await startServer(testGroup(n), opts);
  s.topics.set('ps/t', { payload: Buffer.from('0'), contentFormat: 0 });
  closers.push(() => s.close());
  return s;
}

async function client(opts: Parameters<typeof startClient>[0] = {}): Promise<TestClient> {
  const c = await startClient(opts);
  closers.push(() => c.close());
  return c;
}

describe('congestion control (section 2.4)', () => {
  it('sends at most one multicast notification per interval and coalesces to the latest value', async () => {
    const s = await server(10, { minIntervalMs: 400 });
    const c = await client();
    const seen: GroupNotification[] = [];
    await c.client.observe(s.peer, '/ps/t', { onNotification: (n) => seen.push(n) });
    const sniffer = await groupSniffer(testGroup(10));
    closers.push(() => sniffer.close());
    for (let i = 1; i <= 5; i++) await s.publish('/ps/t', String(i));
    await until(() => seen.length === 2, 'the first notification');
    expect(seen[1].payload.toString()).toBe('1');
    expect(s.group.get('ps/t')?.pending).toBe(true);
    await until(() => seen.length === 3, 'the coalesced notification', 3000);
    expect(seen[2].payload.toString()).toBe('5');
    await new Promise((r) => setTimeout(r, 100));
    expect(sniffer.messages).toHaveLength(2);
    expect(s.group.stats.coalesced).toBe(3);
    expect(getObserve(sniffer.messages[1].msg)).toBeGreaterThan(getObserve(sniffer.messages[0].msg)!);
  });

  it('serves representations over the payload limit traditionally, and cancels a group that outgrows it', async () => {
    const s = await server(11, { maxPayload: 8 });
    const c = await client();
    const ends: (number | undefined)[] = [];
    const h = await c.client.observe(s.peer, '/ps/t', {
      onNotification: () => undefined,
      onEnd: (e) => ends.push(e.code),
    });
    expect(h.mode).toBe('group');
    await s.publish('/ps/t', 'a much longer value');
    await until(() => ends.length === 1, 'the 5.03');
    expect(ends[0]).toBe(CoapCode.SERVICE_UNAVAILABLE);
    const again = await c.client.observe(s.peer, '/ps/t', { onNotification: () => undefined });
    expect(again.mode).toBe('traditional');
  });
});

describe('shifting traditional observers (section 2.2)', () => {
  it('starts the group when the threshold is reached and moves the earlier observers over', async () => {
    const s = await server(12, { threshold: 3 });
    const clients = [await client(), await client(), await client()];
    const seen: GroupNotification[][] = [[], [], []];
    const handles: GroupObservationHandle[] = [];
    for (let i = 0; i < 3; i++) {
      handles.push(
        await clients[i].client.observe(s.peer, '/ps/t', { onNotification: (n) => seen[i].push(n) }),
      );
      if (i < 2) expect(handles[i].mode).toBe('traditional');
    }
    expect(handles[2].mode).toBe('group');
    await until(() => handles.every((h) => h.mode === 'group'), 'the two early observers shifted');
    expect(s.group.stats.shiftedObservers).toBe(2);
    expect(s.group.get('ps/t')?.counter).toBe(3);
    expect(s.endpoint.listObservers('/ps/t')).toHaveLength(0);
    await s.publish('/ps/t', 'x');
    await until(() => seen.every((l) => l.at(-1)?.source === 'multicast'), 'all on the group');
  });
});

describe('cancellation (section 2.5)', () => {
  it('sends a 5.03 without payload or Observe to the group, frees T and forgets the state', async () => {
    const s = await server(13);
    const c = await client();
    const ends: (number | undefined)[] = [];
    const h = await c.client.observe(s.peer, '/ps/t', {
      onNotification: () => undefined,
      onEnd: (e) => ends.push(e.code),
    });
    const sniffer = await groupSniffer(testGroup(13));
    closers.push(() => sniffer.close());
    expect(await s.group.cancel('ps/t')).toBe(true);
    await until(() => ends.length === 1 && sniffer.messages.length === 1, 'the 5.03');
    const m = sniffer.messages[0].msg;
    expect(m).toMatchObject({ type: CoapType.NON, code: CoapCode.SERVICE_UNAVAILABLE });
    expect(m.token.equals(h.token!)).toBe(true);
    expect(getObserve(m)).toBeUndefined();
    expect(m.payload.length).toBe(0);
    expect(s.group.list()).toEqual([]);
    expect(await s.group.cancel('ps/t')).toBe(false);
    expect(c.client.stats.groupEnded).toBe(1);
    // A new registration starts a new group observation with a token from the freed space.
    const again = await c.client.observe(s.peer, '/ps/t', { onNotification: () => undefined });
    expect(again.mode).toBe('group');
    expect(s.group.stats.groupObservationsStarted).toBe(2);
  });
});

describe('client feedback (section 5.1, Appendix B.1)', () => {
  it('answers MRFD Q = 0 with a NON re-registration, maximum No-Response and an empty MRFD', async () => {
    const s = await server(14, {
      roughCounting: { desiredConfirmations: 1000, maxConfirmationWaitMs: 300, dampener: 1 },
    });
    const requests: IncomingRequest[] = [];
    const handler = s.group.handle.bind(s.group);
    s.endpoint.setHandler((req) => {
      requests.push(req);
      return handler(req) ?? { code: CoapCode.NOT_FOUND };
    });
    const c = await client({ leisureMs: 50 });
    await c.client.observe(s.peer, '/ps/t', { onNotification: () => undefined });
    s.group.requestFeedback('ps/t');
    await s.publish('/ps/t', 'y');
    await until(() => requests.length === 2, 'the feedback request');
    const fb = requests[1];
    expect(fb.confirmable).toBe(false);
    expect(fb.observe).toBe(0);
    expect(fb.path).toEqual(['ps', 't']);
    expect(getNoResponse(fb.message)).toBe(26);
    expect(getOption(fb.message, groupObserveNumbers().mrfdOption)?.length).toBe(0);
    expect(c.client.stats.feedbackRequests).toBe(1);
    await until(() => s.group.get('ps/t')?.feedbackRound === undefined, 'the round to end');
    expect(s.group.stats.confirmations).toBe(1);
    expect(s.group.get('ps/t')?.counter).toBe(1);
    // No response went back (No-Response): the server sent nothing but the multicast notification.
    expect(s.endpoint.stats.datagramsOut).toBe(2); // the empty ACK and the CON informative response
  });
});
