// Per-source fairness on the receive path. The kernel's receive buffer is one FIFO: with a buffer large enough
// for a registration storm, a flood queues ahead of every real device. So the socket is drained as fast as
// libuv reads it into one small queue per source (address and port), each bounded, all bounded together, and
// the listener is served round-robin across sources, sources the layer above knows (a DTLS session, an answer
// it awaits) first. A flood then costs one read and one drop per datagram beyond its share, not a place in
// front of everyone else.
import type { Peer } from '@lwm2m/transport';

export interface FairReceiveOptions {
  /** Datagrams kept per source; more from that source are dropped (reason 'source'). Default 32. */
  perSource?: number;
  /** Datagrams kept across all sources; more are dropped (reason 'total'). Default 16,384. */
  total?: number;
  /**
   * Datagrams handed to the listener per turn of the event loop. libuv reads up to 32 datagrams per socket
   * per turn: a smaller batch lets the reads outrun the work under a flood, so the kernel's FIFO drains into
   * the fair queues instead of ordering the work. Default 8.
   */
  batch?: number;
  /**
   * Sources served before the others, asked once when a source's queue opens (its first datagram of a
   * burst): e.g. a source with a DTLS session or one whose answer the server awaits.
   */
  prioritize?: (data: Buffer, peer: Peer) => boolean;
  /**
   * Delivers only while this says yes (the consumer has room, e.g. a worker thread's datagrams in flight are
   * below its bound); a drain it stops waits for resume(). The per-source queues keep the order fair while
   * the consumer is busy, instead of an unbounded queue behind it.
   */
  gate?: () => boolean;
}

/** Datagrams dropped before reaching the listener, by reason. */
export interface ReceiveDropCounters {
  /** The source already had `perSource` datagrams waiting. */
  source: number;
  /** `total` datagrams were waiting across all sources. */
  total: number;
}

/** One source's waiting datagrams: a ring of at most `perSource`, and its place in the round-robin list. */
class SourceQueue {
  peer!: Peer;
  readonly ring: (Buffer | undefined)[];
  head = 0;
  size = 0;
  next: SourceQueue | undefined = undefined;

  constructor(capacity: number) {
    this.ring = new Array<Buffer | undefined>(capacity).fill(undefined);
  }
}

/** A FIFO of sources, linked through SourceQueue.next (no array shifting, no allocation). */
class SourceList {
  first: SourceQueue | undefined = undefined;
  last: SourceQueue | undefined = undefined;

  push(q: SourceQueue): void {
    q.next = undefined;
    if (this.last) this.last.next = q;
    else this.first = q;
    this.last = q;
  }

  shift(): SourceQueue | undefined {
    const q = this.first;
    if (q) {
      this.first = q.next;
      if (!this.first) this.last = undefined;
      q.next = undefined;
    }
    return q;
  }
}

/** Source queues kept for reuse once emptied, so steady traffic allocates none. */
const POOL_MAX = 1024;

export class FairReceiveQueue {
  readonly drops: ReceiveDropCounters = { source: 0, total: 0 };
  private readonly perSource: number;
  private readonly totalMax: number;
  private readonly batch: number;
  /** address -> port -> queue: no key string built per datagram. */
  private readonly byAddress = new Map<string, Map<number, SourceQueue>>();
  private readonly known = new SourceList();
  private readonly others = new SourceList();
  private readonly pool: SourceQueue[] = [];
  private waiting = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly drainBound = (): void => this.drain();
  private readonly gate: (() => boolean) | undefined;
  /** See FairReceiveOptions.prioritize; settable once the layers above exist. */
  prioritize: ((data: Buffer, peer: Peer) => boolean) | undefined;

  constructor(
    private readonly deliver: (data: Buffer, peer: Peer) => void,
    opts: FairReceiveOptions = {},
  ) {
    this.prioritize = opts.prioritize;
    this.gate = opts.gate;
    this.perSource = Math.max(1, opts.perSource ?? 32);
    this.totalMax = Math.max(1, opts.total ?? 16_384);
    this.batch = Math.max(1, opts.batch ?? 8);
  }

  /** Datagrams waiting across all sources. */
  get size(): number {
    return this.waiting;
  }

  /** Sources with datagrams waiting. */
  get sources(): number {
    let n = 0;
    for (const ports of this.byAddress.values()) n += ports.size;
    return n;
  }

  /** Queues one datagram; `family` only shapes the Peer built for a source's first datagram. */
  push(data: Buffer, address: string, port: number, family: string): void {
    if (this.waiting >= this.totalMax) {
      this.drops.total++;
      return;
    }
    let ports = this.byAddress.get(address);
    let q = ports?.get(port);
    if (q === undefined) {
      q = this.pool.pop() ?? new SourceQueue(this.perSource);
      q.peer = { address, port, family: family as 'IPv4' | 'IPv6' };
      if (ports === undefined) {
        ports = new Map();
        this.byAddress.set(address, ports);
      }
      ports.set(port, q);
      (this.prioritize?.(data, q.peer) ? this.known : this.others).push(q);
    } else if (q.size >= this.perSource) {
      this.drops.source++;
      return;
    }
    q.ring[(q.head + q.size) % this.perSource] = data;
    q.size++;
    this.waiting++;
    if (this.scheduled === undefined) this.scheduled = setImmediate(this.drainBound);
  }

  /** Hands up to `batch` datagrams to the listener, one per source per round, known sources first. */
  drain(): void {
    this.scheduled = undefined;
    for (let n = 0; n < this.batch; n++) {
      if (this.gate !== undefined && !this.gate()) return; // resume() picks up from here
      const list = this.known.first ? this.known : this.others;
      const q = list.shift();
      if (q === undefined) break;
      const data = q.ring[q.head]!;
      q.ring[q.head] = undefined;
      q.head = (q.head + 1) % this.perSource;
      q.size--;
      this.waiting--;
      const peer = q.peer;
      if (q.size > 0) list.push(q);
      else this.release(q);
      this.deliver(data, peer);
    }
    if (this.waiting > 0 && this.scheduled === undefined) this.scheduled = setImmediate(this.drainBound);
  }

  /** The gate (FairReceiveOptions.gate) opened again: deliver what waits. */
  resume(): void {
    if (this.waiting > 0 && this.scheduled === undefined) this.scheduled = setImmediate(this.drainBound);
  }

  /** Drops everything waiting (the socket is closing). */
  clear(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    for (const list of [this.known, this.others])
      for (let q = list.shift(); q; q = list.shift()) {
        q.ring.fill(undefined);
        q.size = 0;
      }
    this.byAddress.clear();
    this.waiting = 0;
  }

  private release(q: SourceQueue): void {
    const address = q.peer.address;
    const ports = this.byAddress.get(address)!;
    ports.delete(q.peer.port);
    if (ports.size === 0) this.byAddress.delete(address);
    q.head = 0;
    if (this.pool.length < POOL_MAX) this.pool.push(q);
  }
}
