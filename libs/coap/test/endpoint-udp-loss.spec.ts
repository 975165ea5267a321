// RFC 7252 section 4.2 / 4.5 over real UDP sockets on 127.0.0.1, with loss injected by a wrapping
// transport and the timing driven by fake timers (only the timers: the sockets stay real).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoapCode, CoapEndpoint, CoapTimeoutError, CoapType, decodeMessage } from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';
import { dropFirst, LossyTransport } from './support/lossy';

const closing: Array<{ close(): Promise<void> }> = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closing.splice(0).map((c) => c.close()));
});

async function pair(opts: { clientLoss?: number; serverLoss?: number; handlerDelay?: number } = {}) {
  let handled = 0;
  const serverUdp = await UdpTransport.bind({ port: 0 });
  const clientUdp = await UdpTransport.bind({ port: 0 });
  const serverT = new LossyTransport(serverUdp, { dropSend: dropFirst(opts.serverLoss ?? 0) });
  const clientT = new LossyTransport(clientUdp, { dropSend: dropFirst(opts.clientLoss ?? 0) });
  // random 0: the initial timeout is exactly ACK_TIMEOUT (2 s), the low end of RFC 7252 4.8's range.
  const server = new CoapEndpoint({
    transport: serverT,
    random: () => 0,
    handler: () => {
      handled++;
      return { code: CoapCode.CONTENT, payload: 'pong' };
    },
  });
  const client = new CoapEndpoint({ transport: clientT, random: () => 0 });
  closing.push(client, server);
  return { server, client, serverT, clientT, serverAddr: serverUdp.address(), handled: () => handled };
}

/** Lets real socket I/O happen while fake time stands still. */
async function settle(ms = 30): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) await new Promise((r) => setImmediate(r));
}

describe('CON retransmission over real UDP with injected loss', () => {
  it('retransmits at 2 s and 6 s after two losses, then gets the piggybacked response', async () => {
    const { client, clientT, serverAddr, handled } = await pair({ clientLoss: 2 });
    const t0 = Date.now();
    const response = client.request(serverAddr, { code: CoapCode.GET, path: '/ping' });
    await settle();
    await vi.advanceTimersByTimeAsync(2000);
    await settle();
    await vi.advanceTimersByTimeAsync(4000);
    await settle();
    const res = await response;
    expect(res.code).toBe(CoapCode.CONTENT);
    expect(res.payload.toString()).toBe('pong');
    expect(clientT.sent.map((s) => [s.at - t0, s.dropped])).toEqual([
      [0, true],
      [2000, true],
      [6000, false],
    ]);
    // the same message (same Message ID) each time: a retransmission, not a new request
    const mids = clientT.sent.map((s) => decodeMessage(s.data).messageId);
    expect(new Set(mids).size).toBe(1);
    expect(handled()).toBe(1);
  });

  it('gives up after MAX_RETRANSMIT (4) retransmissions at 2, 6, 14 and 30 s, failing at 62 s', async () => {
    const { client, clientT, serverAddr } = await pair({ clientLoss: 100 });
    const t0 = Date.now();
    const response = client.request(serverAddr, { code: CoapCode.GET, path: '/ping' });
    const outcome = response.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    for (const step of [2000, 4000, 8000, 16000, 32000]) {
      await vi.advanceTimersByTimeAsync(step);
      await settle(5);
    }
    expect(clientT.sent.map((s) => s.at - t0)).toEqual([0, 2000, 6000, 14000, 30000]);
    expect(await outcome).toBeInstanceOf(CoapTimeoutError);
  });

  it('answers a retransmitted CON whose ACK was lost from the cache, without running the handler again', async () => {
    const { client, server, serverT, serverAddr, handled } = await pair({ serverLoss: 1 });
    const response = client.request(serverAddr, { code: CoapCode.POST, path: '/once', payload: 'x' });
    await settle();
    expect(serverT.sent).toHaveLength(1); // the piggybacked ACK, lost
    await vi.advanceTimersByTimeAsync(2000);
    await settle();
    const res = await response;
    expect(res.payload.toString()).toBe('pong');
    expect(handled()).toBe(1);
    expect(server.stats.duplicates).toBe(1);
    // byte for byte the same ACK as the lost one (RFC 7252 4.5)
    expect(serverT.sent[1].data).toEqual(serverT.sent[0].data);
    expect(decodeMessage(serverT.sent[1].data).type).toBe(CoapType.ACK);
  });
});
