// Runs a redis-server of our own: the single-node start uses it when REDIS_URL is not set, and every test
// file starts a private one on a free port in a temp dir (tests never touch the machine's 6379).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface LocalRedisOptions {
  /** Persist with an append-only file; default off (`--save '' --appendonly no`). */
  appendonly?: boolean;
  /** Data directory; default a new temp dir, removed by stop(). A given dir is kept. */
  dir?: string;
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /** redis-server binary; default `redis-server` on PATH (Debian: /usr/bin/redis-server). */
  binary?: string;
  /** How long to wait for PING to answer, ms. */
  startTimeoutMs?: number;
}

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops the server and removes its temp dir. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port and dir (data survives only with appendonly). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when the redis-server binary can be run (the single-node start prints an install hint otherwise). */
export function hasRedisServer(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The pid in `file` if it names a live redis-server, else undefined. */
function liveRedisPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('redis-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A redis-server left running on a kept data dir by a parent that was killed (SIGKILL gives the parent no
 * chance to stop its child) still owns the append-only file: stop it before a new one opens the same
 * file. With appendfsync always, SIGTERM loses nothing.
 */
async function stopStaleServer(pidFile: string): Promise<void> {
  const pid = liveRedisPid(pidFile);
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (liveRedisPid(pidFile) === pid && Date.now() < deadline) await sleep(25);
  if (liveRedisPid(pidFile) === pid) process.kill(pid, 'SIGKILL');
}

export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const ownDir = options.dir === undefined;
  // Absolute: redis-server chdirs into --dir before it writes --pidfile.
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'lwm2m-redis-')));
  if (!ownDir) mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  if (!ownDir) await stopStaleServer(pidFile);
  const port = options.port ?? (await freePort());
  const binary = options.binary ?? 'redis-server';
  const timeout = options.startTimeoutMs ?? 10_000;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    ...(options.appendonly ? ['--appendfsync', 'always'] : []),
    '--daemonize',
    'no',
    '--pidfile',
    pidFile,
    '--protected-mode',
    'no',
  ];
  let child: ChildProcess | undefined;
  let log = '';

  async function spawnServer(): Promise<void> {
    log = '';
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running.add(proc);
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot start ${binary}: ${spawnError.message}`);
      if (exited) throw new Error(`${binary} exited at start:\n${log}`);
      if (await ping(port)) return;
      await sleep(25);
    }
    proc.kill('SIGKILL');
    throw new Error(`${binary} on port ${port} did not answer PING within ${timeout} ms:\n${log}`);
  }

  async function stopServer(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  await spawnServer();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopServer();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer();
      await spawnServer();
    },
  };
}
