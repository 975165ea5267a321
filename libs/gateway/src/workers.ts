// GATEWAY_WORKERS > 1 (issue 12 item 4): one gateway process, N worker threads sharing its UDP ports.
// The main thread owns the sockets (libs/udp runWorkers), the node's lease (cluster mode), the command
// streams, the metrics and drain; each worker builds the whole gateway stack on its PortTransports, with
// CIDs naming the node and the worker (a record reaches the worker holding its session the way a record
// reaches the node holding it over the cluster link), on its own Redis connections, observing the membership.
// A command runs on the worker that holds the device's session, picked from the registration's SessionRef by
// the same rule that places the device's datagrams: no worker ever takes a live session of another over.
import {
  ClusterMembership,
  type MembershipStore,
  workerOfDatagram,
  workerOfLinkEnvelope,
  workerOfSession,
} from '@lwm2m/cluster';
import { settleWithin } from '@lwm2m/config';
import type { GatewayMetricsSources } from '@lwm2m/metrics';
import type { CommandBus, DeviceCommand, DeviceCommandResult } from '@lwm2m/server';
import type { SessionRef } from '@lwm2m/transport';
import {
  addressWorker,
  runWorkers,
  workerContext,
  type WorkerPool,
  type WorkerPortOptions,
} from '@lwm2m/udp';
import type { GatewayConfig } from './config';
import type { GatewayLogger, GatewayStores } from './ports';
import { createGatewayStack, DEFAULT_UDP_RECV_BUFFER_BYTES, type GatewayStack } from './stack';

/** How often a worker posts its counters to the main thread (what /metrics sums). */
const COUNTERS_EVERY_MS = 1000;
/** A command for a worker that is restarting waits this long for it. */
const WORKER_WAIT_MS = 3000;
/** Drain: each worker writes its sessions back within this bound (each Redis step is bounded inside). */
const DRAIN_BOUND_MS = 3000;
/** DTLS record content type tls12_cid (RFC 9146 section 4): known sessions are served first. */
const TLS12_CID = 25;

/** What the main thread hands each worker. */
export interface GatewayWorkerData {
  config: GatewayConfig;
  /** The node id the main thread holds the lease of (cluster), or the one its CIDs name. */
  nodeId: number;
  /** GATEWAY_TEST_HOOKS: a worker obeys "crash" (the tests kill one). */
  testHooks: boolean;
}

/** Messages between the main thread and a gateway worker (besides the datagrams). */
export type GatewayWorkerMessage =
  | { type: 'command'; id: number; cmd: DeviceCommand }
  | { type: 'result'; id: number; result: DeviceCommandResult }
  | { type: 'counters'; counters: WorkerCounters }
  | { type: 'drain'; id: number }
  | { type: 'drained'; id: number }
  | { type: 'crash' };

/** A worker's counters, as plain data (GatewayMetricsSources read once). */
export type WorkerCounters = { [K in keyof GatewayMetricsSources]?: unknown };

export interface GatewayWorkersOptions {
  config: GatewayConfig;
  /** The worker module (it calls runGatewayWorker). */
  entry: string;
  /** Modules a worker loads before the entry (a TypeScript loader for a .ts entry). */
  preload?: string[];
  /** The main thread's Redis ports: the registrations (command routing), the command bus and the leases. */
  stores: {
    registrations: { getByEndpoint(endpoint: string): Promise<{ session?: SessionRef } | undefined> };
    commands: CommandBus & {
      serveNode?(
        node: number,
        h: (c: DeviceCommand) => Promise<DeviceCommandResult>,
      ): Promise<() => Promise<void>>;
    };
    cluster?: { membership: MembershipStore };
  };
  logger: GatewayLogger;
  onLeaseLost?: () => void;
  testHooks?: boolean;
}

/** The main thread of a gateway process with worker threads. */
export class GatewayWorkers {
  membership?: ClusterMembership;
  private pool!: WorkerPool;
  private readonly latest = new Map<number, WorkerCounters>();
  private readonly waiting = new Map<number, (m: GatewayWorkerMessage | 'exited' | undefined) => void>();
  /** The requests each worker was handed and has not answered (failed at once when it dies). */
  private readonly asked = new Map<number, Set<number>>();
  private seq = 0;
  private stopServing: (() => Promise<void>)[] = [];
  private drained = false;
  private closed = false;

  private constructor(private readonly opts: GatewayWorkersOptions) {}

  static async start(opts: GatewayWorkersOptions): Promise<GatewayWorkers> {
    const w = new GatewayWorkers(opts);
    await w.begin();
    return w;
  }

  get workers(): number {
    return this.opts.config.GATEWAY_WORKERS;
  }

  private async begin(): Promise<void> {
    const { config } = this.opts;
    const n = config.GATEWAY_WORKERS;
    const cidLength = config.DTLS_CID_LENGTH;
    const clustered = config.CLUSTER_KEY !== undefined;
    const linked = clustered && config.CLUSTER_LINK !== false;
    const common = {
      type: config.COAP_HOST.includes(':') ? ('udp6' as const) : ('udp4' as const),
      address: config.COAP_HOST,
      recvBufferSize: config.UDP_RECV_BUFFER_BYTES ?? DEFAULT_UDP_RECV_BUFFER_BYTES,
    };
    const perSource = config.UDP_RECV_PER_SOURCE > 0 ? config.UDP_RECV_PER_SOURCE : 16_384;
    const ports: WorkerPortOptions[] = [
      {
        ...common,
        name: 'coaps',
        port: config.COAPS_PORT,
        fairness: { perSource, prioritize: (data) => data[0] === TLS12_CID },
        // A record of a session to the worker its CID names, whatever address it comes from (NAT rebinding).
        ...(cidLength > 0
          ? { route: (data: Buffer, _p: unknown, w: number) => workerOfDatagram(data, cidLength, w) }
          : {}),
      },
    ];
    if (config.COAP_NOSEC)
      ports.push({ ...common, name: 'coap', port: config.COAP_PORT, fairness: { perSource } });
    if (linked)
      ports.push({
        ...common,
        name: 'link',
        port: config.CLUSTER_PORT,
        // One source per node: no per-source bound worth the name.
        fairness: { perSource: 16_384 },
        route: (data, _peer, w) => workerOfLinkEnvelope(data, cidLength, w),
      });
    this.pool = await runWorkers({
      workers: n,
      entry: this.opts.entry,
      ...(this.opts.preload ? { preload: this.opts.preload } : {}),
      ports,
      logger: { warn: (m, c) => this.opts.logger.warn(`${m} ${JSON.stringify(c ?? {})}`) },
      // The lease is claimed once the link port is known and before any worker starts (they need its id).
      init: async (addresses) => {
        const nodeId = clustered
          ? await this.claimLease(addresses.link?.port ?? 0)
          : numericSuffix(config.NODE_ID);
        return { config, nodeId, testHooks: this.opts.testHooks === true } satisfies GatewayWorkerData;
      },
      onMessage: (index, m) => this.onWorkerMessage(index, m as GatewayWorkerMessage),
      onExit: (index) => {
        for (const id of this.asked.get(index) ?? []) this.waiting.get(id)?.('exited');
      },
    });
    try {
      await this.pool.ready();
      const run = (cmd: DeviceCommand) => this.runCommand(cmd);
      this.stopServing.push(await this.opts.stores.commands.serve(run));
      // Commands for devices whose DTLS session this node owns (libs/registry clusterCommandRouter).
      if (this.membership && this.opts.stores.commands.serveNode)
        this.stopServing.push(await this.opts.stores.commands.serveNode(this.membership.id, run));
    } catch (err) {
      await this.pool.close(500);
      await this.membership?.stop({ release: true });
      throw err;
    }
  }

  private async claimLease(linkPort: number): Promise<number> {
    const { config, stores } = this.opts;
    if (!stores.cluster) throw new Error('cluster mode needs the shared cluster stores');
    this.membership = new ClusterMembership({
      store: stores.cluster.membership,
      name: config.NODE_ID,
      linkHost: config.CLUSTER_ADVERTISE_HOST,
      linkPort,
      ttlMs: config.CLUSTER_LEASE_MS,
      heartbeatMs: Math.max(100, Math.floor(config.CLUSTER_LEASE_MS / 3)),
      sessions: () => sum(this.latest, (c) => (c.dtls as { sessions?: number } | undefined)?.sessions),
      onLost:
        this.opts.onLeaseLost ??
        (() => {
          this.opts.logger.error('cluster: lost this node lease to another process; exiting');
          process.exit(1);
        }),
      onError: (err) => this.opts.logger.warn(`cluster: heartbeat failed: ${String(err)}`),
    });
    await this.membership.start();
    return this.membership.id;
  }

  private onWorkerMessage(index: number, m: GatewayWorkerMessage): void {
    if (m.type === 'counters') this.latest.set(index, m.counters);
    else if (m.type === 'result' || m.type === 'drained') this.waiting.get(m.id)?.(m);
  }

  /** The worker holding the device's session: where its datagrams go, so its answers come back there. */
  async workerOf(endpoint: string): Promise<number> {
    const n = this.workers;
    const session = (await this.opts.stores.registrations.getByEndpoint(endpoint))?.session;
    if (session?.kind === 'cid') return workerOfSession(session.cid, n);
    if (session?.kind === 'address') return addressWorker(session.address, session.port, n);
    return addressWorker(endpoint, 0, n); // not registered: any worker answers 404, one per endpoint
  }

  /** Hands a command to the worker holding the device's session and waits for its result. */
  async runCommand(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    const index = await this.workerOf(cmd.endpoint);
    const deadline = Math.max(cmd.createdAt + cmd.timeoutMs, Date.now() + 1000);
    const reply = await this.ask(index, (id) => ({ type: 'command', id, cmd }), deadline - Date.now());
    if (reply === 'down')
      return { id: cmd.id, ok: false, status: 503, error: `gateway worker ${index} is restarting` };
    // Not retried: the device may have seen it (a Write, an Execute), and commands run at most once.
    if (reply === 'exited')
      return {
        id: cmd.id,
        ok: false,
        status: 503,
        error: `gateway worker ${index} stopped while running the command`,
      };
    if (reply === undefined || reply.type !== 'result')
      return { id: cmd.id, ok: false, status: 504, error: `gateway worker ${index} did not answer` };
    return reply.result;
  }

  /** Posts a request to worker `index` (waiting a little for one that restarts) and awaits its reply. */
  private async ask(
    index: number,
    message: (id: number) => GatewayWorkerMessage,
    timeoutMs: number,
  ): Promise<GatewayWorkerMessage | 'down' | 'exited' | undefined> {
    const id = ++this.seq;
    let asked = this.asked.get(index);
    if (asked === undefined) this.asked.set(index, (asked = new Set()));
    const answer = new Promise<GatewayWorkerMessage | 'exited' | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (m: GatewayWorkerMessage | 'exited' | undefined) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        asked.delete(id);
        resolve(m);
      };
      this.waiting.set(id, done);
    });
    const until = Date.now() + WORKER_WAIT_MS;
    while (!this.pool.post(index, message(id))) {
      asked.delete(id);
      if (Date.now() > until || this.closed) {
        this.waiting.get(id)?.(undefined);
        return 'down';
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    asked.add(id);
    return answer;
  }

  /** Where the ports are bound. */
  addresses(): { coap?: Addr; coaps: Addr; link?: Addr } {
    const a = this.pool.addresses;
    return {
      ...(a.coap ? { coap: pick(a.coap) } : {}),
      coaps: pick(a.coaps!),
      ...(a.link ? { link: pick(a.link) } : {}),
    };
  }

  /** The test hook: worker `index` exits at once, writing nothing back (as a crash would). */
  crash(index: number): boolean {
    return this.pool.post(index, { type: 'crash' } satisfies GatewayWorkerMessage);
  }

  get restarts(): number {
    return this.pool.counters.restarts;
  }

  /** Cluster mode: while this node holds its lease (readiness). */
  get serving(): boolean {
    return this.membership === undefined || !this.drained;
  }

  /** Workers down now (restarting): their devices' datagrams are dropped meanwhile (readiness). */
  get workersDown(): number {
    let down = 0;
    for (let i = 0; i < this.workers; i++) if (!this.pool.dispatcher.isReady(i)) down++;
    return down;
  }

  /**
   * Cluster mode: every worker writes its sessions back (and forwards records of others from then on), then
   * the node's lease goes, so other nodes take the sessions over at once.
   */
  async drain(): Promise<void> {
    if (!this.membership || this.drained) return;
    this.drained = true;
    await Promise.all(
      Array.from({ length: this.workers }, (_, i) =>
        this.ask(i, (id) => ({ type: 'drain', id }), DRAIN_BOUND_MS),
      ),
    );
    await settleWithin(this.membership.stop({ release: true }), 1000);
  }

  /** SIGTERM: commands stop, the sessions are written back, the workers stop, the sockets close. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all(this.stopServing.map((stop) => stop()));
    await this.drain();
    this.closed = true;
    // Each worker closes its stack (GatewayStack.close: a last write-back) before it exits.
    await this.pool.close(5000);
    await this.membership?.stop({ release: true });
  }

  /** The workers' counters, summed (each posts them every second), and the main thread's receive drops. */
  counters(): GatewayMetricsSources {
    const part = <T>(key: keyof WorkerCounters): T | undefined =>
      this.latest.size === 0 ? undefined : (sumObjects([...this.latest.values()].map((c) => c[key])) as T);
    return {
      udpReceiveDrops: () => ({ ...this.pool.dispatcher.receiveDrops }),
      dtls: () => part('dtls'),
      coap: () => part('coap'),
      cluster: () => part('cluster'),
      notifications: () => sum(this.latest, (c) => c.notifications as number | undefined),
      events: () => part('events') ?? {},
      security: () => part('security'),
    };
  }
}

type Addr = { address: string; port: number };

function pick(a: Addr): Addr {
  return { address: a.address, port: a.port };
}

function sum(latest: Map<number, WorkerCounters>, read: (c: WorkerCounters) => number | undefined): number {
  let total = 0;
  for (const c of latest.values()) total += read(c) ?? 0;
  return total;
}

/** Sums numbers leaf by leaf over objects of one shape (DtlsCounters, CoapEndpointStats, ...). */
export function sumObjects(parts: unknown[]): unknown {
  const present = parts.filter((p) => p !== undefined && p !== null);
  if (present.length === 0) return undefined;
  if (present.every((p) => typeof p === 'number')) return (present as number[]).reduce((a, b) => a + b, 0);
  if (!present.every((p) => typeof p === 'object' && !Array.isArray(p))) return present[0];
  const out: Record<string, unknown> = {};
  const keys = new Set(present.flatMap((p) => Object.keys(p as object)));
  for (const k of keys) out[k] = sumObjects(present.map((p) => (p as Record<string, unknown>)[k]));
  return out;
}

function numericSuffix(name: string): number {
  const m = /(\d+)$/.exec(name);
  const n = m ? Number(m[1]) : 0;
  return n <= 0xffff ? n : 0;
}

/**
 * A worker thread's side: builds the gateway stack on the main thread's ports with `stores` (its own Redis
 * connections), runs the commands and drains the main thread hands it, and posts its counters.
 */
export async function runGatewayWorker(
  buildStores: (config: GatewayConfig) => GatewayStores & { close(): Promise<void> },
  logger: GatewayLogger,
): Promise<GatewayStack> {
  const ctx = workerContext();
  const { config, nodeId, testHooks } = ctx.data as GatewayWorkerData;
  const stores = buildStores(config);
  const t = ctx.transports;
  const stack = createGatewayStack(config, stores, {
    logger,
    transports: { coaps: t.coaps!, ...(t.coap ? { coap: t.coap } : {}), ...(t.link ? { link: t.link } : {}) },
    worker: { index: ctx.index, nodeId },
    serveCommands: false,
  });
  await stack.start();
  const post = (m: GatewayWorkerMessage) => ctx.post(m);
  ctx.onMessage((raw) => {
    const m = raw as GatewayWorkerMessage;
    if (m.type === 'command') {
      void stack
        .runCommand(m.cmd)
        .catch((err: unknown) => ({
          id: m.cmd.id,
          ok: false,
          status: 500,
          error: err instanceof Error ? err.message : String(err),
        }))
        .then((result) => post({ type: 'result', id: m.id, result }));
    } else if (m.type === 'drain') {
      void stack.drain().finally(() => post({ type: 'drained', id: m.id }));
    } else if (m.type === 'crash' && testHooks) {
      process.exit(70); // the thread only, with nothing written back
    }
  });
  const sources = stack.counters();
  const report = () =>
    post({
      type: 'counters',
      counters: {
        dtls: sources.dtls(),
        coap: sources.coap(),
        cluster: sources.cluster(),
        notifications: sources.notifications(),
        events: sources.events?.(),
        security: sources.security?.(),
      },
    });
  const timer = setInterval(report, COUNTERS_EVERY_MS);
  timer.unref();
  report();
  ctx.onClose(async () => {
    clearInterval(timer);
    await stack.close();
    await stores.close();
  });
  ctx.ready();
  return stack;
}
