// Shared set-up of the group-observe tests: a real CoAP server on 127.0.0.1 sending IP multicast on
// loopback, clients with their own sockets, and a socket joined to the group that counts datagrams.
import { CoapEndpoint, decodeMessage, type CoapMessage, type Peer } from '@lwm2m/coap';
import {
  GroupObserveClient,
  GroupObserveServer,
  transportMulticastSender,
  type GroupObserveClientOptions,
  type GroupObserveServerOptions,
  type Representation,
} from '@lwm2m/group-observe';
import { UdpMulticastReceiver, UdpTransport } from '@lwm2m/udp';
import { prng } from '../support/fuzz';

export const LOOPBACK = '127.0.0.1';

/** A distinct 239.255.x.y group and port per test file (no cross-talk between parallel files). */
export function testGroup(n: number): { address: string; port: number } {
  return { address: `239.255.${40 + (n % 50)}.${1 + (n % 200)}`, port: 46000 + n };
}

export interface TestServer {
  udp: UdpTransport;
  endpoint: CoapEndpoint;
  group: GroupObserveServer;
  peer: Peer;
  topics: Map<string, Representation>;
  publish(path: string, text: string, contentFormat?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(
  groupAddr: { address: string; port: number },
  opts: Partial<GroupObserveServerOptions> = {},
): Promise<TestServer> {
  const udp = await UdpTransport.bind({ address: LOOPBACK });
  udp.enableMulticastSend({ interface: LOOPBACK, ttl: 1, loopback: true });
  const topics = new Map<string, Representation>();
  const endpoint = new CoapEndpoint({ transport: udp, maxObservers: 50_000 });
  const peer = udp.address();
  const group = new GroupObserveServer({
    endpoint,
    sender: transportMulticastSender(udp),
    group: groupAddr,
    server: { address: peer.address, port: peer.port },
    resources: (path) => topics.get(path.join('/')),
    minIntervalMs: 0,
    ...opts,
  });
  endpoint.setHandler((req) => group.handle(req) ?? { code: 0x84 });
  return {
    udp,
    endpoint,
    group,
    peer,
    topics,
    async publish(path, text, contentFormat = 0) {
      const rep = { payload: Buffer.from(text), contentFormat };
      topics.set(path.replace(/^\//, ''), rep);
      await group.publish(path, rep);
    },
    async close() {
      group.close();
      await endpoint.close();
    },
  };
}

export interface TestClient {
  endpoint: CoapEndpoint;
  client: GroupObserveClient;
  close(): Promise<void>;
}

export async function startClient(opts: Partial<GroupObserveClientOptions> = {}): Promise<TestClient> {
  const udp = await UdpTransport.bind({ address: LOOPBACK });
  const endpoint = new CoapEndpoint({ transport: udp });
  const client = new GroupObserveClient({
    endpoint,
    receiver: new UdpMulticastReceiver({ interface: LOOPBACK }),
    ...opts,
  });
  return {
    endpoint,
    client,
    async close() {
      await client.close();
      await endpoint.close();
    },
  };
}

/** A socket joined to the group: every datagram the server sends there, decoded. */
export async function groupSniffer(group: Peer): Promise<{
  messages: { msg: CoapMessage; source: Peer }[];
  close(): Promise<void>;
}> {
  const messages: { msg: CoapMessage; source: Peer }[] = [];
  const m = await new UdpMulticastReceiver({ interface: LOOPBACK }).join(group, (data, source) => {
    messages.push({ msg: decodeMessage(data), source });
  });
  return { messages, close: () => m.leave() };
}

/** Polls until `cond` holds (a test of eventual delivery, not of speed). */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function seeded(seed: number): () => number {
  return prng(seed);
}

/** Random bytes from a seeded PRNG (deterministic tokens). */
export function seededBytes(seed: number): (n: number) => Buffer {
  const r = prng(seed);
  return (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
}
