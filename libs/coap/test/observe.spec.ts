// RFC 7641: notification ordering (section 3.4) on the client and observer lifecycle (3.6, 4.2, 4.5) on the server.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapMessage,
  type CoapResponse,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  encodeUint,
  getObserve,
  isNewerNotification,
  MemoryNetwork,
  NotificationOrder,
  OptionNumber,
  type Peer,
  setOption,
  setUriPath,
} from '@lwm2m/coap';

const V24 = 0x1000000;

describe('notification freshness (RFC 7641 section 3.4)', () => {
  it('treats a larger number within 2^23 as newer and a smaller one as older', () => {
    expect(isNewerNotification(5, 0, 6, 1)).toBe(true);
    expect(isNewerNotification(6, 0, 5, 1)).toBe(false);
    expect(isNewerNotification(5, 0, 5, 1)).toBe(false);
  });

  it('handles wrap-around of the 24-bit space: 0 follows 2^24-1, and 2^23+1 does not follow 0', () => {
    expect(isNewerNotification(V24 - 1, 0, 0, 1)).toBe(true);
    expect(isNewerNotification(0, 0, V24 - 1, 1)).toBe(false);
    expect(isNewerNotification(0, 0, 2 ** 23 - 1, 1)).toBe(true);
    expect(isNewerNotification(0, 0, 2 ** 23, 1)).toBe(false); // V2 - V1 = 2^23 is not < 2^23
    expect(isNewerNotification(2 ** 23 + 1, 0, 0, 1)).toBe(true); // V1 - V2 > 2^23
  });

  it('accepts any number more than 128 s after the last one', () => {
    expect(isNewerNotification(100, 0, 1, 128_000)).toBe(false);
    expect(isNewerNotification(100, 0, 1, 128_001)).toBe(true);
  });

  it('is a strict order within the window: of two distinct numbers exactly one direction is newer unless 2^23 apart', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: V24 - 1 }), fc.integer({ min: 0, max: V24 - 1 }), (a, b) => {
        const ab = isNewerNotification(a, 0, b, 0);
        const ba = isNewerNotification(b, 0, a, 0);
        if (a === b || Math.abs(a - b) === 2 ** 23) expect(ab || ba).toBe(false);
        else expect(ab !== ba).toBe(true);
      }),
    );
  });

  it('matches a model: a server counting up (with wrap) and a network reordering within a small window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: V24 - 1 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }),
        (start, delays) => {
          // Notification i carries (start + i) mod 2^24 and arrives at i + delay (ms), all within 128 s.
          const arrivals = delays
            .map((d, i) => ({ i, v: (start + i) % V24, t: i + d }))
            .sort((x, y) => x.t - y.t || x.i - y.i);
          const order = new NotificationOrder();
          let maxSeen = -1;
          for (const a of arrivals) {
            const accepted = order.accept(a.v, a.t);
            // Model: accepted exactly when it was sent after every notification accepted before.
            expect(accepted).toBe(a.i > maxSeen);
            if (accepted) maxSeen = a.i;
          }
        },
      ),
    );
  });
});

const SERVER: Peer = { address: '10.0.0.1', port: 5683 };
const CLIENT: Peer = { address: '10.0.0.2', port: 40000 };

let net: MemoryNetwork;
const open: CoapEndpoint[] = [];
const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  net = new MemoryNetwork();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  vi.useRealTimers();
});

describe('observe client on the wire', () => {
  it('drops reordered notifications, accepts wrap-around and anything after 128 s, and ACKs CON ones', async () => {
    const client = new CoapEndpoint({ transport: net.transport(CLIENT.address, CLIENT.port) });
    open.push(client);
    const raw = net.transport(SERVER.address, SERVER.port);
    const inbox: CoapMessage[] = [];
    raw.onDatagram((d) => inbox.push(decodeMessage(d)));
    const got: string[] = [];
    const pending = client.observe(SERVER, { path: 'r' }, (r: CoapResponse) =>
      got.push(r.payload.toString()),
    );
    await flush();
    const req = inbox[0];
    expect(getObserve(req)).toBe(0);
    let mid = 100;
    const notify = (seq: number, type = CoapType.NON, messageId = mid++): void => {
      const m = createMessage({
        type,
        code: CoapCode.CONTENT,
        messageId,
        token: req.token,
        payload: Buffer.from(`${seq}`),
      });
      setOption(m, OptionNumber.OBSERVE, encodeUint(seq));
      void raw.send(encodeMessage(m), CLIENT);
    };
    const first = createMessage({
      type: CoapType.ACK,
      code: CoapCode.CONTENT,
      messageId: req.messageId,
      token: req.token,
    });
    setOption(first, OptionNumber.OBSERVE, encodeUint(V24 - 3));
    void raw.send(encodeMessage(first), CLIENT);
    const handle = await pending;
    expect(handle.established).toBe(true);
    notify(V24 - 1);
    notify(V24 - 2); // older: dropped
    notify(0); // wrapped: newer
    notify(1, CoapType.CON, 500);
    notify(1, CoapType.CON, 500); // duplicate CON: ACKed again, delivered once
    notify(V24 - 1); // older
    await flush();
    expect(got).toEqual([`${V24 - 1}`, '0', '1']);
    expect(inbox.filter((m) => m.type === CoapType.ACK && m.messageId === 500)).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(128_001);
    notify(0); // numerically older, but 128 s later
    await flush();
    expect(got).toEqual([`${V24 - 1}`, '0', '1', '0']);
    expect(client.stats.staleNotifications).toBe(2);
  });
});

describe('observe server lifecycle', () => {
  async function setup(): Promise<{
    server: CoapEndpoint;
    inbox: CoapMessage[];
    send(m: CoapMessage): void;
  }> {
    const server = new CoapEndpoint({
      transport: net.transport(SERVER.address, SERVER.port),
      random: () => 0,
      handler: () => ({ code: CoapCode.CONTENT, payload: 'v' }),
    });
    open.push(server);
    const raw = net.transport(CLIENT.address, CLIENT.port);
    const inbox: CoapMessage[] = [];
    raw.onDatagram((d) => inbox.push(decodeMessage(d)));
    const send = (m: CoapMessage): void => void raw.send(encodeMessage(m), SERVER);
    const reg = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 1,
      token: Buffer.from('ob'),
    });
    setUriPath(reg, '/r');
    setOption(reg, OptionNumber.OBSERVE, 0);
    send(reg);
    await flush();
    return { server, inbox, send };
  }

  it('numbers notifications with increasing Observe values', async () => {
    const { server, inbox } = await setup();
    await server.notify('/r');
    await server.notify('/r');
    await flush();
    expect(inbox.map((m) => getObserve(m))).toEqual([0, 1, 2]);
    expect(inbox.slice(1).every((m) => m.type === CoapType.NON)).toBe(true);
  });

  it('removes the observer when a NON notification is answered with RST', async () => {
    const { server, inbox, send } = await setup();
    await server.notify('/r');
    await flush();
    send(createMessage({ type: CoapType.RST, code: 0, messageId: inbox[1].messageId }));
    await flush();
    expect(server.listObservers()).toHaveLength(0);
  });

  it('removes the observer when a CON notification is never acknowledged (RFC 7641 section 4.5)', async () => {
    const { server } = await setup();
    net.drop = () => true;
    await server.notify('/r', { confirmable: true });
    await vi.advanceTimersByTimeAsync(61_999);
    expect(server.listObservers()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.listObservers()).toHaveLength(0);
  });

  it('sends a CON notification once 24 hours have passed since the last one', async () => {
    const { server, inbox, send } = await setup();
    await server.notify('/r');
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    await server.notify('/r');
    await flush();
    expect(inbox.map((m) => m.type)).toEqual([CoapType.ACK, CoapType.NON, CoapType.CON]);
    send(createMessage({ type: CoapType.ACK, code: 0, messageId: inbox[2].messageId }));
    await flush();
    expect(server.listObservers()).toHaveLength(1);
  });

  it('deregisters on a GET with Observe=1 and the same token (RFC 7641 section 3.6)', async () => {
    const { server, inbox, send } = await setup();
    const dereg = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 2,
      token: Buffer.from('ob'),
    });
    setUriPath(dereg, '/r');
    setOption(dereg, OptionNumber.OBSERVE, 1);
    send(dereg);
    await flush();
    expect(server.listObservers()).toHaveLength(0);
    expect(getObserve(inbox[1])).toBeUndefined();
  });

  it('sends an error notification and removes the observer when the resource fails (RFC 7641 section 4.2)', async () => {
    const { server, inbox } = await setup();
    await server.notify('/r', { response: { code: CoapCode.NOT_FOUND } });
    await flush();
    expect(inbox[1].code).toBe(CoapCode.NOT_FOUND);
    expect(getObserve(inbox[1])).toBeUndefined();
    expect(server.listObservers()).toHaveLength(0);
  });

  it('replaces, not duplicates, the entry of a re-registration with the same token', async () => {
    const { server, send } = await setup();
    const again = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 3,
      token: Buffer.from('ob'),
    });
    setUriPath(again, '/r');
    setOption(again, OptionNumber.OBSERVE, 0);
    send(again);
    await flush();
    expect(server.listObservers()).toHaveLength(1);
  });
});
