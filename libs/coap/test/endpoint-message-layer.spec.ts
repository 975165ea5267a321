// RFC 7252 section 4 (message layer) of CoapEndpoint on an in-memory network with fake timers:
// retransmission timing (4.2, 4.8), deduplication (4.5), NSTART (4.7), ping and RST (4.3),
// malformed input (4.2/4.3), critical options (5.4.1), separate responses (5.2.2), No-Response (RFC 7967).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapMessage,
  CoapResetError,
  CoapTimeoutError,
  CoapType,
  createMessage,
  decodeMessage,
  deriveTimes,
  DEFAULT_TRANSMISSION_PARAMS,
  encodeMessage,
  MemoryNetwork,
  type MemoryTransport,
  OptionNumber,
  type Peer,
  setOption,
  setUriPath,
} from '@lwm2m/coap';
import { dropFirst, seededDropFraction } from './support/lossy';

const SERVER: Peer = { address: '10.0.0.1', port: 5683 };
const CLIENT: Peer = { address: '10.0.0.2', port: 40000 };
const RAW: Peer = { address: '10.0.0.9', port: 50000 };

let net: MemoryNetwork;
const open: CoapEndpoint[] = [];

function endpoint(at: Peer, opts: Partial<CoapEndpointOptions> = {}): CoapEndpoint {
  const ep = new CoapEndpoint({ transport: net.transport(at.address, at.port), random: () => 0, ...opts });
  open.push(ep);
  return ep;
}

/** A scripted peer that speaks raw CoAP messages. */
function rawPeer(at: Peer = RAW): {
  t: MemoryTransport;
  inbox: CoapMessage[];
  send(m: CoapMessage, to?: Peer): void;
} {
  const t = net.transport(at.address, at.port);
  const inbox: CoapMessage[] = [];
  t.onDatagram((d) => inbox.push(decodeMessage(d)));
  return { t, inbox, send: (m, to = SERVER) => void t.send(encodeMessage(m), to) };
}

function get(path: string, messageId: number, type = CoapType.CON, token = Buffer.from([1, 2])): CoapMessage {
  const m = createMessage({ type, code: CoapCode.GET, messageId, token });
  setUriPath(m, path);
  return m;
}

const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  net = new MemoryNetwork();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  vi.useRealTimers();
});

describe('transmission parameters (RFC 7252 section 4.8)', () => {
  it('derives MAX_TRANSMIT_SPAN 45 s, MAX_TRANSMIT_WAIT 93 s, EXCHANGE_LIFETIME 247 s and NON_LIFETIME 145 s', () => {
    const t = deriveTimes(DEFAULT_TRANSMISSION_PARAMS);
    expect(t.maxTransmitSpan).toBe(45_000);
    expect(t.maxTransmitWait).toBe(93_000);
    expect(t.maxRtt).toBe(202_000);
    expect(t.exchangeLifetime).toBe(247_000);
    expect(t.nonLifetime).toBe(145_000);
  });

  it('lets an endpoint override them', () => {
    const ep = endpoint(CLIENT, { params: { ackTimeout: 1000, maxRetransmit: 2 } });
    expect(ep.times.maxTransmitSpan).toBe(1000 * 3 * 1.5);
  });
});

describe('CON retransmission (RFC 7252 section 4.2)', () => {
  async function sendTimes(random: number): Promise<{ times: number[]; error: unknown }> {
    const client = endpoint(CLIENT, { random: () => random });
    const start = Date.now();
    const times: number[] = [];
    net.drop = (_d, from) => {
      if (from.port === CLIENT.port) times.push(Date.now() - start);
      return true;
    };
    let error: unknown;
    client.request(SERVER, { path: 'x' }).catch((e: unknown) => (error = e));
    await vi.advanceTimersByTimeAsync(200_000);
    return { times, error };
  }

  it('retransmits at ACK_TIMEOUT doubling (2, 4, 8, 16 s) and fails after MAX_RETRANSMIT with the shortest timeout', async () => {
    const { times, error } = await sendTimes(0);
    expect(times).toEqual([0, 2000, 6000, 14000, 30000]);
    expect(error).toBeInstanceOf(CoapTimeoutError);
  });

  it('uses ACK_TIMEOUT * ACK_RANDOM_FACTOR as the longest initial timeout (3 s)', async () => {
    const { times } = await sendTimes(0.999999);
    expect(times.map((t) => Math.round(t / 100) * 100)).toEqual([0, 3000, 9000, 21000, 45000]);
  });

  it('gives up at 62 s (2 s * 31) after the last retransmission', async () => {
    const client = endpoint(CLIENT);
    net.drop = () => true;
    let failedAt = -1;
    const start = Date.now();
    client.request(SERVER, { path: 'x' }).catch(() => (failedAt = Date.now() - start));
    await vi.advanceTimersByTimeAsync(61_999);
    expect(failedAt).toBe(-1);
    await vi.advanceTimersByTimeAsync(1);
    expect(failedAt).toBe(62_000);
    expect(client.stats.retransmissions).toBe(4);
    expect(client.stats.transmitTimeouts).toBe(1);
  });

  it('gets through a network that loses the first two datagrams', async () => {
    endpoint(SERVER, { handler: () => ({ code: CoapCode.CONTENT, payload: 'ok' }) });
    const client = endpoint(CLIENT);
    net.drop = dropFirst(2);
    const p = client.request(SERVER, { path: 'x' });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(p).resolves.toMatchObject({ code: CoapCode.CONTENT });
    expect(client.stats.retransmissions).toBe(2);
  });

  it('completes 20 requests over a network losing 20 % of datagrams (seeded)', async () => {
    let calls = 0;
    // MAX_RETRANSMIT 8 on both ends (RFC 7252 4.8: the server's EXCHANGE_LIFETIME, its dedup time, must
    // cover the client's retransmissions): at 20 % loss each way a request then fails with probability
    // about 0.36^9, so the assertions hold whatever the interleaving (with 4, one seed in eight loses one).
    const params = { maxRetransmit: 8 };
    endpoint(SERVER, {
      params,
      handler: (req) => {
        calls++;
        return { code: CoapCode.CONTENT, payload: req.path[0] };
      },
    });
    const client = endpoint(CLIENT, { params: { ...params, nstart: 4 } });
    net.drop = seededDropFraction(0.2, 42);
    const results = Array.from({ length: 20 }, (_, i) => client.request(SERVER, { path: `r${i}` }));
    await vi.advanceTimersByTimeAsync(1_200_000);
    const settled = await Promise.allSettled(results);
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    expect(ok).toBe(20);
    // Deduplication: lost ACKs cause duplicates, each answered from the cache, so one call per request.
    expect(calls).toBe(20);
  });
});

describe('deduplication (RFC 7252 section 4.5)', () => {
  it('calls the handler once for a duplicate CON and re-sends the cached piggybacked response', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT, payload: 'once' }));
    const server = endpoint(SERVER, { handler });
    const raw = rawPeer();
    raw.send(get('a', 0x1234));
    await flush();
    raw.send(get('a', 0x1234));
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(raw.inbox).toHaveLength(2);
    expect(encodeMessage(raw.inbox[0]).equals(encodeMessage(raw.inbox[1]))).toBe(true);
    expect(raw.inbox[0]).toMatchObject({ type: CoapType.ACK, messageId: 0x1234, code: CoapCode.CONTENT });
    expect(server.stats.duplicates).toBe(1);
  });

  it('acts once on a duplicate NON and does not answer it again', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT }));
    endpoint(SERVER, { handler });
    const raw = rawPeer();
    raw.send(get('a', 7, CoapType.NON));
    raw.send(get('a', 7, CoapType.NON));
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(raw.inbox).toHaveLength(1);
    expect(raw.inbox[0].type).toBe(CoapType.NON);
  });

  it('forgets a Message ID after EXCHANGE_LIFETIME', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT }));
    endpoint(SERVER, { handler });
    const raw = rawPeer();
    raw.send(get('a', 9));
    await flush();
    await vi.advanceTimersByTimeAsync(247_001);
    raw.send(get('a', 9));
    await flush();
    expect(handler).toHaveBeenCalledTimes(2);
  });

  it('keeps the cache bounded', async () => {
    const server = endpoint(SERVER, { handler: () => ({ code: CoapCode.CONTENT }), maxDedupEntries: 10 });
    const raw = rawPeer();
    for (let i = 0; i < 50; i++) raw.send(get('a', i));
    await flush();
    expect(raw.inbox).toHaveLength(50);
    expect(server.messageLayerStatus.dedupEntries).toBeLessThanOrEqual(10);
  });
});

describe('separate responses (RFC 7252 section 5.2.2)', () => {
  it('server: sends an empty ACK after the delay, then the response as CON, retransmitted until ACKed', async () => {
    let release!: () => void;
    endpoint(SERVER, {
      separateResponseDelay: 500,
      handler: () => new Promise((r) => (release = () => r({ code: CoapCode.CONTENT, payload: 'later' }))),
    });
    const raw = rawPeer();
    raw.send(get('slow', 0x0100, CoapType.CON, Buffer.from('tk')));
    await vi.advanceTimersByTimeAsync(500);
    expect(raw.inbox).toEqual([expect.objectContaining({ type: CoapType.ACK, code: 0, messageId: 0x0100 })]);
    release();
    await flush();
    const res = raw.inbox[1];
    expect(res).toMatchObject({ type: CoapType.CON, code: CoapCode.CONTENT });
    expect(res.token.toString()).toBe('tk');
    await vi.advanceTimersByTimeAsync(2000);
    expect(raw.inbox).toHaveLength(3); // one retransmission
    raw.send(createMessage({ type: CoapType.ACK, code: 0, messageId: res.messageId }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(raw.inbox).toHaveLength(3);
  });

  it('client: after an empty ACK, matches the later CON response by token and ACKs it', async () => {
    const client = endpoint(CLIENT);
    const raw = rawPeer(SERVER);
    const p = client.request(SERVER, { path: 'slow' });
    await flush();
    const req = raw.inbox[0];
    raw.send(createMessage({ type: CoapType.ACK, code: 0, messageId: req.messageId }), CLIENT);
    await vi.advanceTimersByTimeAsync(10_000); // no retransmission after the empty ACK
    expect(raw.inbox).toHaveLength(1);
    raw.send(
      createMessage({
        type: CoapType.CON,
        code: CoapCode.CONTENT,
        messageId: 0x7777,
        token: req.token,
        payload: Buffer.from('x'),
      }),
      CLIENT,
    );
    await flush();
    await expect(p).resolves.toMatchObject({ code: CoapCode.CONTENT });
    expect(raw.inbox[1]).toMatchObject({ type: CoapType.ACK, code: 0, messageId: 0x7777 });
  });

  it('client: answers a response with an unknown token with RST', async () => {
    const client = endpoint(CLIENT);
    const raw = rawPeer(SERVER);
    raw.send(
      createMessage({ type: CoapType.CON, code: CoapCode.CONTENT, messageId: 5, token: Buffer.from('zz') }),
      CLIENT,
    );
    await flush();
    expect(raw.inbox[0]).toMatchObject({ type: CoapType.RST, messageId: 5 });
    expect(client.stats.unmatched).toBe(1);
  });
});

describe('Reset and ping (RFC 7252 section 4.3)', () => {
  it('rejects a request whose CON the peer resets', async () => {
    const client = endpoint(CLIENT);
    const raw = rawPeer(SERVER);
    const p = client.request(SERVER, { path: 'x' });
    const outcome = expect(p).rejects.toBeInstanceOf(CoapResetError);
    await flush();
    raw.send(createMessage({ type: CoapType.RST, code: 0, messageId: raw.inbox[0].messageId }), CLIENT);
    await flush();
    await outcome;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(raw.inbox).toHaveLength(1); // retransmission stopped
  });

  it('answers an empty CON (ping) with an RST of the same Message ID', async () => {
    endpoint(SERVER);
    const raw = rawPeer();
    raw.send(createMessage({ type: CoapType.CON, code: 0, messageId: 0xabcd }));
    await flush();
    expect(raw.inbox).toEqual([expect.objectContaining({ type: CoapType.RST, code: 0, messageId: 0xabcd })]);
  });

  it('ping() resolves when the peer answers with RST', async () => {
    endpoint(SERVER);
    const client = endpoint(CLIENT);
    const p = client.ping(SERVER);
    await flush();
    await expect(p).resolves.toBe(0);
  });
});

describe('bad input (RFC 7252 sections 4.2, 4.3 and 5.4.1)', () => {
  it('answers a malformed CON with RST, ignores malformed ACK and garbage, and never throws', async () => {
    const server = endpoint(SERVER, { handler: () => ({ code: CoapCode.CONTENT }) });
    const raw = rawPeer();
    // TKL 9 is a message format error (section 3); type CON, MID 0x4242.
    await raw.t.send(Buffer.from([0x49, 0x01, 0x42, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9]), SERVER);
    await raw.t.send(Buffer.from([0x69, 0x45, 0x00, 0x01]), SERVER); // malformed ACK
    await raw.t.send(Buffer.from([0x01, 0x02]), SERVER); // not even a header
    await raw.t.send(Buffer.from([0x40, 0x01, 0x00, 0x02, 0xf0]), SERVER); // option nibble 15
    await flush();
    expect(raw.inbox).toEqual([
      expect.objectContaining({ type: CoapType.RST, messageId: 0x4242 }),
      expect.objectContaining({ type: CoapType.RST, messageId: 0x0002 }),
    ]);
    expect(server.stats.malformed).toBe(4);
    expect(server.stats.internalErrors).toBe(0);
  });

  it('answers a CON request with an unrecognized critical option with 4.02, without calling the handler', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT }));
    endpoint(SERVER, { handler });
    const raw = rawPeer();
    const m = get('a', 11);
    setOption(m, 2049, Buffer.from('?')); // odd: critical, unregistered
    raw.send(m);
    await flush();
    expect(raw.inbox[0]).toMatchObject({ type: CoapType.ACK, code: CoapCode.BAD_OPTION, messageId: 11 });
    expect(handler).not.toHaveBeenCalled();
  });

  it('rejects a NON request with an unrecognized critical option with RST', async () => {
    endpoint(SERVER, { handler: () => ({ code: CoapCode.CONTENT }) });
    const raw = rawPeer();
    const m = get('a', 12, CoapType.NON);
    setOption(m, 2049, Buffer.from('?'));
    raw.send(m);
    await flush();
    expect(raw.inbox[0]).toMatchObject({ type: CoapType.RST, messageId: 12 });
  });

  it('ignores an unrecognized elective option', async () => {
    endpoint(SERVER, { handler: () => ({ code: CoapCode.CONTENT }) });
    const raw = rawPeer();
    const m = get('a', 13);
    setOption(m, 2048, Buffer.from('?'));
    raw.send(m);
    await flush();
    expect(raw.inbox[0]).toMatchObject({ code: CoapCode.CONTENT });
  });

  it('sends only an empty ACK when No-Response suppresses the 2.xx answer (RFC 7967)', async () => {
    endpoint(SERVER, { handler: () => ({ code: CoapCode.CHANGED }) });
    const raw = rawPeer();
    const m = get('a', 14);
    setOption(m, OptionNumber.NO_RESPONSE, 2);
    raw.send(m);
    await flush();
    expect(raw.inbox).toEqual([expect.objectContaining({ type: CoapType.ACK, code: 0, messageId: 14 })]);
  });
});

describe('NSTART (RFC 7252 section 4.7)', () => {
  it('keeps one CON outstanding per peer and sends the next when the first completes', async () => {
    const client = endpoint(CLIENT);
    const raw = rawPeer(SERVER);
    const a = client.request(SERVER, { path: 'a' });
    const b = client.request(SERVER, { path: 'b' });
    const c = client.request({ address: '10.0.0.3', port: 5683 }, { path: 'c' });
    c.catch(() => undefined);
    await flush();
    // 'a' to SERVER and 'c' to the other peer go out; 'b' waits.
    expect(raw.inbox).toHaveLength(1);
    expect(net.log.filter((l) => l.from.port === CLIENT.port)).toHaveLength(2);
    const ack = raw.inbox[0];
    raw.send(
      createMessage({
        type: CoapType.ACK,
        code: CoapCode.CONTENT,
        messageId: ack.messageId,
        token: ack.token,
      }),
      CLIENT,
    );
    await flush();
    await expect(a).resolves.toMatchObject({ code: CoapCode.CONTENT });
    expect(raw.inbox).toHaveLength(2);
    const second = raw.inbox[1];
    raw.send(
      createMessage({
        type: CoapType.ACK,
        code: CoapCode.CONTENT,
        messageId: second.messageId,
        token: second.token,
      }),
      CLIENT,
    );
    await flush();
    await expect(b).resolves.toMatchObject({ code: CoapCode.CONTENT });
  });

  it('aborts a request through its AbortSignal and frees the NSTART slot', async () => {
    const client = endpoint(CLIENT);
    const raw = rawPeer(SERVER);
    const ctl = new AbortController();
    const a = client.request(SERVER, { path: 'a' }, { signal: ctl.signal });
    const b = client.request(SERVER, { path: 'b' });
    b.catch(() => undefined);
    await flush();
    ctl.abort();
    await expect(a).rejects.toMatchObject({ reason: 'cancelled' });
    await flush();
    expect(raw.inbox).toHaveLength(2);
  });
});

describe('peer identity (DatagramTransport.peerKey)', () => {
  it('replies to the address of the latest datagram received for a peer key (NAT rebinding)', async () => {
    const t = net.transport(SERVER.address, SERVER.port);
    t.peerKey = () => 'device-1';
    let release!: () => void;
    const server = new CoapEndpoint({
      transport: t,
      random: () => 0,
      separateResponseDelay: 100,
      handler: () => new Promise((r) => (release = () => r({ code: CoapCode.CONTENT }))),
    });
    open.push(server);
    const before = rawPeer({ address: '10.0.0.7', port: 1111 });
    const after = rawPeer({ address: '10.0.0.7', port: 2222 });
    before.send(get('a', 1));
    await vi.advanceTimersByTimeAsync(100);
    after.send(createMessage({ type: CoapType.CON, code: 0, messageId: 2 })); // ping from the new port
    await flush();
    release();
    await flush();
    expect(before.inbox.map((m) => m.type)).toEqual([CoapType.ACK]);
    expect(after.inbox.map((m) => m.type)).toEqual([CoapType.RST, CoapType.CON]);
  });
});
