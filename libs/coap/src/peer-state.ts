// Per-peer state of a CoAP endpoint, looked up once per datagram by the transport's peer key and then
// shared by every layer: the message layer's NSTART count and queue (RFC 7252 section 4.7), the exchange
// layer's tokens (section 5.3.2) and the client's observations (RFC 7641). Its numeric id makes the
// message layer's keys numbers (id * 2^16 + Message ID) instead of a string built per datagram.
import type { ClientExchange } from './exchange-layer';
import type { ClientObservation } from './observe-client';
import type { Peer } from '@lwm2m/transport';

export class PeerState {
  /** Confirmable messages sent and not yet acknowledged (section 4.7: at most NSTART). */
  outstanding = 0;
  /** Confirmable messages waiting for NSTART room, in order. */
  readonly queue: { state: string }[] = [];
  /** Client exchanges by token key (exchange layer). */
  readonly exchanges = new Map<string, ClientExchange>();
  /** A datagram came since the eviction scan last passed this entry (PeerTable's second chance). */
  heard = false;
  /** Client observations by token key (observe client). */
  readonly observations = new Map<string, ClientObservation>();

  /** The address of the latest datagram received under this key (NAT rebinding, DTLS CID), if any. */
  heardFrom?: Peer;

  constructor(
    readonly key: string,
    readonly id: number,
  ) {}

  /** Where to send: the latest address heard under this key, else the caller's. */
  addressOr(fallback: Peer): Peer {
    return this.heardFrom ?? fallback;
  }

  /** Whether anything but the address depends on this entry (it may not be forgotten then). */
  get busy(): boolean {
    return (
      this.outstanding > 0 || this.queue.length > 0 || this.exchanges.size > 0 || this.observations.size > 0
    );
  }

  /** Message-layer key of a Message ID of this peer: a number, unique while this entry lives. */
  midKey(mid: number): number {
    return this.id * 0x10000 + mid;
  }
}

/**
 * The peers an endpoint knows. Bounded: beyond `max`, idle peers not heard from lately are forgotten (CLOCK,
 * an approximation of least recently heard); a busy one stays. A forgotten peer's dedup entries expire.
 */
export class PeerTable {
  private readonly peers = new Map<string, PeerState>();
  private nextId = 1;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.peers.size;
  }

  get(key: string): PeerState | undefined {
    return this.peers.get(key);
  }

  /** The entry of `key`, created when new; `peer` becomes its address when `heard` (a datagram came from it). */
  intern(key: string, peer: Peer, heard: boolean): PeerState {
    let ps = this.peers.get(key);
    if (ps === undefined) {
      // 2^37 ids before the numeric keys (id * 2^16 + MID) leave the safe integers; wrap long before.
      if (this.nextId >= 2 ** 36) this.nextId = 1;
      ps = new PeerState(key, this.nextId++);
      if (heard) ps.heardFrom = peer;
      this.peers.set(key, ps);
      if (this.peers.size > this.max) this.evict();
      return ps;
    }
    if (heard) {
      ps.heardFrom = peer;
      // Second chance (CLOCK) instead of moving the entry to the end on every datagram: a flag now,
      // the move only when eviction reaches it.
      ps.heard = true;
    }
    return ps;
  }

  /** The latest address of `key`, or `fallback`. */
  addressOf(key: string, fallback: Peer): Peer {
    return this.peers.get(key)?.heardFrom ?? fallback;
  }

  values(): IterableIterator<PeerState> {
    return this.peers.values();
  }

  clear(): void {
    this.peers.clear();
  }

  private evict(): void {
    // Bounded scan from the oldest end: a peer heard since the last pass gets a second chance (moved to
    // the end); a busy one is skipped, never evicted; the first idle, unheard one goes.
    let scanned = 0;
    for (const [k, ps] of this.peers) {
      if (this.peers.size <= this.max || scanned++ >= 64) break;
      if (ps.heard) {
        ps.heard = false;
        this.peers.delete(k);
        this.peers.set(k, ps);
      } else if (!ps.busy) {
        this.peers.delete(k);
      }
    }
  }
}
