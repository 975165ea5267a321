// The main thread's side of GATEWAY_WORKERS (issue 12 item 4). Node 20's dgram has no SO_REUSEPORT and a
// socket cannot be shared with a worker thread, so the main thread owns the sockets and only moves bytes:
// each datagram goes to one worker (a record of a DTLS session to the worker that holds it, by the CID: the
// in-process twin of the cluster link; anything else by its source address and port, so a CoAP or handshake
// flow stays on one worker), and what the workers hand back leaves through the socket it names. Both
// directions are batched per event-loop turn (worker-batch.ts).
import type { Peer } from '@lwm2m/transport';
import { type FairReceiveOptions, FairReceiveQueue, type ReceiveDropCounters } from './fair-receive-queue';
import { BatchWriter, type DatagramBatch, readBatch } from './worker-batch';

/** Where the dispatcher posts a worker's batches: a MessagePort (or a Worker). */
export interface BatchChannel {
  postMessage(value: unknown, transferList: ArrayBuffer[]): void;
}

/** A socket the dispatcher sends the workers' datagrams through (UdpTransport.sendNow). */
export interface DispatchSocket {
  sendNow(data: Buffer, port: number, address: string): void;
}

/**
 * Which worker a datagram of one port goes to; undefined: by its source (addressWorker). Reads the datagram
 * only (e.g. libs/cluster workerOfDatagram for a DTLS port).
 */
export type WorkerRoute = (data: Buffer, peer: Peer, workers: number) => number | undefined;

/** Messages between the threads. `acked`: datagrams the worker has taken off its port since its last message. */
export type WorkerMessage =
  { type: 'datagrams'; batch?: DatagramBatch; acked?: number } | { type: 'ready' } | { type: 'close' };

export interface WorkerDispatcherOptions {
  /** Per port: which worker a datagram goes to (default and fallback: its source). */
  routes?: readonly (WorkerRoute | undefined)[];
  /** Per port: the fair receive queues in front of each worker (batch default 64). */
  fairness?: readonly (FairReceiveOptions | undefined)[];
  /**
   * Datagrams handed to one worker and not yet taken off its port, at most. Beyond it the worker's fair
   * queues hold (bounded per source) instead of its MessagePort's unbounded queue, so a flood cannot queue
   * ahead of other devices in the worker either. Default 256 (about 25 ms of a worker doing 100 us per datagram).
   */
  maxInFlight?: number;
}

export interface WorkerDispatcherCounters {
  /** Datagrams handed to a worker. */
  dispatched: number;
  /** Datagrams dropped: their worker was down (restarting) or not ready yet. */
  unavailable: number;
  /** Datagrams the workers sent. */
  sent: number;
  /** Datagrams of a worker naming a port that does not exist. */
  badPort: number;
  /** Datagrams the batch layout cannot carry (longer than 65,535 bytes, address over 255 characters). */
  oversize: number;
}

/** FNV-1a over the source address and port: one flow, one worker. */
export function addressWorker(address: string, port: number, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (port & 0xff), 0x01000193);
  h = Math.imul(h ^ (port >>> 8), 0x01000193);
  return (h >>> 0) % workers;
}

interface Slot {
  channel: BatchChannel | undefined;
  ready: boolean;
  out: BatchWriter;
  /** One fair queue per port. */
  queues: FairReceiveQueue[];
  inFlight: number;
}

export class WorkerDispatcher {
  readonly counters: WorkerDispatcherCounters = {
    dispatched: 0,
    unavailable: 0,
    sent: 0,
    badPort: 0,
    oversize: 0,
  };
  private readonly slots: Slot[];
  private readonly routes: readonly (WorkerRoute | undefined)[];
  private readonly maxInFlight: number;
  private readonly pending = new Set<Slot>();
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly sockets: readonly DispatchSocket[],
    readonly workers: number,
    opts: WorkerDispatcherOptions = {},
  ) {
    if (!Number.isInteger(workers) || workers < 1 || workers > 256)
      throw new Error('udp: workers must be 1..256');
    this.routes = opts.routes ?? [];
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
    this.slots = Array.from({ length: workers }, () => {
      const slot: Slot = {
        channel: undefined,
        ready: false,
        out: new BatchWriter(),
        queues: [],
        inFlight: 0,
      };
      const gate = (): boolean => slot.inFlight < this.maxInFlight;
      slot.queues = sockets.map(
        (_, portIndex) =>
          new FairReceiveQueue((data, peer) => this.handOver(slot, portIndex, data, peer), {
            batch: 64,
            ...opts.fairness?.[portIndex],
            gate,
          }),
      );
      return slot;
    });
  }

  /** Datagrams the fair queues dropped, by reason, over every worker and port. */
  get receiveDrops(): ReceiveDropCounters {
    const drops = { source: 0, total: 0 };
    for (const slot of this.slots)
      for (const q of slot.queues) {
        drops.source += q.drops.source;
        drops.total += q.drops.total;
      }
    return drops;
  }

  /** Attaches worker `index`'s channel; datagrams flow to it once it says it is ready (`ready`). */
  attach(index: number, channel: BatchChannel): void {
    const slot = this.slots[index]!;
    slot.channel = channel;
    slot.ready = false;
  }

  /** Worker `index` is gone: its datagrams are dropped (counted) until a new one is attached and ready. */
  detach(index: number): void {
    const slot = this.slots[index]!;
    slot.channel = undefined;
    slot.ready = false;
    slot.out.take();
    slot.inFlight = 0;
    for (const q of slot.queues) q.clear();
    this.pending.delete(slot);
  }

  isReady(index: number): boolean {
    return this.slots[index]?.ready === true;
  }

  /** Stops everything waiting (the sockets are closing). */
  close(): void {
    for (let i = 0; i < this.workers; i++) this.detach(i);
  }

  /** Queues a datagram received on port `portIndex` for its worker. */
  dispatch(portIndex: number, data: Buffer, peer: Peer): void {
    const route = this.routes[portIndex];
    let index = route?.(data, peer, this.workers);
    if (index === undefined || !(index >= 0 && index < this.workers))
      index = addressWorker(peer.address, peer.port, this.workers);
    const slot = this.slots[index]!;
    if (!slot.ready) {
      this.counters.unavailable++;
      return;
    }
    slot.queues[portIndex]!.push(data, peer.address, peer.port, peer.family ?? 'IPv4');
  }

  /** A message from worker `index`: its datagrams to send, how many it took, or its readiness. */
  receive(index: number, message: WorkerMessage): void {
    const slot = this.slots[index]!;
    if (message.type === 'ready') {
      if (slot.channel !== undefined) slot.ready = true;
      return;
    }
    if (message.type !== 'datagrams') return;
    if (message.acked !== undefined && message.acked > 0) {
      const wasFull = slot.inFlight >= this.maxInFlight;
      slot.inFlight = Math.max(0, slot.inFlight - message.acked);
      if (wasFull && slot.inFlight < this.maxInFlight) for (const q of slot.queues) q.resume();
    }
    if (message.batch === undefined) return;
    readBatch(message.batch, (portIndex, address, port, data) => {
      const socket = this.sockets[portIndex];
      if (socket === undefined) {
        this.counters.badPort++;
        return;
      }
      this.counters.sent++;
      socket.sendNow(data, port, address);
    });
  }

  /** From a worker's fair queue into the batch posted to it at the end of this callback. */
  private handOver(slot: Slot, portIndex: number, data: Buffer, peer: Peer): void {
    if (!slot.out.push(portIndex, peer.address, peer.port, data)) {
      this.counters.oversize++;
      return;
    }
    slot.inFlight++;
    this.counters.dispatched++;
    this.pending.add(slot);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the current callback (one fair-queue drain): every datagram of it in one post.
      queueMicrotask(this.flushBound);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const slot of this.pending) {
      const batch = slot.out.take();
      if (batch === undefined || slot.channel === undefined) continue;
      const message: WorkerMessage = { type: 'datagrams', batch };
      slot.channel.postMessage(message, [batch.buffer]);
    }
    this.pending.clear();
  }
}
