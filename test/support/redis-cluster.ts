// A private Redis Cluster per test file: three masters, no replicas, on free ports in a temp dir, made a
// cluster by `redis-cli --cluster create` (Debian: redis-cli comes with redis-server, in redis-tools).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { freeTcpPort } from './ports';

export interface RedisClusterHandle {
  /** The seed nodes, as REDIS_CLUSTER_NODES takes them. */
  nodes: Array<{ host: string; port: number }>;
  /** A REDIS_URL for the cluster (its host is one of the seeds; only password, user and TLS count). */
  url: string;
  /** The environment an app is started with to use the cluster. */
  env: { REDIS_URL: string; REDIS_CLUSTER_NODES: string };
  /** Kills every node and removes the temp dir. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function requireBinary(name: string): void {
  if (spawnSync(name, ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error(
      `${name} not found: the Redis Cluster tests need it (Debian/Ubuntu: apt-get install redis-server redis-tools)`,
    );
}

async function clusterStateOk(port: number): Promise<boolean> {
  const conn = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    const info = (await conn.call('CLUSTER', 'INFO')) as string;
    // Every node must also know all three masters' slots, or a client may be sent to one that does not.
    const slots = /cluster_slots_ok:(\d+)/.exec(info)?.[1];
    return info.includes('cluster_state:ok') && slots === '16384';
  } catch {
    return false;
  } finally {
    conn.disconnect();
  }
}

export async function startRedisCluster(
  opts: { masters?: number; timeoutMs?: number } = {},
): Promise<RedisClusterHandle> {
  requireBinary('redis-server');
  requireBinary('redis-cli');
  const masters = opts.masters ?? 3;
  const timeout = opts.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-redis-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  let log = '';
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const killOnExit = () => procs.forEach((p) => p.kill('SIGKILL'));
  process.once('exit', killOnExit);
  try {
    // A cluster node also listens on port + 10000 (the cluster bus): pick ports whose bus port is free too.
    while (ports.length < masters) {
      const port = await freeTcpPort();
      if (port + 10000 > 65535 || ports.includes(port) || !(await tcpPortFree(port + 10000))) continue;
      ports.push(port);
    }
    for (const port of ports) {
      const proc = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--protected-mode',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000));
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      procs.push(proc);
    }
    const deadline = Date.now() + timeout;
    for (const port of ports) {
      for (;;) {
        const conn = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
        conn.on('error', () => undefined);
        const up = await conn
          .connect()
          .then(() => conn.ping())
          .then(
            () => true,
            () => false,
          );
        conn.disconnect();
        if (up) break;
        if (procs.some((p) => p.exitCode !== null))
          throw new Error(`a redis-server exited at start:\n${log}`);
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start:\n${log}`);
        await sleep(25);
      }
    }
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    for (const port of ports) {
      while (!(await clusterStateOk(port))) {
        if (Date.now() > deadline)
          throw new Error(`the cluster did not reach cluster_state:ok in ${timeout} ms`);
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    process.removeListener('exit', killOnExit);
    throw err;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  const url = `redis://127.0.0.1:${ports[0]}`;
  return {
    nodes,
    url,
    env: { REDIS_URL: url, REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') },
    async stop() {
      process.removeListener('exit', killOnExit);
      await stop();
    },
  };
}
