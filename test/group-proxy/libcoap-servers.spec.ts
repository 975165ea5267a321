// Issue 15 acceptance, independent servers: libcoap's coap-server-notls (4.3.1), each in its own network
// namespace and joined with -g to one IPv4 multicast group, answer a GET that our client sends through our
// proxy. draft-ietf-core-groupcomm-proxy sections 4.1, 4.2, 5.4 and 5.5.
//
// libcoap delays every response to a multicast request by a random time up to its Leisure, 5 s
// (net.c: COAP_DEFAULT_LEISURE_TICKS * r / 256), so T' must be above 5 s to hear every server.
import { CoapCode, getOption } from '@lwm2m/coap';
import { formatReplyFrom, replyFromPeer } from '@lwm2m/group-proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroupNet, type GroupNet } from './group-net';
import { startClient, startProxy, until, type TestClient, type TestProxy } from './support';

const SERVERS = 3;
let net: GroupNet;
let proxy: TestProxy;
let client: TestClient;
let stranger: TestClient;

beforeAll(async () => {
  net = createGroupNet(SERVERS);
  for (let i = 0; i < SERVERS; i++) {
    net.spawnIn(i, 'coap-server-notls', ['-A', '0.0.0.0', '-p', '5683', '-g', net.groupAddr, '-G', 'eth0']);
  }
  const groups = [{ name: 'lights', address: net.groupAddr, port: 5683 }];
  // The allow-list is filled below, once the client's port is known.
  const allow: { address: string; port: number; groups: string[] }[] = [];
  proxy = await startProxy(net.hostAddr, groups, allow);
  client = await startClient(proxy.port);
  stranger = await startClient(proxy.port);
  allow.push({ address: '127.0.0.1', port: client.port, groups: ['lights'] });
  // Each server answers unicast once it is up (the client reaches them directly on the group network).
  for (const addr of net.serverAddrs) {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.client.requestDirect({ address: addr, port: 5683 }, { path: '/' }, 500);
        break;
      } catch (err) {
        if (attempt > 20) throw err;
      }
    }
  }
}, 30_000);

afterAll(async () => {
  await client?.close();
  await stranger?.close();
  await proxy?.close();
  net?.destroy();
});

describe('a GET through the proxy to libcoap servers in one multicast group', () => {
  it("relays one response per server, each with Reply-From naming it, and nothing after T'", async () => {
    const before = proxy.proxy.stats.relayed;
    const sentAt = Date.now();
    const handle = await client.client.request({
      groupUri: `coap://${net.groupAddr}:5683/`,
      timeoutSeconds: 6,
    });
    const responses = await handle.finished();
    expect(responses.map((r) => r.code)).toEqual(Array(SERVERS).fill(CoapCode.CONTENT));
    const origins = responses.map((r) => formatReplyFrom(r.origin!)).sort();
    expect(origins).toEqual(net.serverAddrs.map((a) => `coap://${a}:5683`).sort());
    for (const r of responses) {
      expect(r.payload.toString()).toContain('libcoap');
      expect(r.receivedAt - sentAt).toBeLessThan(6000 + 200);
    }
    expect(proxy.proxy.stats.relayed - before).toBe(SERVERS);
    // T' is over: the proxy freed its token, nothing is left to relay.
    expect(proxy.proxy.activeForwards).toBe(0);

    // Section 4.5.1 step 3: reach one server directly at the address Reply-From gave.
    const one = responses[1].origin!;
    const direct = await client.client.requestDirect(replyFromPeer(one), { path: '/' });
    expect(direct.code).toBe(CoapCode.CONTENT);
    expect(direct.payload.toString()).toContain('libcoap');
    // ... or again through the proxy, which now knows it as a member of the group.
    const via = await client.client.requestViaProxy(replyFromPeer(one), { path: '/' });
    expect(via!.code).toBe(CoapCode.CONTENT);
    expect(via!.payload.toString()).toContain('libcoap');
  }, 20_000);

  it("drops what comes after T' (section 5.4) and fills in silent servers from its cache (section 7.1)", async () => {
    const stats = proxy.proxy.stats;
    const before = { relayed: stats.relayed, late: stats.late, cached: stats.relayedFromCache };
    const sentAt = Date.now();
    const handle = await client.client.request({
      groupUri: `coap://${net.groupAddr}:5683/`,
      timeoutSeconds: 1,
      marginMs: 5000,
    });
    // T = T' + 5 s: the client would take anything the proxy sent until then.
    const responses = await handle.finished();
    await until(
      () => stats.relayed - before.relayed + (stats.late - before.late) === SERVERS,
      1000,
      'every server to have answered',
    );
    const live = stats.relayed - before.relayed;
    const fromCache = stats.relayedFromCache - before.cached;
    // The first test cached every server's 2.05 (libcoap's Max-Age is 196607 s, longer than T'): the
    // servers that did not answer within T' are served from the cache just before T' expires.
    expect(live + fromCache).toBe(SERVERS);
    expect(responses.length).toBe(SERVERS);
    expect(new Set(responses.map((r) => r.origin!.host)).size).toBe(SERVERS);
    for (const r of responses) expect(r.receivedAt - sentAt).toBeLessThan(1000 + 100);
  }, 20_000);

  it('answers 4.01 Unauthorized to a client not on the allow-list, and forwards nothing', async () => {
    const forwarded = proxy.proxy.stats.forwarded;
    const handle = await stranger.client.request({
      groupUri: `coap://${net.groupAddr}:5683/`,
      timeoutSeconds: 2,
    });
    const [r] = await handle.finished();
    expect(r.code).toBe(CoapCode.UNAUTHORIZED);
    expect(r.origin).toBeUndefined();
    expect(proxy.proxy.stats.forwarded).toBe(forwarded);
  });

  it('answers 4.00 with an empty Multicast-Timeout to a request without one (section 4.2.1 step 3)', async () => {
    const forwarded = proxy.proxy.stats.forwarded;
    const handle = await client.client.request({ groupUri: `coap://${net.groupAddr}:5683/` });
    const [r] = await handle.finished();
    expect(r.code).toBe(CoapCode.BAD_REQUEST);
    const mt = getOption(r.message, client.client.numbers.multicastTimeoutOption);
    expect(mt).toBeDefined();
    expect(mt!.length).toBe(0);
    expect(r.payload.toString()).toMatch(/Multicast-Timeout/);
    expect(proxy.proxy.stats.forwarded).toBe(forwarded);
  });
});
