// Redis MONITOR on a raw socket, for counting the commands clients send (test/e2e/redis-hot-path.spec.ts,
// bench/load.bench.ts). INFO commandstats counts the commands Lua scripts run as well; MONITOR shows what
// crossed the network, one line per command, and marks script-run commands "[0 lua]".
import { connect } from 'node:net';

/**
 * Commands clients sent while `run` runs, from MONITOR on a raw socket (ioredis' monitor mode trips over a
 * busy server): one line per command, `+<time> [<db> <client>] "cmd" "arg" ...`; commands run by Lua
 * scripts (`[0 lua]`) are left out, MONITOR's own connection never shows.
 */
export async function monitored(url: string, run: () => Promise<void>): Promise<string[][]> {
  const { hostname, port } = new URL(url);
  const sock = connect(Number(port), hostname);
  const seen: string[][] = [];
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
      if (!m || m[1] === 'lua') continue;
      seen.push([...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!));
    }
  });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('MONITOR\r\n');
  await new Promise((r) => setTimeout(r, 100));
  await run();
  await new Promise((r) => setTimeout(r, 100));
  sock.destroy();
  return seen;
}
