// DTLS benchmark (one command: `npx tsx bench/dtls.bench.ts`, also part of `npm run bench`). Prints full
// PSK and ECDHE-ECDSA handshakes/s, CoAP-over-DTLS CON round trips/s with 1,000 concurrent sessions, each
// beside the raw UDP echo rate measured in the same run, and heap bytes per idle session (10,000 sessions).
// Client and server share this process (and its 2 cores), so every rate includes the client's work too.
import { generateKeyPairSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoapCode, CoapEndpoint, MemoryNetwork } from '@lwm2m/coap';
import { DtlsClient, DtlsServer, type DtlsClientOptions, type DtlsSessionSnapshot } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';
import { fmt } from './harness';

const KEY = Buffer.from('bench-psk-0123456789');
const NO_RATE_LIMIT = { perSecond: 1e9, burst: 1e9 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Raw UDP ping-pong round trips/s with `concurrency` sockets, one datagram in flight each. */
async function udpEchoRate(concurrency: number, ms: number): Promise<number> {
  const server = await UdpTransport.bind({ port: 0 });
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
): Promise<number> {
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
  await Promise.all([...clients.map((c) => c.close()), server.close()]);
  return rate;
}

/** CoAP CON GET round trips/s over DTLS (PSK, CCM-8, CID) with `sessions` concurrent sessions. */
async function coapRate(sessions: number, ms: number): Promise<number> {
  const st = await UdpTransport.bind({ port: 0 });
  const dtls = new DtlsServer({ transport: st, psk: () => KEY, clientHelloRate: NO_RATE_LIMIT });
  const server = new CoapEndpoint({
    transport: dtls,
    handler: () => ({ code: CoapCode.CONTENT, payload: '21.5', contentFormat: 0 }),
  });
  const to = st.address();
  const devices = await Promise.all(
    Array.from({ length: sessions }, async (_, i) => {
      const client = new DtlsClient({
        transport: await UdpTransport.bind({ port: 0 }),
        psk: { identity: `dev${i}`, key: KEY },
        retransmit: { initialMs: 3000 },
      });
      // loopback drops datagrams when 1,000 arrive at once: retransmit after 200 ms, not 2-3 s
      return {
        client,
        coap: new CoapEndpoint({ transport: client, params: { ackTimeout: 200, ackRandomFactor: 1 } }),
      };
    }),
  );
  for (let i = 0; i < devices.length; i += 100)
    await Promise.all(devices.slice(i, i + 100).map((d) => d.client.connect(to)));
  let count = 0;
  let failures = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    devices.map(async (d) => {
      while (performance.now() < end) {
        try {
          await d.coap.request(to, { path: 'temp' });
          count++;
        } catch {
          failures++;
        }
      }
    }),
  );
  const rate = (count * 1000) / (performance.now() - start);
  if (failures > 0) console.log(`   (${failures} CoAP requests timed out)`);
  await Promise.all([...devices.map((d) => d.coap.close()), server.close()]);
  return rate;
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
  const template: DtlsSessionSnapshot = server.snapshotSession(server.sessions()[0].key);
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

export async function runDtlsBench(): Promise<void> {
  console.log('\n== DTLS 1.2 (libs/dtls), client and server in one process ==');
  const echo = await udpEchoRate(1000, 2000);
  console.log(`raw UDP echo, 1000 sockets           ${fmt(echo).padStart(8)} round trips/s   (baseline)`);
  const line = (name: string, rate: number, unit: string): void =>
    console.log(
      `${name.padEnd(37)}${fmt(rate).padStart(8)} ${unit}   x${(rate / echo).toFixed(3)} vs raw UDP echo`,
    );
  line(
    'full PSK handshakes (CCM-8, 32 conc.)',
    await handshakeRate({ psk: { identity: 'b', key: KEY } }, false, 32, 3000),
    'handshakes/s',
  );
  const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  line(
    'full ECDHE-ECDSA handshakes (RPK)',
    await handshakeRate(
      {
        certificate: { privateKey: deviceKey.privateKey },
        verifyRawPublicKey: () => true,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
      },
      true,
      8,
      3000,
    ),
    'handshakes/s',
  );
  line('CoAP CON GET over DTLS, 1000 sessions', await coapRate(1000, 3000), 'round trips/s');
  const mem = await heapPerSession(10_000);
  console.log(
    `heap per idle session (10,000)       ${mem.heap.toFixed(0).padStart(8)} bytes  (+${mem.external.toFixed(0)} bytes of Buffer backing store)`,
  );
}

if (require.main === module)
  runDtlsBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
