// GATEWAY_WORKERS: one process, N worker threads, the UDP ports shared (issue 12 item 4). The main thread
// binds the public sockets (with the fair receive queue in front, so a flood from one source still queues
// behind everyone else's share) and runs the WorkerDispatcher; each worker loads `entry`, takes its
// transports from workerContext() and builds whatever stack it wants on them. A worker that dies is started
// again under the same index (CIDs name it); in cluster mode its sessions come back from the store as after a
// node restart.
import { resolve } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger, Peer } from '@lwm2m/transport';
import type { FairReceiveOptions } from './fair-receive-queue';
import type { WorkerBootData } from './port-transport';
import { UdpTransport } from './udp-transport';
import { WorkerDispatcher, type WorkerMessage, type WorkerRoute } from './worker-dispatcher';

export interface WorkerPortOptions {
  /** The name the worker finds its transport under (WorkerContext.transports). */
  name: string;
  port?: number;
  address?: string;
  type?: 'udp4' | 'udp6';
  recvBufferSize?: number;
  /** The fair receive queues in front of each worker (per source, round-robin). Default 64 per turn. */
  fairness?: FairReceiveOptions;
  /** Which worker a datagram goes to (e.g. by its DTLS CID); default and fallback: its source address. */
  route?: WorkerRoute;
}

export interface RunWorkersOptions {
  /** Worker threads, 1..256. */
  workers: number;
  /** Module each worker loads: it calls workerContext(), builds its stack, then ready(). */
  entry: string;
  ports: WorkerPortOptions[];
  /** Passed to every worker (structured-cloned). */
  data?: unknown;
  /**
   * Runs once the ports are bound and before any worker starts; what it resolves to is the workers' data
   * (instead of `data`). The gateway claims its node lease here: the lease names the link port, the workers
   * need the node id.
   */
  init?: (addresses: Record<string, Peer>) => Promise<unknown>;
  /** A message a worker posted with WorkerContext.post (counters, a command's result). */
  onMessage?: (index: number, message: unknown) => void;
  /** Worker `index` exited (it is restarted unless the pool is closing): what it was asked is lost. */
  onExit?: (index: number) => void;
  /** Modules required before the entry; default ['tsx/cjs'] for a .ts entry (tests, benches), none else. */
  preload?: string[];
  /** Datagrams in flight to one worker at most (WorkerDispatcherOptions.maxInFlight). */
  maxInFlight?: number;
  /** Restart delay of a worker that died, doubled (up to 5 s) while it keeps dying within a second. */
  restartDelayMs?: number;
  logger?: Logger;
}

export interface WorkerPoolCounters {
  /** Workers started again after they died. */
  restarts: number;
}

export interface WorkerPool {
  readonly workers: number;
  /** Where each port is bound, by name. */
  readonly addresses: Record<string, Peer>;
  readonly dispatcher: WorkerDispatcher;
  readonly counters: WorkerPoolCounters;
  /** The main thread's sockets, by name (receive drops, prioritizeSources). */
  readonly sockets: Record<string, UdpTransport>;
  /** The thread id of worker `index` now (a restarted worker has a new one). */
  threadId(index: number): number | undefined;
  /** Posts to worker `index` (WorkerContext.onMessage); false when it is down (restarting). */
  post(index: number, message: unknown): boolean;
  /**
   * Resolves once every worker is ready (called WorkerContext.ready()); rejects when a worker dies before it
   * was ever ready (its entry does not load or throws while building its stack).
   */
  ready(): Promise<void>;
  /** Stops the workers (asked first, terminated after `graceMs`) and closes the sockets. */
  close(graceMs?: number): Promise<void>;
}

// The worker's first code: load the preloads and the entry named in workerData. Plain CommonJS text so a .ts
// entry works under a TypeScript loader without the main thread's own loader.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
for (const m of workerData.preload) require(m);
require(workerData.entry);
`;

export async function runWorkers(opts: RunWorkersOptions): Promise<WorkerPool> {
  const n = opts.workers;
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error('udp: workers must be 1..256');
  if (opts.ports.length === 0 || opts.ports.length > 255) throw new Error('udp: 1..255 ports');
  const logger = opts.logger ?? { warn: () => undefined };
  const preload = opts.preload ?? (opts.entry.endsWith('.ts') ? ['tsx/cjs'] : []);
  const sockets: UdpTransport[] = [];
  try {
    for (const p of opts.ports)
      sockets.push(
        await UdpTransport.bind({
          ...(p.type ? { type: p.type } : {}),
          ...(p.port !== undefined ? { port: p.port } : {}),
          ...(p.address !== undefined ? { address: p.address } : {}),
          ...(p.recvBufferSize !== undefined ? { recvBufferSize: p.recvBufferSize } : {}),
          logger,
        }),
      );
  } catch (err) {
    await Promise.all(sockets.map((s) => s.close()));
    throw err;
  }
  // No fair queue on the sockets themselves: the dispatcher keeps one per worker, gated by what the worker
  // has taken, so the fairness holds up to the worker and not only up to the dispatch.
  const dispatcher = new WorkerDispatcher(sockets, n, {
    routes: opts.ports.map((p) => p.route),
    fairness: opts.ports.map((p) => p.fairness),
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
  });
  sockets.forEach((s, i) => s.onDatagram((data, peer) => dispatcher.dispatch(i, data, peer)));
  const addresses: Record<string, Peer> = {};
  const byName: Record<string, UdpTransport> = {};
  opts.ports.forEach((p, i) => {
    addresses[p.name] = sockets[i]!.address();
    byName[p.name] = sockets[i]!;
  });
  let data = opts.data;
  if (opts.init) {
    try {
      data = await opts.init(addresses);
    } catch (err) {
      await Promise.all(sockets.map((s) => s.close()));
      throw err;
    }
  }
  const counters: WorkerPoolCounters = { restarts: 0 };
  const threads: (Worker | undefined)[] = new Array<Worker | undefined>(n).fill(undefined);
  const readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Workers that have been ready once: one that dies before that is a broken entry, not a crash to ride out. */
  const everReady: boolean[] = new Array<boolean>(n).fill(false);
  let lastError: unknown;
  let closing = false;
  const baseDelay = opts.restartDelayMs ?? 100;

  const checkReady = (): void => {
    for (let i = 0; i < n; i++) if (!dispatcher.isReady(i)) return;
    for (const w of readyWaiters.splice(0)) w.resolve();
  };

  const start = (index: number, delay: number): void => {
    const { port1, port2 } = new MessageChannel();
    const boot: WorkerBootData = {
      index,
      workers: n,
      ports: opts.ports.map((p, i) => ({
        name: p.name,
        address: addresses[p.name] ?? sockets[i]!.address(),
      })),
      channel: port2,
      entry: resolve(opts.entry), // the bootstrap's require() would resolve a relative path from elsewhere
      data,
      preload,
    };
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: boot, transferList: [port2] });
    const startedAt = Date.now();
    threads[index] = worker;
    dispatcher.attach(index, port1);
    port1.on('message', (m: WorkerMessage) => {
      dispatcher.receive(index, m);
      if (m.type === 'ready') {
        everReady[index] = true;
        checkReady();
      }
    });
    worker.on('message', (m: unknown) => opts.onMessage?.(index, m));
    worker.on('error', (err) => {
      lastError = err;
      logger.warn('udp: worker failed', { worker: index, error: String(err) });
    });
    worker.on('exit', (code) => {
      port1.close();
      if (threads[index] !== worker) return;
      threads[index] = undefined;
      dispatcher.detach(index);
      opts.onExit?.(index);
      if (closing) return;
      if (!everReady[index]) {
        const err = new Error(
          `udp: worker ${index} exited (${code}) before it was ready: ${String(lastError)}`,
        );
        for (const w of readyWaiters.splice(0)) w.reject(err);
      }
      // A worker that died young is likely to die again: back off instead of spinning.
      const next = Date.now() - startedAt < 1000 ? Math.min(5000, delay * 2) : baseDelay;
      logger.warn('udp: worker exited, restarting it', { worker: index, code, inMs: next });
      setTimeout(() => {
        if (closing) return;
        counters.restarts++;
        start(index, next);
      }, next);
    });
  };
  for (let i = 0; i < n; i++) start(i, baseDelay);

  return {
    workers: n,
    addresses,
    dispatcher,
    counters,
    sockets: byName,
    threadId: (i) => threads[i]?.threadId,
    post(i, message) {
      const w = threads[i];
      if (w === undefined || !dispatcher.isReady(i)) return false;
      w.postMessage(message);
      return true;
    },
    ready: () =>
      new Promise<void>((resolve, reject) => {
        readyWaiters.push({ resolve, reject });
        checkReady();
      }),
    async close(graceMs = 2000) {
      closing = true;
      await Promise.all(
        threads.map(async (w) => {
          if (w === undefined) return;
          const exited = new Promise((r) => w.once('exit', r));
          w.postMessage({ type: 'close' } satisfies WorkerMessage);
          const timer = setTimeout(() => void w.terminate(), graceMs);
          await exited;
          clearTimeout(timer);
        }),
      );
      dispatcher.close();
      await Promise.all(sockets.map((s) => s.close()));
    },
  };
}
