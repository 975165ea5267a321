// Section 8 and Appendix C: a proxy (the gateway role) takes part in the group observation for its
// 100 observers, receives one multicast datagram per change and forwards it to each observer over
// unicast with that observer's own token. Downstream it is a plain CoapEndpoint handler, so the DTLS
// transport replaces the UDP one below without touching the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapEndpoint, type CoapResponse } from '@lwm2m/coap';
import { GroupObserveClient, GroupObserveProxy } from '@lwm2m/group-observe';
import { UdpMulticastReceiver, UdpTransport } from '@lwm2m/udp';
import { groupSniffer, LOOPBACK, startServer, testGroup, until, type TestServer } from './support';

const OBSERVERS = 100;
const GROUP = testGroup(5);

describe(`a proxy with ${OBSERVERS} unicast observers (section 8)`, () => {
  let s: TestServer;
  let downstream: CoapEndpoint;
  let upstream: CoapEndpoint;
  let proxy: GroupObserveProxy;
  let proxyPeer: { address: string; port: number };
  const observers: { endpoint: CoapEndpoint; token: Buffer; seen: CoapResponse[] }[] = [];

  beforeAll(async () => {
    s = await startServer(GROUP);
    s.topics.set('ps/temp', { payload: Buffer.from('20.0'), contentFormat: 0 });
    const down = await UdpTransport.bind({ address: LOOPBACK });
    downstream = new CoapEndpoint({ transport: down });
    upstream = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
    proxy = new GroupObserveProxy({
      downstream,
      upstream: new GroupObserveClient({
        endpoint: upstream,
        receiver: new UdpMulticastReceiver({ interface: LOOPBACK }),
      }),
      origin: s.peer,
    });
    downstream.setHandler((req) => proxy.handle(req) ?? { code: 0x84 });
    proxyPeer = down.address();
    for (let i = 0; i < OBSERVERS; i++) {
      const endpoint = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
      observers.push({ endpoint, token: Buffer.from([0xc0, i]), seen: [] });
    }
    await Promise.all(
      observers.map(async (o) => {
        const h = await o.endpoint.observe(proxyPeer, { path: '/ps/temp', token: o.token }, (res) =>
          o.seen.push(res),
        );
        expect(h.established).toBe(true);
        expect(h.response.payload.toString()).toBe('20.0');
      }),
    );
  }, 30_000);

  afterAll(async () => {
    await Promise.all(observers.map((o) => o.endpoint.close()));
    await downstream.close();
    await upstream.close();
    await s.close();
  });

  it('registers once at the origin, which counts the proxy as one client', () => {
    expect(proxy.stats.registrations).toBe(OBSERVERS);
    expect(proxy.stats.upstreamRegistrations).toBe(1);
    expect(s.group.get('ps/temp')?.counter).toBe(1);
    expect(proxy.list()).toEqual([{ path: 'ps/temp', mode: 'group', token: s.group.get('ps/temp')!.token }]);
  });

  it('one multicast datagram in, one unicast notification per observer out, each with its own token', async () => {
    const sniffer = await groupSniffer(GROUP);
    const before = downstream.stats.datagramsOut;
    try {
      await s.publish('/ps/temp', '22.5');
      await until(() => observers.every((o) => o.seen.length === 1), 'every observer notified');
      expect(sniffer.messages).toHaveLength(1);
      expect(s.group.stats.multicastDatagrams).toBe(1);
      expect(proxy.stats.upstreamNotifications).toBe(1);
      expect(proxy.stats.unicastNotifications).toBe(OBSERVERS);
      expect(downstream.stats.datagramsOut - before).toBe(OBSERVERS);
      for (const o of observers) {
        expect(o.seen[0].token.equals(o.token)).toBe(true);
        expect(o.seen[0].payload.toString()).toBe('22.5');
        expect(o.seen[0].observe).toBeGreaterThan(0);
      }
      console.log(
        `intermediary: ${sniffer.messages.length} multicast datagram in, ${downstream.stats.datagramsOut - before} unicast notifications out`,
      );
    } finally {
      await sniffer.close();
    }
  });

  it("passes the origin's cancellation on: every observer gets the 5.03", async () => {
    await s.group.cancel('ps/temp');
    await until(() => observers.every((o) => o.seen.length === 2), 'every observer told');
    for (const o of observers) expect(o.seen[1].code).toBe(0xa3);
    expect(downstream.listObservers()).toHaveLength(0);
    expect(proxy.list()).toEqual([]);
  });
});
