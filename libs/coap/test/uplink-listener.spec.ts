// The endpoint computes a datagram's peer key once, and hands the peer and that key to the uplink listener
// (presence) after handling it: no second computation, no wrapping transport.
import { describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, MemoryNetwork, type Peer } from '@lwm2m/coap';

describe('CoapEndpoint uplink listener', () => {
  it('hands every datagram (malformed ones too) to the listener with the key computed once', async () => {
    const net = new MemoryNetwork();
    const serverSide = net.transport('10.0.0.1', 5683);
    let keyCalls = 0;
    serverSide.peerKey = (p: Peer) => {
      keyCalls++;
      return `k:${p.address}:${p.port}`;
    };
    const server = new CoapEndpoint({
      transport: serverSide,
      handler: () => ({ code: CoapCode.CONTENT, payload: 'ok' }),
    });
    const seen: string[] = [];
    server.setUplinkListener((peer, key) => {
      seen.push(`${peer.address} ${key}`);
      throw new Error('a failing listener is logged, not fatal');
    });
    const deviceSide = net.transport('192.0.2.1', 40000);
    const device = new CoapEndpoint({ transport: deviceSide });
    const res = await device.request({ address: '10.0.0.1', port: 5683 }, { path: '/x' });
    expect(res.code).toBe(CoapCode.CONTENT);
    await deviceSide.send(Buffer.from([0xff, 0x00]), { address: '10.0.0.1', port: 5683 });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['192.0.2.1 k:192.0.2.1:40000', '192.0.2.1 k:192.0.2.1:40000']);
    expect(keyCalls).toBe(2);
    expect(server.stats.malformed).toBe(1);
    await device.close();
    await server.close();
  });
});
