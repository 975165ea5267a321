// draft-tiloca-core-observe-multicast-notifications: server CPU time per published change with N
// observers, one group observation (one multicast notification) against N traditional observations
// (N unicast notifications), measured in the same run. The server runs its real CoapEndpoint on a
// transport that swallows datagrams (and acknowledges its CON informative responses), so the figure is
// the server's own work: building, encoding and handing datagrams to the socket layer.
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  encodeMessage,
  encodeUint,
  OptionNumber,
  peekHeader,
  type DatagramTransport,
  type Peer,
} from '@lwm2m/coap';
import { GroupObserveServer, type Representation } from '@lwm2m/group-observe';

class SinkTransport implements DatagramTransport {
  sent = 0;
  private listener?: (data: Buffer, peer: Peer) => void;
  send(data: Buffer, peer: Peer): Promise<void> {
    this.sent++;
    const h = peekHeader(data);
    // The "client" acknowledges every CON (the informative responses) so nothing is retransmitted.
    if (h?.type === CoapType.CON) {
      const ack = encodeMessage(createMessage({ type: CoapType.ACK, code: 0, messageId: h.messageId }));
      queueMicrotask(() => this.listener?.(ack, peer));
    }
    return Promise.resolve();
  }
  onDatagram(l: (data: Buffer, peer: Peer) => void): void {
    this.listener = l;
  }
  inject(data: Buffer, peer: Peer): void {
    this.listener?.(data, peer);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

async function measure(n: number, mode: 'group' | 'traditional', changes: number) {
  const t = new SinkTransport();
  const endpoint = new CoapEndpoint({ transport: t, maxObservers: n + 10 });
  const rep: Representation = { payload: Buffer.from('21.5'), contentFormat: 0 };
  const server = new GroupObserveServer({
    endpoint,
    sender: { send: (d, g) => t.send(d, g) },
    group: { address: '239.255.0.1', port: 5683 },
    server: { address: '192.0.2.1', port: 5683 },
    resources: (p) => (p.join('/') === 'ps/t' ? rep : undefined),
    threshold: mode === 'group' ? 1 : Number.MAX_SAFE_INTEGER,
    minIntervalMs: 0,
    roughCounting: { firstCountAfter: 1e9 },
  });
  endpoint.setHandler((req) => server.handle(req) ?? { code: CoapCode.NOT_FOUND });
  for (let i = 0; i < n; i++) {
    const req = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 1,
      token: Buffer.from([i >> 8, i]),
    });
    req.options.push({ number: OptionNumber.OBSERVE, value: encodeUint(0) });
    req.options.push({ number: OptionNumber.URI_PATH, value: Buffer.from('ps') });
    req.options.push({ number: OptionNumber.URI_PATH, value: Buffer.from('t') });
    t.inject(encodeMessage(req), {
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 5683,
    });
    if (i % 500 === 0) await tick();
  }
  for (let k = 0; k < 20; k++) await tick();
  const before = t.sent;
  const cpu0 = process.cpuUsage();
  for (let c = 0; c < changes; c++)
    await server.publish('ps/t', { payload: Buffer.from(`v${c}`), contentFormat: 0 });
  await tick();
  const cpu = process.cpuUsage(cpu0);
  const datagrams = (t.sent - before) / changes;
  server.close();
  await endpoint.close();
  return { usPerChange: (cpu.user + cpu.system) / changes, datagrams };
}

export async function runGroupObserveBench(): Promise<void> {
  console.log('\nGroup observation vs traditional observation: server CPU per published change');
  console.log(
    'N observers | group: datagrams, CPU us/change | traditional: datagrams, CPU us/change | ratio',
  );
  await measure(100, 'group', 2000); // warm-up, so the JIT has optimised both paths
  await measure(100, 'traditional', 50);
  for (const n of [10, 100, 1_000, 10_000]) {
    const changes = n >= 10_000 ? 5 : n >= 1000 ? 20 : 200;
    const g = await measure(n, 'group', 2000);
    const tr = await measure(n, 'traditional', changes);
    console.log(
      `${String(n).padStart(11)} | ${String(g.datagrams).padStart(5)} ${g.usPerChange.toFixed(1).padStart(12)} | ` +
        `${String(tr.datagrams).padStart(11)} ${tr.usPerChange.toFixed(1).padStart(12)} | x${(tr.usPerChange / g.usPerChange).toFixed(1)}`,
    );
  }
}
