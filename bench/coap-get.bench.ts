// npm run bench:coap-get (issue 12 item 3): CoAP CON GET throughput of libs/coap alone. The generator of
// `npm run bench:load` (bench/load/generator.ts, its own process) drives a bare CoapEndpoint server
// (bench/load/coap-server.ts, its own process) and, alternately, a raw UDP echo server of the same generator,
// so the ratio GET/echo stays comparable across machines. No build step, no Redis.
// Flags: --ms=3000 (each window), --rounds=3 (medians), --clients=1000, --prof=<dir> (the CoAP server runs
// with --cpu-prof into <dir>; its top self-time functions are printed).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchFlags, fmt, median } from './harness';
import type { JobResult } from './load/generator';
import { ROOT, startGenerator } from './load/processes';

const { flags, num } = benchFlags();
const MS = num('ms', 3000);
const ROUNDS = num('rounds', 3);
const CLIENTS = num('clients', 1000);
const PROF = flags.prof !== undefined ? resolve(flags.prof) : undefined;

/** The CoAP server's datagrams received and CPU µs so far (bench/load/coap-server.ts, SIGUSR2). */
function serverStats(child: ChildProcess): Promise<{ datagrams: number; cpuUs: number }> {
  return new Promise((ok) => {
    const on = (c: Buffer) => {
      const m = /stats (\d+) (\d+)/.exec(c.toString());
      if (!m) return;
      child.stdout!.off('data', on);
      ok({ datagrams: Number(m[1]), cpuUs: Number(m[2]) });
    };
    child.stdout!.on('data', on);
    child.kill('SIGUSR2');
  });
}

async function startServer(script: string, tag: string, extra: string[] = []) {
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', join(__dirname, script)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok) =>
    child.stdout!.on('data', (c: Buffer) => {
      const m = new RegExp(`${tag} (\\d+)`).exec(c.toString());
      if (m) ok(Number(m[1]));
    }),
  );
  return { port, child };
}

const stop = (c: ChildProcess) =>
  new Promise<void>((ok) => {
    if (c.exitCode !== null) return ok();
    c.once('exit', () => ok());
    c.kill('SIGTERM');
  });

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per function of a .cpuprofile, as shares of all samples. */
function topSelf(file: string, n: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const by = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const f = node.callFrame;
    const where =
      f.url === '' ? '' : ` ${f.url.replace(/^.*\/(libs|node_modules|bench)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'}${where}`;
    by.set(key, (by.get(key) ?? 0) + hits);
  }
  // Shares of the busy samples: idle time depends on the generator, not on the server.
  const busy = total - (by.get('(idle)') ?? 0);
  by.delete('(idle)');
  const coap = [...by].filter(([k]) => k.includes('libs/coap/')).reduce((s, [, v]) => s + v, 0);
  return [
    `busy ${((100 * busy) / total).toFixed(1)}% of samples; libs/coap self time ${((100 * coap) / busy).toFixed(1)}% of busy`,
    ...[...by]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`),
  ];
}

async function main(): Promise<void> {
  if (PROF !== undefined) mkdirSync(PROF, { recursive: true });
  const echo = await startServer('load/echo-server.ts', 'echo');
  const coap = await startServer(
    'load/coap-server.ts',
    'coap',
    PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [],
  );
  const gen = startGenerator();
  try {
    const echoRates: number[] = [];
    const getRuns: JobResult[] = [];
    const serverUsPerReq: number[] = [];
    const clientUsPerReq: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      echoRates.push((await gen.run({ kind: 'echo', port: echo.port, clients: CLIENTS, ms: MS })).rate!);
      const s0 = await serverStats(coap.child);
      const r = await gen.run({ kind: 'get', port: coap.port, clients: CLIENTS, ms: MS });
      const s1 = await serverStats(coap.child);
      getRuns.push(r);
      // Per datagram the server received (one CON GET each; the last in-flight ones included).
      const reqs = Math.max(1, s1.datagrams - s0.datagrams);
      serverUsPerReq.push((s1.cpuUs - s0.cpuUs) / reqs);
      clientUsPerReq.push(r.cpuUs! / reqs);
    }
    const e = median(echoRates);
    const g = median(getRuns.map((r) => r.rate!));
    const rtx = getRuns.reduce((s, r) => s + (r.retransmissions ?? 0), 0);
    console.log(`raw UDP echo, ${CLIENTS} sockets:       ${fmt(e)} /s (median of ${ROUNDS})`);
    console.log(`CoAP CON GET, ${CLIENTS} clients:       ${fmt(g)} req/s (x${(g / e).toFixed(3)} of echo)`);
    console.log(`  rounds: ${getRuns.map((r) => fmt(r.rate!)).join(', ')}; retransmissions ${rtx}`);
    console.log(
      `  CPU per request: server ${median(serverUsPerReq).toFixed(1)} µs, ` +
        `generator (1,000 client endpoints) ${median(clientUsPerReq).toFixed(1)} µs (medians)`,
    );
  } finally {
    gen.child.kill('SIGTERM');
    await Promise.all([stop(echo.child), stop(coap.child)]);
  }
  if (PROF !== undefined) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>: thread 0 is the main thread (1 is tsx's loader worker).
    const files = readdirSync(PROF).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    const latest = files.sort().at(-1);
    if (latest !== undefined) {
      console.log(`\nCoAP server profile ${join(PROF, latest)}, top self time (share of busy samples):`);
      for (const line of topSelf(join(PROF, latest), 20)) console.log(`  ${line}`);
    }
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
