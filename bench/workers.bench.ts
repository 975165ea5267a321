// npm run bench:workers (issue 12 item 4, GATEWAY_WORKERS): CoAP GET over UDP and CoAP GET over DTLS (PSK,
// CID) against the same stack (bench/load/coap-worker.ts: libs/coap on plain UDP and on a libs/dtls server)
// run in the main thread (`0 workers`: UdpTransport with its fair queue, as the gateway today) and behind
// runWorkers with 1 and 2 worker threads (the main thread only moves datagrams), every rate beside the raw UDP
// echo rate of the same load generator (bench/load/generator.ts, its own process) against a trivial echo
// server process, measured in the same run just before each configuration.
// Flags: --ms=3000 (each window), --clients=200, --workers=0,1,2 (configurations), --rounds=1 (the
// configurations alternate round after round; the summary takes medians of the ratios).
// --gateway: the compiled gateway (`node dist/apps/gateway/src/main.js`, `npx nest build server` first) on a
// private redis-server instead of the bench stack; --workers are then GATEWAY_WORKERS values (1: the stack on
// the main thread; default 1,2); the GET is the gateway's discovery, the DTLS clients' PSKs are provisioned.
// On a 2-core machine the generator, the main thread and the workers share two cores: read the ratios as
// what this machine gives, not as what a pod with N dedicated cores gives.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { validateGatewayConfig } from '@lwm2m/gateway';
import { createRedisStores, type LocalRedis, startLocalRedis } from '@lwm2m/registry';
import { freeUdpPort } from '../test/support/ports';
import { benchFlags, fmt, median } from './harness';
import type { JobResult } from './load/generator';
import { ROOT, startEchoServer, startGenerator } from './load/processes';

const { flags, num } = benchFlags();
const MS = num('ms', 3000);
const CLIENTS = num('clients', 200);
const GATEWAY = 'gateway' in flags;
const CONFIGS = (flags.workers ?? (GATEWAY ? '1,2' : '0,1,2')).split(',').map(Number);
const ROUNDS = num('rounds', 1);
const PSK = '000102030405060708090a0b0c0d0e0f';

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** Runs a job and says how busy the generator and the server were during it (CPU cores used). */
async function measured(
  run: () => Promise<JobResult>,
  gen: ChildProcess,
  server: ChildProcess | undefined,
): Promise<JobResult & { genCpu: number; serverCpu: number }> {
  const g0 = cpuSeconds(gen.pid);
  const s0 = cpuSeconds(server?.pid);
  const t0 = performance.now();
  const r = await run();
  const secs = (performance.now() - t0) / 1000;
  return {
    ...r,
    genCpu: (cpuSeconds(gen.pid) - g0) / secs,
    serverCpu: (cpuSeconds(server?.pid) - s0) / secs,
  };
}

const SECRETS_KEY = 'bench-secrets-key-0123456789abcdef';

/** --gateway: a redis-server with the generator's PSKs (load-psk-<i>) provisioned. */
async function startGatewayRedis(): Promise<LocalRedis> {
  const redis = await startLocalRedis();
  const stores = createRedisStores(redis.url, {
    credentials: { secretsKey: validateGatewayConfig({ SECRETS_KEY }).SECRETS_KEY },
  });
  const key = Buffer.from(PSK, 'hex');
  for (let i = 0; i < CLIENTS; i++)
    await stores.credentials.put(`load-psk-${i}`, { type: 'psk', identity: `load-psk-${i}`, key });
  await stores.close();
  return redis;
}

/** --gateway: the compiled gateway process with GATEWAY_WORKERS=`workers`. */
async function startGatewayProcess(
  workers: number,
  redisUrl: string,
): Promise<{ coap: number; coaps: number; echo: undefined; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/apps/gateway/src/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      SECRETS_KEY,
      GATEWAY_WORKERS: String(workers),
      COAP_HOST: '127.0.0.1',
      COAP_PORT: String(await freeUdpPort()),
      COAPS_PORT: String(await freeUdpPort()),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      // every client comes from 127.0.0.1: no per-address handshake limit
      DTLS_CLIENT_HELLO_RATE: '1000000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [coap, coaps] = await new Promise<number[]>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`gateway exited with ${code}`)));
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /coaps udp [^:]+:(\d+), coap udp [^:]+:(\d+)/.exec(out);
      if (m) ok([Number(m[2]), Number(m[1])]);
    });
  });
  return { coap: coap!, coaps: coaps!, echo: undefined, child };
}

async function startServer(
  workers: number,
): Promise<{ coap: number; coaps: number; echo: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'load/worker-server.ts'), `--workers=${workers}`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [coap, coaps, echo] = await new Promise<number[]>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
    child.stdout!.on('data', (c: Buffer) => {
      const m = /ready (\d+) (\d+) (\d+)/.exec(c.toString());
      if (m) ok([Number(m[1]), Number(m[2]), Number(m[3])]);
    });
  });
  return { coap: coap!, coaps: coaps!, echo: echo!, child };
}

/** 0 workers (bench stack) and GATEWAY_WORKERS=1 (gateway) both run the stack on the main thread. */
function label(workers: number): string {
  if (workers === 0 || (GATEWAY && workers === 1)) return 'main thread';
  return `${workers} worker(s)`;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const echoServer = await startEchoServer();
  const gatewayRedis = GATEWAY ? await startGatewayRedis() : undefined;
  const gen = startGenerator();
  console.log(
    `== bench:workers${GATEWAY ? ' --gateway (compiled gateway, GATEWAY_WORKERS)' : ''}: ${CLIENTS} clients, ` +
      `${MS} ms windows, ${availableParallelism()} cores for generator, echo server and server process alike ==`,
  );
  const losses = (r: JobResult) =>
    r.retransmissions || r.timeouts ? `, ${r.retransmissions ?? 0} retx, ${r.timeouts ?? 0} timeouts` : '';
  // Cores used during the window, and the server's CPU per answer: the figure that holds on a shared machine
  // where neither process gets a whole core.
  const cpu = (r: JobResult & { genCpu: number; serverCpu: number }) =>
    `(cores: gen ${r.genCpu.toFixed(2)}, server ${r.serverCpu.toFixed(2)}; server ` +
    `${((r.serverCpu / r.rate!) * 1e6).toFixed(0)} us CPU per answer)`;
  const rows: { workers: number; echo: number; get: number; dtls: number }[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const workers of CONFIGS) {
        const echo = await measured(
          () => gen.run({ kind: 'echo', port: echoServer.port, clients: CLIENTS, ms: MS }),
          gen.child,
          echoServer.child,
        );
        const server = gatewayRedis
          ? await startGatewayProcess(workers, gatewayRedis.url)
          : await startServer(workers);
        try {
          // warm-up (JIT, the workers' TypeScript loader), not counted
          await gen.run({ kind: 'get', port: server.coap, clients: CLIENTS, ms: 1000 });
          const echoPort = server.echo;
          const relayed =
            echoPort === undefined
              ? undefined
              : await measured(
                  () => gen.run({ kind: 'echo', port: echoPort, clients: CLIENTS, ms: MS }),
                  gen.child,
                  server.child,
                );
          const get = await measured(
            () => gen.run({ kind: 'get', port: server.coap, clients: CLIENTS, ms: MS }),
            gen.child,
            server.child,
          );
          const dtls = await measured(
            () => gen.run({ kind: 'dtls', port: server.coaps, clients: CLIENTS, ms: MS, pskKey: PSK }),
            gen.child,
            server.child,
          );
          rows.push({
            workers,
            echo: echo.rate!,
            get: get.rate! / echo.rate!,
            dtls: dtls.rate! / echo.rate!,
          });
          const line = (what: string, r: JobResult & { genCpu: number; serverCpu: number }) =>
            console.log(
              `  ${what.padEnd(44)} ${fmt(r.rate!).padStart(7)}/s  x${(r.rate! / echo.rate!).toFixed(3)}  ${cpu(r)}${losses(r)}`,
            );
          const what = label(workers);
          console.log(ROUNDS > 1 ? `round ${round + 1}, ${what}:` : `${what}:`);
          line('raw UDP echo, separate echo process (baseline)', echo);
          if (relayed) line('UDP echo through this server', relayed);
          line('CoAP CON GET .well-known/core', get);
          line('CoAP GET over DTLS (PSK, CID)', dtls);
        } finally {
          await stop(server.child);
        }
      }
    console.log(`\nmedians of ${ROUNDS} round(s), ratios to the echo measured just before:`);
    for (const workers of CONFIGS) {
      const mine = rows.filter((r) => r.workers === workers);
      console.log(
        `  ${label(workers).padEnd(12)} GET x${median(mine.map((r) => r.get)).toFixed(3)}` +
          `  DTLS x${median(mine.map((r) => r.dtls)).toFixed(3)}`,
      );
    }
    const last = CONFIGS[CONFIGS.length - 1]!;
    if (last > (GATEWAY ? 1 : 0)) {
      const mine = rows.filter((r) => r.workers === last);
      const get = median(mine.map((r) => r.get));
      const dtls = median(mine.map((r) => r.dtls));
      console.log(`\ntargets of issue 12 item 4 (with all workers: ${last}):`);
      console.log(`  ${get >= 0.5 ? 'met    ' : 'not met'}  CoAP GET >= 0.5 of echo: x${get.toFixed(3)}`);
      console.log(
        `  ${dtls >= 0.35 ? 'met    ' : 'not met'}  DTLS CID requests >= 0.35 of echo: x${dtls.toFixed(3)}`,
      );
    }
  } finally {
    gen.child.kill('SIGTERM');
    echoServer.child.kill('SIGTERM');
    await gatewayRedis?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
