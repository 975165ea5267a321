// A real UDP load balancer in front of gateway processes: nginx's stream module (Debian nginx-light +
// libnginx-mod-stream) as a non-daemon child with its own temp prefix, config, pid file and error log. It never
// reads or writes /etc/nginx, /var/log/nginx or /run/nginx.pid.
//
// One client address:port is one nginx UDP session, pinned to one upstream by
// `hash $remote_addr$remote_port consistent`. The session carries any number of datagrams both ways, in any
// order, until it has been idle for proxy_timeout:
// - proxy_responses is left unset: "By default, the number of datagrams is not limited" (nginx docs). With a
//   number N the session ends once N datagrams per client datagram came back (1 would cut a DTLS flight or a
//   notification stream short, 0 means "no response expected").
// - proxy_requests is left unset (0): the client is never unbound from its session after a count of datagrams.
// - proxy_timeout (default here 60 s) is then the only end of a session: an idle timer reset by traffic in
//   either direction. While the session lives, a datagram the upstream sends first (a server-initiated
//   request, a notification) goes to the client through the listen socket.
// The upstream sees the LB's own address (127.0.0.1:<ephemeral port of that session>), not the client's.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from './ports';

export interface UdpUpstream {
  /** An IPv4 address or name; an IPv6 address in brackets. */
  host: string;
  port: number;
}

export interface UdpLoadBalancerOptions {
  upstreams: UdpUpstream[];
  /** UDP port to listen on; default a free one. */
  listenPort?: number;
  /** Listen address; default 127.0.0.1 (0.0.0.0 to take datagrams from a network namespace). */
  listenHost?: string;
  /** Idle time after which nginx forgets a client's session (and its upstream); default 60. */
  proxyTimeoutSeconds?: number;
  /** nginx binary; default /usr/sbin/nginx. */
  binary?: string;
  /** The stream module; default /usr/lib/nginx/modules/ngx_stream_module.so. */
  streamModule?: string;
  /** How long to wait for the worker to start, ms; default 10 000. */
  startTimeoutMs?: number;
}

export interface UdpLoadBalancer {
  host: string;
  port: number;
  /** The nginx master's pid. */
  pid: number;
  /** The temp prefix dir (nginx.conf, error.log, nginx.pid); removed by stop(). */
  dir: string;
  /** The upstreams of the running config. */
  readonly upstreams: UdpUpstream[];
  /** nginx's error log so far (notice level: starts, reloads, upstream errors), for failure messages. */
  log(): string;
  /**
   * Rewrites the config (with new upstreams when given), checks it with `nginx -t` (a rejected config changes
   * nothing) and sends SIGHUP; resolves once the new worker runs and the old one no longer takes datagrams from
   * clients. From then on every client datagram lands in the new worker: a client of an old session starts a new
   * session there (possibly on another upstream), while the old worker's sessions can still deliver upstream
   * datagrams until worker_shutdown_timeout (5 s).
   */
  reload(upstreams?: UdpUpstream[]): Promise<void>;
  /** SIGTERM (then SIGKILL after 5 s), waits for exit and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_NGINX = '/usr/sbin/nginx';
export const DEFAULT_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const INSTALL_HINT =
  "install Debian's nginx-light and libnginx-mod-stream (apt-get install nginx-light libnginx-mod-stream)";
const DIR_PREFIX = 'lwm2m-nginx-';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const running = new Set<ChildProcess>();
process.once('exit', () => {
  // SIGTERM, not SIGKILL: the master then stops its workers itself.
  for (const child of running) child.kill('SIGTERM');
});

/** Why a UDP load balancer cannot be started here, or undefined when it can. */
export function nginxUnavailableReason(
  binary = DEFAULT_NGINX,
  streamModule = DEFAULT_STREAM_MODULE,
): string | undefined {
  if (!existsSync(binary) || spawnSync(binary, ['-v'], { stdio: 'ignore' }).status !== 0) {
    return `${binary} not found or not runnable: ${INSTALL_HINT}`;
  }
  if (!existsSync(streamModule)) {
    return `the nginx stream module ${streamModule} is missing: ${INSTALL_HINT}`;
  }
  return undefined;
}

function renderConfig(
  dir: string,
  streamModule: string,
  listen: string,
  upstreams: UdpUpstream[],
  timeoutSeconds: number,
): string {
  const servers = upstreams.map((u) => `      server ${u.host}:${u.port};`).join('\n');
  return `# Written by test/support/nginx-udp.ts; everything lives in ${dir}.
load_module ${streamModule};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
worker_shutdown_timeout 5s;
pid ${join(dir, 'nginx.pid')};
lock_file ${join(dir, 'nginx.lock')};
error_log ${join(dir, 'error.log')} notice;
events {
  worker_connections 4096;
}
stream {
  upstream gw {
      hash $remote_addr$remote_port consistent;
${servers}
  }
  server {
      listen ${listen} udp;
      proxy_pass gw;
      # proxy_responses and proxy_requests deliberately unset: unlimited datagrams both ways per session.
      proxy_timeout ${timeoutSeconds}s;
  }
}
`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A test process killed with SIGKILL leaves its nginx running: stop the nginx of any of our prefix dirs whose
 * owning process is gone (the master's command line names the dir, so no other process is touched).
 */
function stopStaleBalancers(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = Number(entry.slice(DIR_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(owner) || owner <= 0 || pidAlive(owner)) continue;
    const dir = join(tmpdir(), entry);
    try {
      const pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('nginx') && cmdline.includes(dir)) process.kill(pid, 'SIGTERM');
    } catch {
      // no pid file or no such process: nothing runs there
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pids of `pid`'s children (nginx's workers). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Stops an nginx master and waits for it. SIGTERM lets the master stop its workers; after 5 s (or at once for
 * SIGKILL) the master and its workers get SIGKILL, so no worker outlives it.
 */
async function kill(proc: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const pid = proc.pid;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const killAll = () => {
    const workers = childPids(pid);
    proc.kill('SIGKILL');
    for (const w of workers) {
      try {
        process.kill(w, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  if (signal === 'SIGKILL') killAll();
  else proc.kill('SIGTERM');
  const timer = setTimeout(killAll, 5000);
  await exited;
  clearTimeout(timer);
}

function validateUpstreams(upstreams: UdpUpstream[]): void {
  if (upstreams.length === 0) throw new Error('startUdpLoadBalancer: at least one upstream is needed');
  for (const u of upstreams) {
    if (!/^[0-9A-Za-z.:\-[\]]+$/.test(u.host) || !Number.isInteger(u.port) || u.port <= 0 || u.port > 65535) {
      throw new Error(`startUdpLoadBalancer: bad upstream ${JSON.stringify(u)}`);
    }
  }
}

export async function startUdpLoadBalancer(options: UdpLoadBalancerOptions): Promise<UdpLoadBalancer> {
  const binary = options.binary ?? DEFAULT_NGINX;
  const streamModule = options.streamModule ?? DEFAULT_STREAM_MODULE;
  const reason = nginxUnavailableReason(binary, streamModule);
  if (reason) throw new Error(`startUdpLoadBalancer: ${reason}`);
  validateUpstreams(options.upstreams);
  const host = options.listenHost ?? '127.0.0.1';
  const timeoutSeconds = options.proxyTimeoutSeconds ?? 60;
  const startTimeout = options.startTimeoutMs ?? 10_000;
  stopStaleBalancers();

  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const confFile = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'error.log');
  const readLog = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  let upstreams = options.upstreams.map((u) => ({ ...u }));
  let port = 0;

  const writeConfig = () =>
    writeFileSync(confFile, renderConfig(dir, streamModule, `${host}:${port}`, upstreams, timeoutSeconds));

  async function waitForWorker(
    proc: ChildProcess,
    logFrom: number,
    output: () => string,
    failed: () => Error | undefined = () => undefined,
  ): Promise<void> {
    const deadline = Date.now() + startTimeout;
    while (Date.now() < deadline) {
      const err = failed();
      if (err) throw new Error(`cannot run ${binary}: ${err.message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`nginx exited at start (${proc.exitCode ?? proc.signalCode}):\n${output()}`);
      }
      if (/start worker process \d+/.test(readLog().slice(logFrom))) return;
      await sleep(20);
    }
    throw new Error(`nginx did not start a worker within ${startTimeout} ms:\n${output()}`);
  }

  async function spawnNginx(): Promise<ChildProcess> {
    writeConfig();
    writeFileSync(errorLog, ''); // a failed attempt's errors must not fail (or pass) this one
    const proc = spawn(binary, ['-p', dir, '-c', confFile, '-e', errorLog], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(proc);
    let out = '';
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    proc.once('exit', () => running.delete(proc));
    try {
      await waitForWorker(
        proc,
        0,
        () => `${out}${readLog()}`,
        () => spawnError,
      );
      return proc;
    } catch (err) {
      await kill(proc, 'SIGKILL');
      throw err;
    }
  }

  let child: ChildProcess | undefined;
  for (let attempt = 1; ; attempt++) {
    port = options.listenPort ?? (await freeUdpPort());
    try {
      child = await spawnNginx();
      break;
    } catch (err) {
      // freeUdpPort closes its socket before nginx binds: another process may take the port in between.
      const taken = /Address already in use/.test(String(err));
      if (options.listenPort === undefined && taken && attempt < 5) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const master = child;

  let stopped = false;
  return {
    host,
    port,
    pid: master.pid!,
    dir,
    get upstreams() {
      return upstreams.map((u) => ({ ...u }));
    },
    log: readLog,
    async reload(next?: UdpUpstream[]) {
      if (stopped) throw new Error('reload: the load balancer is stopped');
      const previous = upstreams;
      if (next) {
        validateUpstreams(next);
        upstreams = next.map((u) => ({ ...u }));
      }
      writeConfig();
      const check = spawnSync(binary, ['-t', '-q', '-p', dir, '-c', confFile, '-e', errorLog], {
        encoding: 'utf8',
      });
      if (check.status !== 0) {
        upstreams = previous; // the running nginx keeps the old config: so does the file
        writeConfig();
        throw new Error(`nginx -t rejected the new config:\n${check.stderr}${readLog().slice(-2000)}`);
      }
      const logFrom = readLog().length;
      const oldWorkers = childPids(master.pid!);
      master.kill('SIGHUP');
      await waitForWorker(master, logFrom, readLog);
      // The master starts the new worker, then tells the old ones to quit; until an old worker has closed
      // its copy of the listen socket it may still take new clients with the old upstream list.
      const deadline = Date.now() + startTimeout;
      const quitting = (pid: number) =>
        !pidAlive(pid) || new RegExp(`${pid}#\\d+: gracefully shutting down`).test(readLog().slice(logFrom));
      while (!oldWorkers.every(quitting)) {
        if (Date.now() > deadline) throw new Error(`nginx reload: old workers still running:\n${readLog()}`);
        await sleep(20);
      }
      await sleep(50);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill(master, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
