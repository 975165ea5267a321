// Self-test of the NAT harness: a device in a network namespace behind a real Linux NAT (MASQUERADE in its own
// namespace) talks UDP to a server on the host; a conntrack flush moves it to a new external port.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatTopology, type NatTopology, netnsUnavailableReason } from './netns';

interface Seen {
  address: string;
  port: number;
  text: string;
}

interface RecordingServer {
  socket: Socket;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

async function startServer(host: string): Promise<RecordingServer> {
  const socket = createSocket('udp4');
  const seen: Seen[] = [];
  socket.on('message', (msg, r) => seen.push({ address: r.address, port: r.port, text: msg.toString() }));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return {
    socket,
    port: socket.address().port,
    seen,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/**
 * A device inside the namespace: sends `tick-<n>` every `everyMs` to host:port from one socket (or, with
 * `pauseAfter`, goes quiet for `pauseMs` after that many) and prints `recv <from> <text>` for each datagram.
 */
function startDevice(
  topo: NatTopology,
  host: string,
  port: number,
  opts: { everyMs?: number; pauseAfter?: number; pauseMs?: number } = {},
): { child: ChildProcess; lines: string[] } {
  const script = `
    const d = require('node:dgram').createSocket('udp4');
    d.on('message', (m, r) => console.log('recv ' + r.address + ':' + r.port + ' ' + m));
    let n = 0;
    const tick = () => {
      d.send('tick-' + n, ${port}, ${JSON.stringify(host)});
      n++;
      setTimeout(tick, n === ${opts.pauseAfter ?? -1} ? ${opts.pauseMs ?? 0} : ${opts.everyMs ?? 100});
    };
    d.bind(0, () => { console.log('ready ' + d.address().port); tick(); });
  `;
  const child = topo.exec([process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => lines.push(`stderr ${chunk.toString()}`));
  return { child, lines };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NAT topology in network namespaces', () => {
  let unavailable: string | undefined;
  const topologies: NatTopology[] = [];
  const servers: RecordingServer[] = [];

  beforeAll(async () => {
    unavailable = await netnsUnavailableReason();
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    for (const t of topologies) await t.destroy();
  });

  it('source-NATs the device, moves it to a new external port after a conntrack flush, routes replies', async (ctx) => {
    if (unavailable) ctx.skip(`cannot build network namespaces here: ${unavailable}`);
    const topo = await createNatTopology();
    topologies.push(topo);
    const server = await startServer(topo.gatewayAddr);
    servers.push(server);
    const device = startDevice(topo, topo.gatewayAddr, server.port);
    const reply = (text: string, port: number) => server.socket.send(text, port, topo.natAddr);
    const received = (text: string) =>
      device.lines.includes(`recv ${topo.gatewayAddr}:${server.port} ${text}`) || undefined;

    // the server sees the NAT's address, never the device's own
    await waitFor('3 datagrams from the device', () => server.seen.length >= 3 || undefined);
    expect(topo.natAddr).not.toBe(topo.insideAddr);
    expect(new Set(server.seen.map((s) => s.address))).toEqual(new Set([topo.natAddr]));
    const ports = new Set(server.seen.map((s) => s.port));
    expect(ports.size).toBe(1);
    const first = [...ports][0];
    const devicePort = Number(device.lines.find((l) => l.startsWith('ready '))!.split(' ')[1]);
    expect(first).not.toBe(devicePort); // --random-fully: not even the port is kept

    reply('reply-1', first);
    await waitFor('reply-1 inside', () => received('reply-1'), 3000);

    // the NAT forgets the mapping: the next datagram leaves from another port
    await topo.flushConntrack();
    const seenBefore = server.seen.length;
    const moved = await waitFor('a datagram from a new port', () =>
      server.seen.slice(seenBefore).find((s) => s.port !== first),
    );
    expect(moved.address).toBe(topo.natAddr);
    const second = moved.port;
    await waitFor(
      '3 more datagrams',
      () => server.seen.length >= server.seen.indexOf(moved) + 3 || undefined,
    );
    const after = server.seen.slice(server.seen.indexOf(moved));
    expect(new Set(after.map((s) => s.port))).toEqual(new Set([second]));

    // the old mapping is gone: only the latest source reaches the device
    reply('stale', first);
    reply('reply-2', second);
    await waitFor('reply-2 inside', () => received('reply-2'), 3000);
    await sleep(300);
    expect(received('stale')).toBeUndefined();
    expect(device.lines.filter((l) => l.startsWith('stderr'))).toEqual([]);
  });

  it('forgets an idle mapping after udpTimeoutSeconds, like a carrier NAT', async (ctx) => {
    if (unavailable) ctx.skip(`cannot build network namespaces here: ${unavailable}`);
    const topo = await createNatTopology({ udpTimeoutSeconds: 1 });
    topologies.push(topo);
    const server = await startServer(topo.gatewayAddr);
    servers.push(server);
    // 3 datagrams, 2.5 s asleep, then on again
    startDevice(topo, topo.gatewayAddr, server.port, { pauseAfter: 3, pauseMs: 2500 });
    await waitFor('a datagram after the pause', () => server.seen.length >= 4 || undefined, 6000);
    const [a, b, c, d] = server.seen;
    expect([a.text, b.text, c.text, d.text]).toEqual(['tick-0', 'tick-1', 'tick-2', 'tick-3']);
    expect(b.port).toBe(a.port);
    expect(c.port).toBe(a.port);
    expect(d.port).not.toBe(a.port);
  });

  it('destroy() removes the namespaces, the veths and the processes started inside', async (ctx) => {
    if (unavailable) ctx.skip(`cannot build network namespaces here: ${unavailable}`);
    const topo = await createNatTopology();
    const sleeper = topo.exec(['sleep', '60'], { stdio: 'ignore' });
    await waitFor('the process inside', () => sleeper.pid);
    const exited = new Promise((r) => sleeper.once('exit', r));
    await topo.destroy();
    await exited;
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(namespaces).not.toContain(topo.nsName);
    expect(namespaces).not.toContain(topo.routerNsName);
    expect(spawnSync('ip', ['link', 'show', 'dev', topo.hostInterface]).status).not.toBe(0);
    await topo.destroy(); // idempotent
  });
});
