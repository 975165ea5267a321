// Cluster takeover of an observation (RFC 7641 over LwM2M TS 1.2 Core 6.4): node A observes a device and
// crashes; the device's datagrams now reach node B, which never sent the Observe. B finds the token in the
// shared ObservationStore, resumes the observation and publishes its notifications under the same
// observationId, and can cancel it. Two Lwm2mServers on real UDP sockets (127.0.0.1) over one set of
// in-memory stores; the device is the simulator behind a stand-in load balancer.
import {
  CoapCode,
  CoapEndpoint,
  type CoapMessage,
  CoapType,
  createMessage,
  type DatagramTransport,
  decodeMessage,
  encodeMessage,
  OptionNumber,
  type Peer,
  setOption,
} from '@lwm2m/coap';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createInMemoryStores,
  type InMemoryStores,
  type Lwm2mEvent,
  Lwm2mServer,
  type StoredEvent,
} from '../src';

type NotificationEvent = Extract<Lwm2mEvent, { type: 'notification' }>;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

interface Node {
  server: Lwm2mServer;
  endpoint: CoapEndpoint;
  address: Peer;
  crash(): Promise<void>;
}

async function startNode(stores: InMemoryStores, nodeId: string): Promise<Node> {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint({ transport });
  const server = new Lwm2mServer({
    endpoint,
    registrations: stores.registrations,
    observations: stores.observations,
    values: stores.values,
    events: stores.events,
    nodeId,
    defaultTimeoutMs: 2000,
  });
  server.start();
  const crash = async (): Promise<void> => {
    await server.stop();
    await endpoint.close();
  };
  closers.push(crash);
  return { server, endpoint, address: transport.address(), crash };
}

/**
 * The device's socket behind a UDP load balancer: the device always talks to one service address, the
 * balancer picks the node. Its source address never changes, so every node sees the same peer key.
 */
class BalancedTransport implements DatagramTransport {
  target: Peer;

  constructor(
    private readonly inner: UdpTransport,
    private readonly service: Peer,
  ) {
    this.target = service;
  }

  send(data: Buffer): Promise<void> {
    return this.inner.send(data, this.target);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.inner.onDatagram((data) => listener(data, this.service));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A plain UDP socket replaying notifications, with whatever token the test picks. */
async function rawClient(): Promise<{ inbox: CoapMessage[]; send(m: CoapMessage, to: Peer): void }> {
  const t = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  closers.push(() => t.close());
  const inbox: CoapMessage[] = [];
  t.onDatagram((d) => inbox.push(decodeMessage(d)));
  return { inbox, send: (m, to) => void t.send(encodeMessage(m), to) };
}

function notification(token: Buffer, messageId: number): CoapMessage {
  const m = createMessage({ type: CoapType.CON, code: CoapCode.CONTENT, messageId, token });
  setOption(m, OptionNumber.OBSERVE, 99);
  setOption(m, OptionNumber.CONTENT_FORMAT, 0);
  m.payload = Buffer.from('66.6');
  return m;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const TEMPERATURE = '/3303/0/5700';

describe('an observation taken over by another node', () => {
  it('reaches node B after node A crashed: same observationId, values stored, cancellable from B', async () => {
    const stores = createInMemoryStores();
    const a = await startNode(stores, 'node-a');
    const b = await startNode(stores, 'node-b');
    const lb = new BalancedTransport(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }), a.address);
    const device = new SimulatedDevice({
      endpoint: 'takeover-1',
      transport: lb,
      server: a.address,
      lwm2mVersion: '1.1',
      sensorIntervalMs: 0,
      observeTickMs: 20,
      updateAt: 0,
    });
    closers.push(() => device.close());
    await device.start();

    const notifications = async (): Promise<NotificationEvent[]> =>
      (await stores.events.recent(1000)).filter(
        (e): e is StoredEvent & NotificationEvent => e.type === 'notification',
      );
    const temperatureOf = (e: NotificationEvent): unknown =>
      e.values.find((v) => v.path === TEMPERATURE)?.value;

    const observed = await a.server.runCommand({
      id: 'o1',
      endpoint: 'takeover-1',
      op: 'observe',
      path: TEMPERATURE,
      timeoutMs: 2000,
      createdAt: Date.now(),
    });
    expect(observed).toMatchObject({ ok: true, status: 200 });
    const observationId = observed.observationId!;
    const stored = (await stores.observations.getById(observationId))!;
    expect(stored.token).toMatch(/^[0-9a-f]{16}$/);

    device.tree.setValue(TEMPERATURE, 30.5);
    await until(async () => (await notifications()).length === 1, 'a notification through A');

    // Node A dies; the balancer sends the device's datagrams to B from now on.
    await a.crash();
    lb.target = b.address;
    device.tree.setValue(TEMPERATURE, 31.5);
    await until(async () => (await notifications()).length === 2, 'a notification through B');
    device.tree.setValue(TEMPERATURE, 32.5);
    await until(async () => (await notifications()).length === 3, 'a second notification through B');

    const events = await notifications();
    expect(events.map((e) => e.observationId)).toEqual([observationId, observationId, observationId]);
    expect(events.map(temperatureOf)).toEqual([30.5, 31.5, 32.5]);
    expect(events[2]).toMatchObject({ endpoint: 'takeover-1', paths: [TEMPERATURE] });
    expect((await stores.values.get('takeover-1')).find((v) => v.path === TEMPERATURE)?.value).toBe(32.5);
    expect(b.endpoint.stats).toMatchObject({ adoptions: 1, resetsSent: 0 });
    expect(b.server.client.hasObservation(stored.token)).toBe(true);
    expect(device.coap.listObservers()).toHaveLength(1);

    // Still RST at B: a token nobody stored, and the stored token from another peer (RFC 7641 3.6).
    const stranger = await rawClient();
    stranger.send(notification(Buffer.from('0011223344556677', 'hex'), 7001), b.address);
    stranger.send(notification(Buffer.from(stored.token, 'hex'), 7002), b.address);
    await until(() => stranger.inbox.length === 2, 'two RSTs');
    expect(stranger.inbox.map((m) => [m.type, m.messageId]).sort()).toEqual([
      [CoapType.RST, 7001],
      [CoapType.RST, 7002],
    ]);
    expect(b.endpoint.stats.adoptions).toBe(1);

    const cancelled = await b.server.runCommand({
      id: 'c1',
      endpoint: 'takeover-1',
      op: 'cancel-observation',
      observationId,
      timeoutMs: 2000,
      createdAt: Date.now(),
    });
    expect(cancelled).toMatchObject({ ok: true, status: 204, observationId });
    // RFC 7641 3.6: the GET with Observe=1 and the same token removed the device's observer.
    expect(device.coap.listObservers()).toHaveLength(0);
    expect(await stores.observations.getById(observationId)).toBeUndefined();
    expect(b.server.client.hasObservation(stored.token)).toBe(false);
  });

  it('leaves an observation alone while its registration is not the current one', async () => {
    const stores = createInMemoryStores();
    const b = await startNode(stores, 'node-b');
    const device = await rawClient();
    const token = 'feedfacecafebeef';
    // A stored observation whose registration was replaced (the device registered again meanwhile).
    await stores.observations.add({
      id: 'old',
      endpoint: 'ghost',
      registrationId: 'gone',
      token,
      paths: [TEMPERATURE],
      composite: false,
      createdAt: 0,
    });
    device.send(notification(Buffer.from(token, 'hex'), 42), b.address);
    await until(() => device.inbox.length === 1, 'the RST');
    expect(device.inbox[0]).toMatchObject({ type: CoapType.RST, messageId: 42 });
    expect(b.endpoint.stats.adoptions).toBe(0);
    expect((await stores.events.recent(10)).filter((e) => e.type === 'notification')).toHaveLength(0);
  });
});
