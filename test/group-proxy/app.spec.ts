// apps/group-proxy: the env configuration and the running app (two UDP sockets, GET /health), with two
// plain CoAP members of a loopback multicast group behind it.
import { CoapCode } from '@lwm2m/coap';
import { decodeReplyFrom, parseReplyFromHeader } from '@lwm2m/group-proxy';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateGroupProxyConfig } from '../../apps/group-proxy/src/config';
import { createGroupProxyApp, type GroupProxyApp } from '../../apps/group-proxy/src/create-group-proxy-app';
import {
  LOOPBACK,
  loopbackGroup,
  startClient,
  startLoopbackMember,
  type LoopbackMember,
  type TestClient,
} from './support';

let g: GroupProxyApp;
let members: LoopbackMember[];
let client: TestClient;
let group: { address: string; port: number };

beforeAll(async () => {
  group = await loopbackGroup();
  members = [await startLoopbackMember(group, 'm1'), await startLoopbackMember(group, 'm2')];
  // The client's socket first: the allow-list names its port.
  client = await startClient(0, LOOPBACK);
  const config = validateGroupProxyConfig({
    COAP_HOST: LOOPBACK,
    COAP_PORT: '0',
    GROUP_PROXY_INTERFACE: LOOPBACK,
    GROUP_PROXY_GROUPS: `lamps=${group.address}:${group.port}/lamps`,
    // The client's CoAP socket, and HTTP clients from loopback (section 9, by address: NoSec).
    GROUP_PROXY_ALLOW: `${LOOPBACK}:${client.port}=lamps,${LOOPBACK}=lamps`,
    GROUP_PROXY_MULTICAST_SIGNALING_OPTION: '2',
    GROUP_PROXY_RESPONSE_FORWARDING_OPTION: '248',
    HTTP_PORT: '0',
  });
  g = await createGroupProxyApp(config, { logger: false });
  await g.app.listen(0, LOOPBACK);
  await client.close();
});

afterAll(async () => {
  await client?.close();
  await g?.close();
  for (const m of members ?? []) await m.close();
});

describe('apps/group-proxy', () => {
  it('serves a reverse-proxy path from its env configuration, under the -03 option names', async () => {
    const { GroupProxyClient } = await import('@lwm2m/group-proxy');
    const { UdpTransport } = await import('@lwm2m/udp');
    // Same port as the one on the allow-list (it was released above).
    const udp = await UdpTransport.bind({ address: LOOPBACK, port: client.port });
    try {
      const c = new GroupProxyClient({
        transport: udp,
        proxy: g.coap,
        numbers: { 'Multicast-Signaling': 2, 'Response-Forwarding': 248 },
      });
      const handle = await c.request({ path: '/lamps/on', timeoutSeconds: 1 });
      const responses = await handle.finished();
      expect(responses.map((r) => r.payload.toString()).sort()).toEqual(['m1:on', 'm2:on']);
      expect(new Set(responses.map((r) => r.origin!.port)).size).toBe(2);
      expect(responses.every((r) => r.code === CoapCode.CONTENT)).toBe(true);
    } finally {
      await udp.close();
    }
    const url = await g.app.getUrl();
    const health = (await (await fetch(`${url.replace('[::1]', '127.0.0.1')}/health`)).json()) as {
      status: string;
      stats: { forwarded: number; relayed: number };
    };
    expect(health.status).toBe('ok');
    expect(health.stats.forwarded).toBe(1);
    expect(health.stats.relayed).toBe(2);
  }, 10_000);

  it('maps an HTTP request to the group and answers one multipart/mixed batch (section 9)', async () => {
    const url = (await g.app.getUrl()).replace('[::1]', '127.0.0.1');
    const target = encodeURIComponent(`coap://${group.address}:${group.port}/dim`);
    const res = await fetch(`${url}/hc/?target_uri=${target}`, {
      method: 'POST',
      headers: { 'Multicast-Timeout': '1', 'Content-Type': 'text/plain' },
      body: 'Do that!',
    });
    expect(res.status).toBe(200);
    const type = res.headers.get('content-type')!;
    expect(type).toMatch(/^multipart\/mixed; boundary=/);
    const boundary = type.split('boundary=')[1];
    const text = await res.text();
    const parts = text.split(`--${boundary}`).slice(1, -1);
    expect(parts).toHaveLength(2);
    const bodies: string[] = [];
    for (const p of parts) {
      expect(p).toContain('Content-Type: application/http');
      expect(p).toContain('HTTP/1.1 200 OK');
      // Section 9.2: Reply-From as a List of Byte Sequences holding the CRI.
      const rf = /Reply-From: (:[A-Za-z0-9+/=]+:)/.exec(p)![1];
      const origin = decodeReplyFrom(parseReplyFromHeader(rf)!);
      expect(origin.host).toBe(LOOPBACK);
      expect(members.map((m) => m.udp.address().port)).toContain(origin.port);
      bodies.push(p.trim().split('\r\n').at(-1)!);
    }
    expect(bodies.sort()).toEqual(['m1:dim', 'm2:dim']);
  }, 10_000);

  it('over HTTP: no Multicast-Timeout is 400 with an empty one, 0 is 204 at once, a stranger 403', async () => {
    const url = (await g.app.getUrl()).replace('[::1]', '127.0.0.1');
    const target = encodeURIComponent(`coap://${group.address}:${group.port}/dim`);
    const missing = await fetch(`${url}/hc/?target_uri=${target}`);
    expect(missing.status).toBe(400);
    expect(missing.headers.get('multicast-timeout')).toBe('');
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    const zero = await fetch(`${url}/hc/?target_uri=${target}`, { headers: { 'Multicast-Timeout': '0' } });
    expect(zero.status).toBe(204);
    const other = encodeURIComponent('coap://239.255.255.1:5683/x');
    const notGroup = await fetch(`${url}/hc/?target_uri=${other}`, { headers: { 'Multicast-Timeout': '1' } });
    expect(notGroup.status).toBe(502);
    // Only 127.0.0.1 is allowed: a client from 127.0.0.2 is refused (4.01, mapped to 403 by RFC 8075 7.1).
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${url}/hc/?target_uri=${target}`);
      const r = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          localAddress: '127.0.0.2',
          headers: { 'Multicast-Timeout': '1' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      r.on('error', reject);
      r.end();
    });
    expect(status).toBe(403);
  }, 10_000);

  it('refuses a configuration without allow-list, groups, or with bad numbers', () => {
    const base = { GROUP_PROXY_GROUPS: 'a=239.255.0.1:5683', GROUP_PROXY_ALLOW: '127.0.0.1' };
    expect(() => validateGroupProxyConfig({ ...base, GROUP_PROXY_ALLOW: '' })).toThrow(/allow-list/);
    expect(() => validateGroupProxyConfig({ ...base, GROUP_PROXY_GROUPS: '' })).toThrow(/no group/);
    expect(() => validateGroupProxyConfig({ ...base, GROUP_PROXY_GROUPS: 'a=239.255.0.1' })).toThrow(
      /ADDR:PORT/,
    );
    expect(() => validateGroupProxyConfig({ ...base, GROUP_PROXY_REPLY_FROM_ENCODING: 'xml' })).toThrow(
      /cri or tp-info/,
    );
    expect(() => validateGroupProxyConfig({ ...base, GROUP_PROXY_OPTION_NUMBERS: 'iana' })).toThrow();
    expect(
      validateGroupProxyConfig({ ...base, GROUP_PROXY_GROUPS: 'a=239.255.0.1:5683/x/y>10.0.0.9:5683' })
        .groups,
    ).toEqual([
      {
        name: 'a',
        address: '239.255.0.1',
        port: 5683,
        reversePath: ['x', 'y'],
        nextHop: { address: '10.0.0.9', port: 5683 },
      },
    ]);
  });
});
