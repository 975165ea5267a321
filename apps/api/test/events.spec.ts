// GET /api/v1/events: Server-Sent Events from the EventBus, in order, resumable with Last-Event-ID.
import type { Lwm2mEvent } from '@lwm2m/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakePorts, registration } from './fakes';
import { readSse, startApi, type TestApi } from './harness';

const ports = fakePorts();
let api: TestApi;

beforeAll(async () => {
  api = await startApi(ports, { sseHeartbeatMs: 50 });
});
afterAll(() => api.close());

const notification = (endpoint: string, value: number): Lwm2mEvent => ({
  type: 'notification',
  endpoint,
  observationId: 'obs-1',
  paths: ['/3303/0/5700'],
  values: [{ path: '/3303/0/5700', value, type: 'float' }],
});

/** Opens the stream and waits until the server has subscribed (the ": connected" comment). */
async function open(query = '', headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${api.base}/api/v1/events${query}`, { headers, signal: controller.signal });
  return { res, controller };
}

describe('GET /api/v1/events', () => {
  it('streams published events in order as event/id/data', async () => {
    const { res, controller } = await open();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reading = readSse(res, (m) => m.length >= 4);
    await new Promise((r) => setTimeout(r, 50));
    await ports.events.publish({ type: 'registered', endpoint: 'dev1', registration: registration('dev1') });
    for (const v of [21, 22, 23]) await ports.events.publish(notification('dev1', v));
    const { messages } = await reading;
    controller.abort();
    expect(messages.map((m) => m.event)).toEqual([
      'registered',
      'notification',
      'notification',
      'notification',
    ]);
    const ids = messages.map((m) => m.id);
    expect(ids).toEqual(ports.events.ids.slice(-4));
    const data = messages.map((m) => JSON.parse(m.data));
    expect(data[0]).toMatchObject({ type: 'registered', endpoint: 'dev1', id: ids[0] });
    expect(data.slice(1).map((d) => d.values[0].value)).toEqual([21, 22, 23]);
  });

  it('resumes after the Last-Event-ID header', async () => {
    await ports.events.publish(notification('dev1', 30));
    const resumeFrom = await ports.events.publish(notification('dev1', 31));
    const next = await ports.events.publish(notification('dev1', 32));
    await ports.events.publish(notification('dev1', 33));
    const { res, controller } = await open('', { 'Last-Event-ID': resumeFrom });
    const { messages } = await readSse(res, (m) => m.length >= 2);
    controller.abort();
    expect(messages.map((m) => JSON.parse(m.data).values[0].value)).toEqual([32, 33]);
    expect(messages[0].id).toBe(next);
  });

  it('resumes after ?lastEventId= for clients that cannot set headers', async () => {
    const from = ports.events.ids[ports.events.ids.length - 2];
    const { res, controller } = await open(`?lastEventId=${from}`);
    const { messages } = await readSse(res, (m) => m.length >= 1);
    controller.abort();
    expect(JSON.parse(messages[0].data).values[0].value).toBe(33);
  });

  it('filters by endpoint', async () => {
    const { res, controller } = await open('?endpoint=dev2');
    const reading = readSse(res, (m) => m.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    await ports.events.publish(notification('dev1', 1));
    await ports.events.publish(notification('dev2', 2));
    await ports.events.publish({ type: 'deregistered', endpoint: 'dev1', registrationId: 'reg-dev1' });
    await ports.events.publish({ type: 'expired', endpoint: 'dev2', registrationId: 'reg-dev2' });
    const { messages } = await reading;
    controller.abort();
    expect(messages.map((m) => [m.event, JSON.parse(m.data).endpoint])).toEqual([
      ['notification', 'dev2'],
      ['expired', 'dev2'],
    ]);
  });

  it('sends heartbeat comments while nothing happens', async () => {
    const { res, controller } = await open();
    const { comments } = await readSse(res, (_m, c) => c.filter((x) => x === 'heartbeat').length >= 2);
    controller.abort();
    expect(comments[0]).toBe('connected');
  });

  it('stops the subscription when the client disconnects', async () => {
    const { res, controller } = await open();
    await readSse(res, (_m, c) => c.includes('connected'));
    const signal = ports.events.signals[ports.events.signals.length - 1];
    expect(signal.aborted).toBe(false);
    controller.abort();
    for (let i = 0; i < 50 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(signal.aborted).toBe(true);
  });

  it('refuses a malformed Last-Event-ID with a 400 problem', async () => {
    const r = await api.call('GET', '/api/v1/events', { headers: { 'Last-Event-ID': 'x y' } });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
