// A tiny benchmark harness: run a function for a fixed wall time after a warm-up, report ops/s.
// Figures are only compared with baselines measured in the same run (the machines are shared and noisy).

export interface BenchResult {
  name: string;
  opsPerSec: number;
  iterations: number;
}

export function bench(name: string, fn: () => unknown, ms = 1500): BenchResult {
  // warm-up so the JIT has optimised the path before we measure
  const warmEnd = performance.now() + Math.min(500, ms / 3);
  let sink: unknown;
  while (performance.now() < warmEnd) for (let i = 0; i < 100; i++) sink = fn();
  let iterations = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 200; i++) sink = fn();
    iterations += 200;
    now = performance.now();
  }
  void sink;
  return { name, opsPerSec: (iterations * 1000) / (now - start), iterations };
}

export function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

export function report(results: BenchResult[], baseline: BenchResult): void {
  const w = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const ratio = r.opsPerSec / baseline.opsPerSec;
    console.log(
      `${r.name.padEnd(w)}  ${fmt(r.opsPerSec).padStart(8)} ops/s   x${ratio.toFixed(2)} vs ${baseline.name}`,
    );
  }
}

/** What one closed-loop CoAP load run measured. */
export interface CoapLoad {
  rate: number;
  retransmissions: number;
  timeouts: number;
}

/**
 * Each client keeps one CON GET of `path` in flight against `to` for `ms`; only answers that arrive within the window
 * count (stragglers are not waited for), and the clients' retransmissions and timeouts are reported.
 */
export async function coapLoad(
  clients: Array<{
    request(to: { address: string; port: number }, req: { path: string }): Promise<unknown>;
    stats: { retransmissions: number; transmitTimeouts: number };
  }>,
  to: { address: string; port: number },
  ms: number,
  path = 'temp',
): Promise<CoapLoad> {
  const before = clients.map((c) => [c.stats.retransmissions, c.stats.transmitTimeouts] as const);
  let count = 0;
  let running = true;
  const start = performance.now();
  for (const c of clients) {
    const next = (): void => {
      if (!running) return;
      c.request(to, { path }).then(() => {
        if (running) count++;
        next();
      }, next);
    };
    next();
  }
  await new Promise((r) => setTimeout(r, ms));
  running = false;
  const rate = (count * 1000) / (performance.now() - start);
  return {
    rate,
    retransmissions: clients.reduce((n, c, i) => n + c.stats.retransmissions - before[i]![0], 0),
    timeouts: clients.reduce((n, c, i) => n + c.stats.transmitTimeouts - before[i]![1], 0),
  };
}

/** `--name=value` flags of a bench's command line, and a numeric one with its default. */
export function benchFlags(argv = process.argv.slice(2)): {
  flags: Record<string, string>;
  num(name: string, dflt: number): number;
} {
  const flags = Object.fromEntries(
    argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=') as [string, string]),
  );
  return { flags, num: (name, dflt) => (flags[name] !== undefined ? Number(flags[name]) : dflt) };
}

/** The median of a bench's rounds (alternating rounds share the machine's noise). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
