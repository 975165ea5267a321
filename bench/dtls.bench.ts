// DTLS benchmark (one command: `npx tsx bench/dtls.bench.ts`, also part of `npm run bench`; a section
// alone: `npx tsx bench/dtls.bench.ts coap`). Prints full PSK and ECDHE-ECDSA handshakes/s and CoAP CON
// round trips/s with 1,000 concurrent sessions, each beside the raw UDP echo rate measured in the same run
// (and the CoAP rate beside the same CoAP workload over plain UDP), and heap bytes per idle session
// (10,000 sessions). Client and server share this process (and its 2 cores), so every rate includes the
// client's work too.
import { createSocket, type Socket } from 'node:dgram';
import { generateKeyPairSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoapCode, CoapEndpoint, MemoryNetwork, type DatagramTransport, type Peer } from '@lwm2m/coap';
import { DtlsClient, DtlsServer, type DtlsClientOptions, type DtlsSessionSnapshot } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';
import { coapLoad, fmt } from './harness';

const KEY = Buffer.from('bench-psk-0123456789');
const NO_RATE_LIMIT = { perSecond: 1e9, burst: 1e9 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Receive buffer asked for the servers' sockets (Linux caps it at net.core.rmem_max, and doubles it). */
const SERVER_RCVBUF = 4 * 1024 * 1024;

/**
 * The server side socket of the echo baseline and of the CoAP runs alike. 1,000 clients in one process
 * keep up to 1,000 datagrams queued at the server, far more than the default receive buffer holds (about
 * 200 KB: some 220 small datagrams on loopback): every datagram dropped there stalls its client for a whole
 * retransmission timeout, and the rate then measures timeouts rather than work. UdpTransport has no
 * receive buffer option, hence this minimal DatagramTransport on node:dgram.
 */
class ServerSocket implements DatagramTransport {
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('message', (data, r) => {
      const peer: Peer = { address: r.address, port: r.port, family: r.family as 'IPv4' };
      for (const l of this.listeners) l(data, peer);
    });
  }

  static bind(): Promise<ServerSocket> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: SERVER_RCVBUF });
    return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(new ServerSocket(socket))));
  }

  /** The receive buffer the kernel granted, in bytes. */
  get receiveBuffer(): number {
    return this.socket.getRecvBufferSize();
  }

  address(): Peer {
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: 'IPv4' };
  }

  send(data: Buffer, peer: Peer): Promise<void> {
    return new Promise((resolve) => this.socket.send(data, peer.port, peer.address, () => resolve()));
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Raw UDP ping-pong round trips/s with `concurrency` sockets, one datagram in flight each. */
async function udpEchoRate(concurrency: number, ms: number): Promise<number> {
  const server = await ServerSocket.bind();
  server.onDatagram((d, p) => void server.send(d, p));
  const to = server.address();
  const clients = await Promise.all(
    Array.from({ length: concurrency }, () => UdpTransport.bind({ port: 0 })),
  );
  let count = 0;
  let running = true;
  const start = performance.now();
  const payload = Buffer.alloc(24, 1);
  for (const c of clients) {
    // loopback drops datagrams under load: a client whose ping is lost sends another after 50 ms
    let timer: NodeJS.Timeout | undefined;
    const ping = (): void => {
      if (!running) return;
      clearTimeout(timer);
      timer = setTimeout(ping, 50);
      void c.send(payload, to);
    };
    c.onDatagram(() => {
      if (!running) return clearTimeout(timer);
      count++;
      ping();
    });
    ping();
  }
  await new Promise((r) => setTimeout(r, ms));
  running = false;
  const rate = (count * 1000) / (performance.now() - start);
  await Promise.all([...clients.map((c) => c.close()), server.close()]);
  return rate;
}

/** Full handshakes/s: `concurrency` clients each handshaking again and again (no resumption). */
async function handshakeRate(
  clientOpts: Omit<DtlsClientOptions, 'transport'>,
  serverCert: boolean,
  concurrency: number,
  ms: number,
): Promise<{ rate: number; retransmissions: number }> {
  const serverKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const st = await UdpTransport.bind({ port: 0 });
  const server = new DtlsServer({
    transport: st,
    psk: () => KEY,
    certificate: serverCert ? { privateKey: serverKey.privateKey } : undefined,
    verifyRawPublicKey: serverCert ? () => true : undefined,
    clientHelloRate: NO_RATE_LIMIT,
  });
  const to = st.address();
  const clients = await Promise.all(
    Array.from(
      { length: concurrency },
      async () =>
        new DtlsClient({
          ...clientOpts,
          resumeSessions: false,
          transport: await UdpTransport.bind({ port: 0 }),
        }),
    ),
  );
  const end = performance.now() + ms;
  const before = server.counters.handshakesCompleted;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) await c.reconnect(to);
    }),
  );
  const rate = ((server.counters.handshakesCompleted - before) * 1000) / (performance.now() - start);
  // a lost flight waits for the 1 s retransmission timer: say so if it happened
  const retransmissions = clients.reduce(
    (n, c) => n + c.counters.retransmissions,
    server.counters.retransmissions,
  );
  await Promise.all([...clients.map((c) => c.close()), server.close()]);
  return { rate, retransmissions };
}

interface CoapRun {
  rate: number;
  retransmissions: number;
  timeouts: number;
}

/**
 * CoAP CON GET round trips/s with `clients` devices, each with one request outstanding at a time: over DTLS
 * (PSK, CCM-8, CID; one session each, set up before the clock starts), or over plain UDP as the reference
 * for what CoAP itself costs. RFC 7252 default transmission parameters (ACK_TIMEOUT 2 s): with the server
 * socket holding every datagram in flight, nothing is retransmitted unless something is really lost, and
 * the line says so when it is. Only requests answered within the window count; none is waited for after.
 */
async function coapRate(clients: number, ms: number, dtls: boolean): Promise<CoapRun> {
  const st = await ServerSocket.bind();
  const server = dtls
    ? new DtlsServer({ transport: st, psk: () => KEY, clientHelloRate: NO_RATE_LIMIT })
    : st;
  const endpoint = new CoapEndpoint({
    transport: server,
    handler: () => ({ code: CoapCode.CONTENT, payload: '21.5', contentFormat: 0 }),
  });
  const to = st.address();
  const devices = await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const udp = await UdpTransport.bind({ port: 0 });
      const transport = dtls
        ? new DtlsClient({ transport: udp, psk: { identity: `dev${i}`, key: KEY } })
        : udp;
      return { transport, coap: new CoapEndpoint({ transport }) };
    }),
  );
  for (let i = 0; i < devices.length; i += 100)
    await Promise.all(
      devices.slice(i, i + 100).map((d) => (d.transport instanceof DtlsClient ? d.transport.connect(to) : 0)),
    );
  const run = await coapLoad(
    devices.map((d) => d.coap),
    to,
    ms,
  );
  await Promise.all([...devices.map((d) => d.coap.close()), endpoint.close()]);
  return run;
}

/** Heap per established idle session: 10,000 sessions restored from a real one's snapshot, distinct CIDs. */
async function heapPerSession(n: number): Promise<{ heap: number; external: number }> {
  const net = new MemoryNetwork();
  const server = new DtlsServer({ transport: net.transport('127.0.0.1', 5684), psk: () => KEY });
  const client = new DtlsClient({
    transport: net.transport('127.0.0.1', 40000),
    psk: { identity: 'device-0001', key: KEY },
  });
  await client.connect({ address: '127.0.0.1', port: 5684 });
  await new Promise((r) => setTimeout(r, 10));
  const template: DtlsSessionSnapshot = server.snapshotSession(server.sessions()[0].ref);
  const snaps = Array.from({ length: n }, (_, i) => {
    const cid = i.toString(16).padStart(16, '0');
    return {
      ...template,
      cid,
      key: `cid:${cid}`,
      peer: { address: '10.1.2.3', port: 1024 + i },
      identity: { type: 'psk' as const, identity: `device-${i}` },
    };
  });
  gc();
  gc();
  const m0 = process.memoryUsage();
  for (const s of snaps) server.restoreSession(s, 0);
  gc();
  gc();
  const m1 = process.memoryUsage();
  const out = { heap: (m1.heapUsed - m0.heapUsed) / n, external: (m1.arrayBuffers - m0.arrayBuffers) / n };
  if (server.counters.sessions < n) throw new Error('sessions missing');
  await client.close();
  await server.close({ notifyPeers: false });
  return out;
}

/** Runs every section, or those named (`echo` always runs: it is the baseline of the others). */
export async function runDtlsBench(only: string[] = []): Promise<void> {
  const want = (name: string): boolean => only.length === 0 || only.includes(name);
  console.log('\n== DTLS 1.2 (libs/dtls), client and server in one process ==');
  const rcvbuf = await ServerSocket.bind().then(async (s) => {
    const n = s.receiveBuffer;
    await s.close();
    return n;
  });
  const echo = await udpEchoRate(1000, 2000);
  console.log(
    `raw UDP echo, 1000 sockets           ${fmt(echo).padStart(8)} round trips/s   (baseline; server receive buffer ${(rcvbuf / 1024).toFixed(0)} KB)`,
  );
  const line = (name: string, rate: number, unit: string, note = ''): void =>
    console.log(
      `${name.padEnd(37)}${fmt(rate).padStart(8)} ${unit}   x${(rate / echo).toFixed(3)} vs raw UDP echo${note}`,
    );
  const retransmitted = (n: number): string => (n > 0 ? ` (${n} flights retransmitted)` : '');
  if (want('psk')) {
    const r = await handshakeRate({ psk: { identity: 'b', key: KEY } }, false, 32, 3000);
    line('full PSK handshakes (CCM-8, 32 conc.)', r.rate, 'handshakes/s', retransmitted(r.retransmissions));
  }
  if (want('ecdhe')) {
    const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await handshakeRate(
      {
        certificate: { privateKey: deviceKey.privateKey },
        verifyRawPublicKey: () => true,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
      },
      true,
      8,
      3000,
    );
    line('full ECDHE-ECDSA handshakes (RPK)', r.rate, 'handshakes/s', retransmitted(r.retransmissions));
  }
  if (want('coap')) {
    const losses = (r: CoapRun): string =>
      r.retransmissions + r.timeouts > 0
        ? `; ${r.retransmissions} retransmitted, ${r.timeouts} timed out`
        : '';
    const plain = await coapRate(1000, 3000, false);
    line('CoAP CON GET over UDP, 1000 clients', plain.rate, 'round trips/s', ` (CoAP alone${losses(plain)})`);
    const secure = await coapRate(1000, 3000, true);
    line(
      'CoAP CON GET over DTLS, 1000 sessions',
      secure.rate,
      'round trips/s',
      `; x${(secure.rate / plain.rate).toFixed(2)} vs over UDP${losses(secure)}`,
    );
  }
  if (want('heap')) {
    const mem = await heapPerSession(10_000);
    console.log(
      `heap per idle session (10,000)       ${mem.heap.toFixed(0).padStart(8)} bytes  (+${mem.external.toFixed(0)} bytes of Buffer backing store)`,
    );
  }
}

if (require.main === module)
  runDtlsBench(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
