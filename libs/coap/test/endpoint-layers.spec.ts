// The layers behind CoapEndpoint (libs/coap/README.md): one timer for the whole endpoint, the message
// layer's state by numbers, NSTART holding the queue, deduplication's cached reply, and the seam between
// the exchange layer and the message layer.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapMessage,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  MemoryNetwork,
  type MessageSeam,
  type Peer,
  setUriPath,
} from '@lwm2m/coap';

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

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  net = new MemoryNetwork();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  vi.useRealTimers();
});

describe('one timer per endpoint', () => {
  it('1,000 outstanding CONs to 1,000 peers are wheel entries on one setTimeout, none after close', async () => {
    const client = endpoint(CLIENT);
    net.drop = () => true;
    const pending = Array.from({ length: 1000 }, (_, i) =>
      client.request({ address: '10.1.0.1', port: 1000 + i }, { path: 'x' }).catch(() => undefined),
    );
    await flush();
    // Each CON: its retransmission and its exchange lifetime; no setTimeout of its own.
    expect(client.timerStatus.entries).toBe(2000);
    expect(client.messageLayerStatus.transmissions).toBe(1000);
    expect(vi.getTimerCount()).toBe(1);
    await client.close();
    await Promise.all(pending);
    expect(client.timerStatus.entries).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a slow handler’s separate-response delay is a wheel entry too, and retransmissions keep RFC 7252 timing', async () => {
    const sent: number[] = [];
    const start = Date.now();
    endpoint(SERVER, { handler: () => new Promise(() => undefined) });
    const client = endpoint(CLIENT);
    net.drop = (_d, from) => {
      if (from.port === CLIENT.port) sent.push(Date.now() - start);
      return from.port === CLIENT.port && sent.length < 3;
    };
    client.request(SERVER, { path: 'slow' }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(6000);
    // Sent at 0, retransmitted at 2 s and 6 s (ACK_TIMEOUT doubling, section 4.2); the third got through.
    expect(sent).toEqual([0, 2000, 6000]);
    // Server: one entry for the 1 s separate-response delay plus its periodic sweep, on its one timer.
    const server = open[0]!;
    expect(server.timerStatus.entries).toBeGreaterThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.stats.datagramsOut).toBe(1); // the empty ACK (section 5.2.2)
  });
});

describe('close', () => {
  it('sends nothing more: a CON queued behind NSTART does not go out when close fails its exchange', async () => {
    const client = endpoint(CLIENT);
    let sent = 0;
    net.drop = () => {
      sent++;
      return true;
    };
    const a = client.request(SERVER, { path: 'a' }).catch((e: unknown) => e);
    const b = client.request(SERVER, { path: 'b' }).catch((e: unknown) => e);
    await flush();
    expect(sent).toBe(1);
    await client.close();
    await Promise.all([a, b]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toBe(1);
  });
});

describe('message layer', () => {
  it('answers a duplicate CON from the dedup cache without running the handler again', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT, payload: 'once' }));
    const server = endpoint(SERVER, { handler });
    const raw = net.transport(RAW.address, RAW.port);
    const inbox: CoapMessage[] = [];
    raw.onDatagram((d) => inbox.push(decodeMessage(d)));
    const m = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 42,
      token: Buffer.from([9]),
    });
    setUriPath(m, 'a');
    for (let i = 0; i < 3; i++) {
      void raw.send(encodeMessage(m), SERVER);
      await flush();
    }
    expect(handler).toHaveBeenCalledTimes(1);
    expect(inbox.map((x) => x.payload.toString())).toEqual(['once', 'once', 'once']);
    expect(server.stats.duplicates).toBe(2);
    expect(server.messageLayerStatus.dedupEntries).toBe(1);
    // Expired by the periodic sweep after EXCHANGE_LIFETIME, not only when looked up.
    await vi.advanceTimersByTimeAsync(server.times.exchangeLifetime + 1000);
    expect(server.messageLayerStatus.dedupEntries).toBe(0);
  });

  it('NSTART 1 holds the second request to a peer until the first is answered', async () => {
    endpoint(SERVER, { handler: (r) => ({ code: CoapCode.CONTENT, payload: r.path[0] }) });
    const client = endpoint(CLIENT);
    const seen: string[] = [];
    net.drop = (d, from) => {
      if (from.port === CLIENT.port) seen.push(decodeMessage(d).options.at(-1)!.value.toString());
      return false;
    };
    const a = client.request(SERVER, { path: 'a' });
    const b = client.request(SERVER, { path: 'b' });
    expect(client.messageLayerStatus.transmissions).toBe(2);
    expect(client.awaitsAnswerFrom(SERVER)).toBe(true);
    expect(seen).toEqual(['a']);
    await expect(a).resolves.toMatchObject({ payload: Buffer.from('a') });
    await expect(b).resolves.toMatchObject({ payload: Buffer.from('b') });
    expect(seen).toEqual(['a', 'b']);
    expect(client.awaitsAnswerFrom(SERVER)).toBe(false);
  });
});

describe('the seam between exchange layer and message layer', () => {
  /** A toy transformation (payload XOR 0x5a both ways, a marker option) standing in for OSCORE. */
  function xorSeam(log: string[]): MessageSeam {
    const xor = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
    return {
      outbound: (msg, peer) => {
        log.push(`out ${peer.key} ${msg.code}`);
        return { ...msg, payload: xor(msg.payload) };
      },
      inbound: (msg, peer) => {
        log.push(`in ${peer.key} ${msg.code}`);
        if (msg.payload.length > 0 && msg.payload[0] === 0x5a) return undefined; // "fails verification"
        return { ...msg, payload: xor(msg.payload) };
      },
    };
  }

  it('sees every request and response both ways, never empty ACKs; what it returns is what goes on', async () => {
    const sLog: string[] = [];
    const cLog: string[] = [];
    const wire: string[] = [];
    endpoint(SERVER, {
      seam: xorSeam(sLog),
      handler: (req) => ({ code: CoapCode.CONTENT, payload: `echo ${req.payload.toString()}` }),
    });
    const client = endpoint(CLIENT, { seam: xorSeam(cLog) });
    net.drop = (d) => {
      wire.push(decodeMessage(d).payload.toString('latin1'));
      return false;
    };
    const res = await client.request(SERVER, { code: CoapCode.POST, path: 'p', payload: 'hi' });
    expect(res.payload.toString()).toBe('echo hi');
    // The wire carries the transformed payloads only.
    expect(wire).not.toContain('hi');
    expect(wire).not.toContain('echo hi');
    expect(cLog).toEqual([`out 10.0.0.1:5683 ${CoapCode.POST}`, `in 10.0.0.1:5683 ${CoapCode.CONTENT}`]);
    expect(sLog).toEqual([`in 10.0.0.2:40000 ${CoapCode.POST}`, `out 10.0.0.2:40000 ${CoapCode.CONTENT}`]);
  });

  it('drops what the seam refuses on the way in (the handler never sees it)', async () => {
    const handler = vi.fn(() => ({ code: CoapCode.CONTENT }));
    const server = endpoint(SERVER, { seam: xorSeam([]), handler });
    const raw = net.transport(RAW.address, RAW.port);
    const m = createMessage({
      type: CoapType.NON,
      code: CoapCode.POST,
      messageId: 1,
      payload: Buffer.from([0x5a]),
    });
    void raw.send(encodeMessage(m), SERVER);
    await flush();
    expect(handler).not.toHaveBeenCalled();
    expect(server.stats.datagramsIn).toBe(1);
  });
});
