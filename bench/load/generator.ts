// The load generator of `npm run bench:load`, in its own process (never the server's thread): the
// orchestrator (bench/load.bench.ts) sends it one job at a time over IPC and gets the figures back. The same
// generator drives the raw UDP echo baseline and every gateway figure, so their ratios compare like with like.
import { CoapCode, CoapEndpoint, type Peer } from '@lwm2m/coap';
import { createDtlsTransport, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { coapLoad } from '../harness';

export type Job =
  | { kind: 'echo'; port: number; clients: number; ms: number }
  | { kind: 'get'; port: number; clients: number; ms: number }
  | { kind: 'dtls'; port: number; clients: number; ms: number; pskKey: string }
  | { kind: 'register'; port: number; clients: number; ms: number; prefix: string }
  | { kind: 'storm'; port: number; devices: number; prefix: string }
  | { kind: 'populate'; port: number; devices: number; prefix: string }
  | { kind: 'devices'; port: number; devices: number; sensorIntervalMs: number; prefix: string }
  | { kind: 'notifications-sent' }
  | { kind: 'stop-devices' };

export interface JobResult {
  rate?: number;
  count?: number;
  retransmissions?: number;
  timeouts?: number;
  failures?: number;
  p50?: number;
  p99?: number;
  ms?: number;
  endpoints?: string[];
  /** CPU time (user + system) of the generator process during the run, microseconds. */
  cpuUs?: number;
}

const HOST = '127.0.0.1';
const OBJECT_LINKS = '</1/0>,</3/0>,</3303/0>,</3303/1>,</4/0>,</5/0>,</6/0>,</7/0>,</1/1>,</3/1>';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) =>
  xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function clients(n: number): Promise<CoapEndpoint[]> {
  const out: CoapEndpoint[] = [];
  for (let i = 0; i < n; i += 250)
    out.push(
      ...(await Promise.all(
        Array.from(
          { length: Math.min(250, n - i) },
          async () => new CoapEndpoint({ transport: await UdpTransport.bind({ port: 0, address: HOST }) }),
        ),
      )),
    );
  return out;
}

/** Raw UDP ping-pong, one datagram in flight per socket (the baseline; a lost ping is resent after 50 ms). */
async function echo(job: Extract<Job, { kind: 'echo' }>): Promise<JobResult> {
  const to: Peer = { address: HOST, port: job.port, family: 'IPv4' };
  const socks = await Promise.all(
    Array.from({ length: job.clients }, () => UdpTransport.bind({ port: 0, address: HOST })),
  );
  const payload = Buffer.alloc(24, 1);
  let count = 0;
  let running = true;
  const start = performance.now();
  for (const s of socks) {
    let timer: NodeJS.Timeout | undefined;
    const ping = (): void => {
      if (!running) return;
      clearTimeout(timer);
      timer = setTimeout(ping, 50);
      void s.send(payload, to);
    };
    s.onDatagram(() => {
      if (!running) return clearTimeout(timer);
      count++;
      ping();
    });
    ping();
  }
  await sleep(job.ms);
  running = false;
  const rate = (count * 1000) / (performance.now() - start);
  await Promise.all(socks.map((s) => s.close()));
  return { rate };
}

async function get(job: Extract<Job, { kind: 'get' }>): Promise<JobResult> {
  const cs = await clients(job.clients);
  const cpu = process.cpuUsage();
  const run = await coapLoad(cs, { address: HOST, port: job.port }, job.ms, '.well-known/core');
  const used = process.cpuUsage(cpu);
  await Promise.all(cs.map((c) => c.close()));
  return { ...run, cpuUs: used.user + used.system };
}

/** CoAP CON GET over DTLS 1.2 (PSK, CCM-8, CID), one session per client, set up before the clock starts. */
async function dtls(job: Extract<Job, { kind: 'dtls' }>): Promise<JobResult> {
  const key = Buffer.from(job.pskKey, 'hex');
  const to: Peer = { address: HOST, port: job.port, family: 'IPv4' };
  const devices = await Promise.all(
    Array.from({ length: job.clients }, async (_, i) => {
      const transport = createDtlsTransport(await UdpTransport.bind({ port: 0, address: HOST }), {
        psk: { identity: `load-psk-${i}`, key },
      });
      return { transport, coap: new CoapEndpoint({ transport }) };
    }),
  );
  for (let i = 0; i < devices.length; i += 50)
    await Promise.all(devices.slice(i, i + 50).map((d) => d.transport.connect(to)));
  const run = await coapLoad(
    devices.map((d) => d.coap),
    to,
    job.ms,
    '.well-known/core',
  );
  await Promise.all(devices.map((d) => d.coap.close()));
  return run;
}

function registerRequest(ep: string) {
  return {
    code: CoapCode.POST,
    path: 'rd',
    query: [`ep=${ep}`, 'lt=86400', 'lwm2m=1.1', 'b=U'],
    contentFormat: 40,
    payload: OBJECT_LINKS,
  };
}

/** Registrations/s: each client registers a new endpoint as soon as its last Register was answered. */
async function register(job: Extract<Job, { kind: 'register' }>): Promise<JobResult> {
  const cs = await clients(job.clients);
  const to = { address: HOST, port: job.port };
  let count = 0;
  let failures = 0;
  let running = true;
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all([
    ...cs.map(async (c, i) => {
      for (let k = 0; running; k++) {
        const t0 = performance.now();
        try {
          const res = await c.request(to, registerRequest(`${job.prefix}-${i}-${k}`));
          if (!running) break;
          if (res.code === CoapCode.CREATED) {
            count++;
            latencies.push(performance.now() - t0);
          } else failures++;
        } catch {
          failures++;
        }
      }
    }),
    sleep(job.ms).then(() => (running = false)),
  ]);
  const ms = performance.now() - start;
  const retransmissions = cs.reduce((n, c) => n + c.stats.retransmissions, 0);
  await Promise.all(cs.map((c) => c.close()));
  return {
    rate: (count * 1000) / ms,
    count,
    failures,
    retransmissions,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

/** `devices` devices send their Register at the same moment; latency of each, retransmissions of all. */
async function storm(job: Extract<Job, { kind: 'storm' }>): Promise<JobResult> {
  const cs = await clients(job.devices);
  const to = { address: HOST, port: job.port };
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    cs.map(async (c, i) => {
      const t0 = performance.now();
      try {
        const res = await c.request(to, registerRequest(`${job.prefix}-${i}`));
        if (res.code === CoapCode.CREATED) latencies.push(performance.now() - t0);
        else failures++;
      } catch {
        failures++;
      }
    }),
  );
  const ms = performance.now() - start;
  const retransmissions = cs.reduce((n, c) => n + c.stats.retransmissions, 0);
  await Promise.all(cs.map((c) => c.close()));
  return {
    count: latencies.length,
    rate: (latencies.length * 1000) / ms,
    failures,
    retransmissions,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    ms,
  };
}

/** Registers `devices` endpoints (500 sockets, each registering its share in turn) and keeps nothing open. */
async function populate(job: Extract<Job, { kind: 'populate' }>): Promise<JobResult> {
  const cs = await clients(Math.min(500, job.devices));
  const to = { address: HOST, port: job.port };
  let next = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    cs.map(async (c) => {
      for (let i = next++; i < job.devices; i = next++) {
        const res = await c.request(to, registerRequest(`${job.prefix}-${i}`)).catch(() => undefined);
        if (res?.code !== CoapCode.CREATED) failures++;
      }
    }),
  );
  await Promise.all(cs.map((c) => c.close()));
  return { count: job.devices - failures, failures, ms: performance.now() - start };
}

let fleet: SimulatedDevice[] = [];

/** Simulated devices (libs/simulator) whose temperature changes every `sensorIntervalMs`, for Observe. */
async function devices(job: Extract<Job, { kind: 'devices' }>): Promise<JobResult> {
  const server: Peer = { address: HOST, port: job.port, family: 'IPv4' };
  for (let i = 0; i < job.devices; i += 100)
    fleet.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, job.devices - i) }, async (_, k) => {
          const dev = new SimulatedDevice({
            endpoint: `${job.prefix}-${i + k}`,
            transport: await UdpTransport.bind({ port: 0, address: HOST }),
            server,
            lwm2mVersion: '1.1',
            lifetime: 86_400,
            updateAt: 0,
            sensorIntervalMs: job.sensorIntervalMs,
            observeTickMs: job.sensorIntervalMs,
          });
          await dev.start();
          return dev;
        }),
      )),
    );
  return { endpoints: fleet.map((d) => d.endpointName) };
}

async function run(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case 'echo':
      return echo(job);
    case 'get':
      return get(job);
    case 'dtls':
      return dtls(job);
    case 'register':
      return register(job);
    case 'storm':
      return storm(job);
    case 'populate':
      return populate(job);
    case 'devices':
      return devices(job);
    case 'notifications-sent':
      return { count: fleet.reduce((n, d) => n + d.notificationsSent, 0) };
    case 'stop-devices': {
      const sent = fleet.reduce((n, d) => n + d.notificationsSent, 0);
      await Promise.all(fleet.map((d) => d.close()));
      fleet = [];
      return { count: sent };
    }
  }
}

process.on('message', (job: Job) => {
  run(job).then(
    (result) => process.send!({ ok: true, result }),
    (err: unknown) => process.send!({ ok: false, error: String(err) }),
  );
});
