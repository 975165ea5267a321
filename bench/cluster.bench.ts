// Cluster forwarding benchmark (`npx tsx bench/cluster.bench.ts`, also part of `npm run bench`). Three
// gateway nodes (the gateway stack of libs/gateway, as in production, on one local redis-server) and 300 DTLS
// devices with Connection IDs, all in this process. Each device reaches the nodes through a relay standing in
// for the UDP load balancer. CoAP CON GET round trips/s are measured twice over the same sessions:
//  - pinned: the relay sends each device to the node that owns its session;
//  - forwarding: the relay sends each device to another node (as after a NAT rebinding), which forwards
//    every record to the owner over the HMAC-authenticated cluster link, and every answer comes back through
//    the relay node.
// The ratio of the medians of 4 alternating 1.5 s rounds is the cost of forwarding (Californium reports
// about 20 %). Both share the relay hop and the
// client work, and everything shares the machine's cores.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { CoapCode, CoapEndpoint } from '@lwm2m/coap';
import { DtlsClient } from '@lwm2m/dtls';
import { createGatewayStack, validateGatewayConfig } from '@lwm2m/gateway';
import { createRedisStores, type RedisStores, startLocalRedis } from '@lwm2m/registry';
import { UdpTransport } from '@lwm2m/udp';
import { coapLoad, fmt, median } from './harness';

const KEY = Buffer.from('bench-psk-0123456789');
const DEVICES = 300;

/** A gateway node as production builds it (libs/gateway), answering every CoAP request with a reading. */
async function startNode(id: number, stores: RedisStores) {
  const config = validateGatewayConfig({
    COAP_NOSEC: 'false',
    COAP_HOST: '127.0.0.1',
    COAPS_PORT: '0',
    CLUSTER_PORT: '0',
    CLUSTER_ADVERTISE_HOST: '127.0.0.1',
    CLUSTER_KEY: 'bench-cluster-key-0123456789',
    NODE_ID: `node-${id}`,
    // Every device comes from 127.0.0.1 through the relay: no per-address handshake budget.
    DTLS_CLIENT_HELLO_RATE: '1000000',
    DTLS_MAX_HANDSHAKES_PER_ADDRESS: '1000',
    UDP_RECV_PER_SOURCE: '0',
  });
  const stack = createGatewayStack(config, {
    ...stores,
    cluster: { membership: stores.membership, sessions: stores.sessions, resumption: stores.resumption },
  });
  await stack.start();
  stack.mount(() => ({ code: CoapCode.CONTENT, payload: '21.5', contentFormat: 0 }));
  return { id, stack, port: stack.addresses().coaps.port };
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

export async function runClusterBench(): Promise<void> {
  console.log('\n== Cluster: CoAP over DTLS through 3 nodes, pinned vs forwarded by Connection ID ==');
  const redis = await startLocalRedis();
  const stores = createRedisStores(redis.url, { credentials: { secretsKey: randomBytes(32) } });
  for (let i = 0; i < DEVICES; i++)
    await stores.credentials.put(`dev${i}`, { type: 'psk', identity: `dev${i}`, key: KEY });
  const nodes = [await startNode(1, stores), await startNode(2, stores), await startNode(3, stores)];
  // One heartbeat round so every view holds every node, then none during the run.
  await new Promise((r) => setTimeout(r, 1200));
  for (const n of nodes) await n.stack.membership!.stop();
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
  const forwardedBefore = nodes.reduce((n, x) => n + x.stack.clusterTransport!.counters.cidForwarded, 0);
  for (let round = 0; round < 4; round++) {
    relay.state.target = pinnedTo;
    pinnedRuns.push(await measure(1500));
    relay.state.target = otherThanOwner;
    forwardingRuns.push(await measure(1500));
  }
  const pinned = median(pinnedRuns);
  const forwarding = median(forwardingRuns);
  const forwarded =
    nodes.reduce((n, x) => n + x.stack.clusterTransport!.counters.cidForwarded, 0) - forwardedBefore;
  const handshakes = nodes.reduce((n, x) => n + x.stack.dtls!.counters.handshakesCompleted, 0);
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
  for (const n of nodes) await n.stack.close();
  await stores.close();
  await redis.stop();
}

if (require.main === module)
  runClusterBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
