// Issue 15 acceptance with the `coap` npm package (node-coap) as the group's servers, each in its own
// network namespace, joined to one IPv4 multicast group (its multicastAddress option): GET, late answers,
// a reverse-proxy path, a chain of two proxies, and Observe through the proxy.
// draft-ietf-core-groupcomm-proxy sections 4, 5, 6 and 8.
import { CoapCode } from '@lwm2m/coap';
import { formatReplyFrom, type GroupResponse } from '@lwm2m/group-proxy';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroupNet, type GroupNet } from './group-net';
import { LOOPBACK, sleep, startClient, startProxy, until, type TestClient, type TestProxy } from './support';

const SERVERS = 3;
const SCRIPT = join(__dirname, 'coap-npm-server.mjs');
let net: GroupNet;
let servers: ChildProcess[] = [];
let proxy: TestProxy;
let firstHop: TestProxy;
let client: TestClient;
let allow: { address: string; port?: number; groups: string[] | '*' }[];

const nameOf = (r: GroupResponse): string => `s${net.serverAddrs.indexOf(r.origin!.host)}`;

beforeAll(async () => {
  net = createGroupNet(SERVERS);
  servers = net.serverAddrs.map((_, i) =>
    net.spawnIn(i, process.execPath, [SCRIPT, net.groupAddr, `s${i}`], { cwd: join(__dirname, '../..') }),
  );
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve, reject) => {
          s.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
          s.once('exit', (code) => reject(new Error(`coap npm server exited ${code}`)));
        }),
    ),
  );
  allow = [];
  proxy = await startProxy(
    net.hostAddr,
    [{ name: 'nodes', address: net.groupAddr, port: 5683, reversePath: ['all'] }],
    allow,
  );
  // Section 8: a first proxy whose next hop is `proxy`; the last proxy allows the first by its address.
  firstHop = await startProxy(
    LOOPBACK,
    [{ name: 'nodes', address: net.groupAddr, port: 5683, nextHop: { address: LOOPBACK, port: proxy.port } }],
    allow,
  );
  client = await startClient(proxy.port);
  allow.push({ address: LOOPBACK, port: client.port, groups: '*' });
  allow.push({ address: LOOPBACK, port: firstHop.groupSide.address().port, groups: ['nodes'] });
}, 30_000);

afterAll(async () => {
  await client?.close();
  await firstHop?.close();
  await proxy?.close();
  net?.destroy();
});

describe('node-coap servers in one multicast group, through the proxy', () => {
  it('answer a GET: one response per server, Reply-From naming each', async () => {
    const handle = await client.client.request({
      groupUri: `coap://${net.groupAddr}:5683/r`,
      timeoutSeconds: 2,
    });
    const responses = await handle.finished();
    expect(responses.length).toBe(SERVERS);
    for (const r of responses) {
      expect(r.code).toBe(CoapCode.CONTENT);
      // Each server names itself in its payload: the Reply-From address is the one that answered.
      expect(r.payload.toString()).toBe(`${nameOf(r)}:0`);
      expect(formatReplyFrom(r.origin!)).toBe(`coap://${r.origin!.host}:5683`);
    }
    expect(new Set(responses.map(nameOf)).size).toBe(SERVERS);
  }, 10_000);

  it("relays nothing that arrives after T' (section 5.4)", async () => {
    servers[2].stdin!.write('delay 1500\n');
    const late = proxy.proxy.stats.late;
    try {
      const sentAt = Date.now();
      // Another query: not answered from the cache of the test before.
      const handle = await client.client.request({
        groupUri: `coap://${net.groupAddr}:5683/r?late`,
        timeoutSeconds: 1,
        marginMs: 2000,
      });
      const responses = await handle.finished();
      expect(responses.map(nameOf).sort()).toEqual(['s0', 's1']);
      for (const r of responses) expect(r.receivedAt - sentAt).toBeLessThan(1100);
      // s2 did answer, after T': the proxy counted it and dropped it.
      await until(() => proxy.proxy.stats.late === late + 1, 2000, 'the late answer');
    } finally {
      servers[2].stdin!.write('delay 0\n');
    }
  }, 10_000);

  it('serve a reverse-proxy path (section 6): /all/r stands for the group', async () => {
    const handle = await client.client.request({ path: '/all/r', query: ['rev'], timeoutSeconds: 2 });
    const responses = await handle.finished();
    expect(responses.map(nameOf).sort()).toEqual(['s0', 's1', 's2']);
  }, 10_000);

  it('answer through a chain of two proxies (section 8), Reply-From set by the last one only', async () => {
    const chainClient = await startClient(firstHop.port);
    try {
      // The first proxy's allow-list is the shared one: let this client in.
      allow.push({ address: LOOPBACK, port: chainClient.port, groups: ['nodes'] });
      const handle = await chainClient.client.request({
        groupUri: `coap://${net.groupAddr}:5683/r?chain`,
        timeoutSeconds: 3,
      });
      const responses = await handle.finished();
      expect(responses.length).toBe(SERVERS);
      expect(responses.map(nameOf).sort()).toEqual(['s0', 's1', 's2']);
      expect(firstHop.proxy.stats.relayed).toBe(SERVERS);
    } finally {
      await chainClient.close();
    }
  }, 10_000);

  it('relay a change on one server as one notification, and stop when the client cancels', async () => {
    const got: GroupResponse[] = [];
    const handle = await client.client.request({
      groupUri: `coap://${net.groupAddr}:5683/r?obs`,
      observe: true,
      timeoutSeconds: 1,
    });
    handle.onResponse((r) => got.push(r));
    await until(() => got.length === SERVERS, 3000, 'the three registrations');
    expect(got.every((r) => r.observe !== undefined)).toBe(true);
    // Past T (T' + 1 s): the observation outlives the timeout (sections 5.4 and 5.5 "Supporting Observe").
    await sleep(2100);
    expect(handle.ended).toBe(false);
    expect(proxy.proxy.activeForwards).toBe(1);

    servers[1].stdin!.write('change\n');
    await until(() => got.length === SERVERS + 1, 3000, 'the notification');
    await sleep(300);
    expect(got.length).toBe(SERVERS + 1);
    const n = got[SERVERS];
    expect(nameOf(n)).toBe('s1');
    expect(n.payload.toString()).toBe('s1:1');
    expect(n.observe).toBeGreaterThan(got.find((r) => nameOf(r) === 's1')!.observe!);

    // Section 4.1.3: Early Stop Request; the next notification from the server meets a freed token.
    await handle.cancel();
    await until(() => proxy.proxy.activeForwards === 0, 2000, 'the proxy to free the observation');
    const late = proxy.proxy.stats.late;
    servers[1].stdin!.write('change\n');
    await until(() => proxy.proxy.stats.late === late + 1, 2000, 'the notification after cancel');
    await sleep(200);
    expect(got.length).toBe(SERVERS + 1);
  }, 15_000);
});
