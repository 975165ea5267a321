// Cluster forwarding benchmark (`npx tsx bench/cluster.bench.ts`, also part of `npm run bench`). Three
// gateway nodes, each in its own process (bench/load/cluster-node.ts: the gateway stack of libs/gateway, as in
// production, on one local redis-server), and 300 DTLS devices with Connection IDs in this process. Each device reaches the nodes through a relay standing in
// for the UDP load balancer. CoAP CON GET round trips/s are measured twice over the same sessions:
//  - pinned: the relay sends each device to the node that owns its session;
//  - forwarding: the relay sends each device to another node (as after a NAT rebinding), which forwards
//    every record to the owner over the HMAC-authenticated cluster link, and every answer comes back through
//    the relay node.
// The ratio of the medians of 4 alternating 1.5 s rounds is the cost of forwarding (Californium reports
// about 20 %). Both share the relay hop and the
// client work, and everything shares the machine's cores.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { CoapEndpoint } from '@lwm2m/coap';
import { DtlsClient } from '@lwm2m/dtls';
import { createRedisStores, startLocalRedis } from '@lwm2m/registry';
import { UdpTransport } from '@lwm2m/udp';
import { coapLoad, fmt, median } from './harness';

const KEY = Buffer.from('bench-psk-0123456789');
const DEVICES = 300;

type NodeReply = { ready?: number; quiet?: boolean; forwarded?: number; handshakes?: number };

/** A gateway node in its own process (bench/load/cluster-node.ts), driven over IPC. */
async function startNode(id: number, redisUrl: string, secretsKey: Buffer) {
  const child = fork(
    join(__dirname, 'load/cluster-node.ts'),
    [String(id), redisUrl, secretsKey.toString('hex')],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const ask = (cmd: string, want: keyof NodeReply) =>
    new Promise<NodeReply>((ok, fail) => {
      const on = (m: NodeReply) => {
        if (m[want] === undefined) return;
        child.off('message', on);
        ok(m);
      };
      child.on('message', on);
      child.once('exit', (code) => fail(new Error(`cluster node ${id} exited (${code})`)));
      if (cmd !== '') child.send({ cmd });
    });
  const port = (await ask('', 'ready')).ready!;
  return {
    id,
    port,
    quiet: () => ask('quiet', 'quiet'),
    counters: async () => {
      const r = await ask('counters', 'handshakes');
      return { forwarded: r.forwarded!, handshakes: r.handshakes! };
    },
    close: () =>
      new Promise<void>((ok) => {
        child.once('exit', () => ok());
        child.send({ cmd: 'close' });
      }),
  };
}

/** One upstream socket per device, like a load balancer's flow; `target(i)` picks the node's port. */
async function startRelay(target: (device: number) => number) {
  const front: Socket = createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  const flows = new Map<number, Socket>();
  const deviceOf = new Map<number, number>();
  const state = { target };
  front.on('message', (msg, rinfo) => {
    let up = flows.get(rinfo.port);
    if (!up) {
      const u = createSocket('udp4');
      u.bind(0, '127.0.0.1');
      u.on('message', (back) => front.send(back, rinfo.port, rinfo.address));
      flows.set(rinfo.port, u);
      up = u;
    }
    up.send(msg, state.target(deviceOf.get(rinfo.port) ?? 0), '127.0.0.1');
  });
  return {
    port: (front.address() as { port: number }).port,
    state,
    deviceOf,
    close() {
      for (const f of flows.values()) f.close();
      front.close();
    },
  };
}

export async function runClusterBench(): Promise<{ pinned: number; forwarding: number }> {
  console.log(
    '\n== Cluster: CoAP over DTLS through 3 nodes (each its own process), pinned vs forwarded by Connection ID ==',
  );
  const redis = await startLocalRedis();
  const secretsKey = randomBytes(32);
  const stores = createRedisStores(redis.url, { credentials: { secretsKey } });
  for (let i = 0; i < DEVICES; i++)
    await stores.credentials.put(`dev${i}`, { type: 'psk', identity: `dev${i}`, key: KEY });
  const nodes = await Promise.all([1, 2, 3].map((id) => startNode(id, redis.url, secretsKey)));
  // One heartbeat round so every view holds every node, then none during the run.
  await new Promise((r) => setTimeout(r, 1200));
  for (const n of nodes) await n.quiet();
  const owner = (i: number) => nodes[i % 3]!;
  const relay = await startRelay((i) => owner(i).port);
  const to = { address: '127.0.0.1', port: relay.port };
  const devices = await Promise.all(
    Array.from({ length: DEVICES }, async (_, i) => {
      const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
      relay.deviceOf.set(udp.address().port, i);
      const client = new DtlsClient({ transport: udp, psk: { identity: `dev${i}`, key: KEY } });
      return {
        client,
        coap: new CoapEndpoint({ transport: client }),
      };
    }),
  );
  for (let i = 0; i < devices.length; i += 50)
    await Promise.all(devices.slice(i, i + 50).map((d) => d.client.connect(to)));

  const clients = devices.map((d) => d.coap);
  const measure = async (ms: number): Promise<number> => {
    const run = await coapLoad(clients, to, ms);
    if (run.retransmissions || run.timeouts)
      console.log(`   (${run.retransmissions} CoAP retransmissions, ${run.timeouts} timeouts)`);
    return run.rate;
  };
  const pinnedTo = (i: number) => owner(i).port;
  const otherThanOwner = (i: number) => nodes[(i + 1) % 3]!.port;
  await measure(500); // warm-up
  // Alternating rounds, medians: the machine's noise hits both modes alike.
  const pinnedRuns: number[] = [];
  const forwardingRuns: number[] = [];
  const totals = async () => {
    const all = await Promise.all(nodes.map((n) => n.counters()));
    return {
      forwarded: all.reduce((n, c) => n + c.forwarded, 0),
      handshakes: all.reduce((n, c) => n + c.handshakes, 0),
    };
  };
  const forwardedBefore = (await totals()).forwarded;
  for (let round = 0; round < 4; round++) {
    relay.state.target = pinnedTo;
    pinnedRuns.push(await measure(1500));
    relay.state.target = otherThanOwner;
    forwardingRuns.push(await measure(1500));
  }
  const pinned = median(pinnedRuns);
  const forwarding = median(forwardingRuns);
  const after = await totals();
  const forwarded = after.forwarded - forwardedBefore;
  const handshakes = after.handshakes;
  console.log(
    `pinned to the owner node                ${fmt(pinned).padStart(8)} round trips/s   (baseline)`,
  );
  console.log(
    `forwarded over the cluster link         ${fmt(forwarding).padStart(8)} round trips/s   x${(forwarding / pinned).toFixed(3)} ` +
      `(forwarding costs ${((1 - forwarding / pinned) * 100).toFixed(1)} %; ${fmt(forwarded)} records forwarded, ` +
      `${handshakes} handshakes for ${DEVICES} devices)`,
  );
  relay.close();
  await Promise.all(devices.map((d) => d.coap.close()));
  await Promise.all(nodes.map((n) => n.close()));
  await stores.close();
  await redis.stop();
  return { pinned, forwarding };
}

if (require.main === module)
  runClusterBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
