// The worker thread's side of GATEWAY_WORKERS: a DatagramTransport per public port of the main thread,
// carried over a MessagePort (worker-dispatcher.ts). The stack a worker builds on it (DTLS, CoAP, LwM2M) is
// the stack it would build on a UdpTransport: it sees the devices' addresses and answers them.
import { type MessagePort, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type DatagramTransport, deliverToListeners, type Logger, type Peer } from '@lwm2m/transport';
import { BatchWriter, readBatch } from './worker-batch';
import type { WorkerMessage } from './worker-dispatcher';

/** What runWorkers hands each worker (its workerData). */
export interface WorkerBootData {
  /** This worker's index, 0..workers-1 (stable across restarts: CIDs name it). */
  index: number;
  workers: number;
  /** The public ports, in the order the main thread numbers them, with the address each is bound to. */
  ports: { name: string; address: Peer }[];
  /** The channel of datagrams to and from the main thread. */
  channel: MessagePort;
  /** The entry module (loaded by the worker bootstrap), after the `preload` modules (a TypeScript loader). */
  entry: string;
  preload: string[];
  /** Whatever the caller of runWorkers passed (structured-cloned). */
  data: unknown;
}

export interface WorkerContext {
  index: number;
  workers: number;
  /** One transport per public port, by name. */
  transports: Record<string, PortTransport>;
  data: unknown;
  /** Tells the main thread to start sending datagrams (the stack listens); until then they are dropped. */
  ready(): void;
  /** Runs when the pool closes (the worker exits once every handler settled, or is terminated after a grace). */
  onClose(handler: () => Promise<unknown> | void): void;
  /** Posts to the main thread (RunWorkersOptions.onMessage). */
  post(message: unknown): void;
  /** Messages of the main thread (WorkerPool.post). */
  onMessage(handler: (message: unknown) => void): void;
}

/** The datagrams of one worker, both ways, over its channel. */
class WorkerChannel {
  readonly transports: PortTransport[] = [];
  private readonly out = new BatchWriter();
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();
  /** Datagrams taken off the port since the last message: the main thread's credit back (maxInFlight). */
  private acked = 0;

  constructor(private readonly channel: MessagePort) {
    channel.on('message', (m: WorkerMessage) => {
      if (m.type !== 'datagrams' || m.batch === undefined) return;
      readBatch(m.batch, (portIndex, address, port, data) => {
        this.acked++;
        this.transports[portIndex]?.deliver(data, address, port);
      });
      this.scheduleFlush();
    });
  }

  send(portIndex: number, data: Buffer, peer: Peer): boolean {
    if (!this.out.push(portIndex, peer.address, peer.port, data)) return false;
    this.scheduleFlush();
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // At the end of this turn, not in a microtask: answers sent after a few awaits (a CoAP handler, a DTLS
    // record opened) still share one post with the batch's acknowledgement.
    setImmediate(this.flushBound);
  }

  ready(): void {
    this.channel.postMessage({ type: 'ready' } satisfies WorkerMessage);
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.out.take();
    const acked = this.acked;
    this.acked = 0;
    if (batch === undefined && acked === 0) return;
    const message: WorkerMessage = { type: 'datagrams', acked, ...(batch ? { batch } : {}) };
    this.channel.postMessage(message, batch ? [batch.buffer] : []);
  }
}

export class PortTransport implements DatagramTransport {
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];
  private closed = false;

  constructor(
    private readonly channel: WorkerChannel,
    private readonly portIndex: number,
    private readonly local: Peer,
    readonly name: string,
    private readonly logger: Logger = { warn: () => undefined },
  ) {}

  /** The main thread's socket this transport speaks through. */
  address(): Peer {
    return { ...this.local };
  }

  send(data: Buffer, peer: Peer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('port transport closed'));
    if (!this.channel.send(this.portIndex, data, peer))
      this.logger.warn('udp: datagram too large for the worker channel', { bytes: data.length });
    return Promise.resolve();
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  /** @internal a datagram the main thread dispatched to this worker. */
  deliver(data: Buffer, address: string, port: number): void {
    if (this.closed) return;
    const peer: Peer = { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' };
    deliverToListeners(this.listeners, data, peer, this.logger, undefined, 'udp');
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

let context: WorkerContext | undefined;

/** In a worker started by runWorkers: its index, its transports and the caller's data (one context per thread). */
export function workerContext(logger?: Logger): WorkerContext {
  if (context !== undefined) return context;
  if (isMainThread) throw new Error('udp: workerContext() is for worker threads started by runWorkers');
  const boot = workerData as WorkerBootData;
  const channel = new WorkerChannel(boot.channel);
  const transports: Record<string, PortTransport> = {};
  boot.ports.forEach((p, i) => {
    const t = new PortTransport(channel, i, p.address, p.name, logger);
    channel.transports.push(t);
    transports[p.name] = t;
  });
  const closeHandlers: (() => Promise<unknown> | void)[] = [];
  const messageHandlers: ((message: unknown) => void)[] = [];
  parentPort?.on('message', (m: WorkerMessage | unknown) => {
    if ((m as WorkerMessage | undefined)?.type !== 'close') {
      for (const h of messageHandlers) h(m);
      return;
    }
    void Promise.allSettled(closeHandlers.map(async (h) => h())).then(() => process.exit(0));
  });
  context = {
    index: boot.index,
    workers: boot.workers,
    transports,
    data: boot.data,
    ready: () => channel.ready(),
    onClose: (h) => void closeHandlers.push(h),
    post: (m) => parentPort?.postMessage(m),
    onMessage: (h) => void messageHandlers.push(h),
  };
  return context;
}
