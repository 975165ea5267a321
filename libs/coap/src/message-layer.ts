// RFC 7252 section 4: the message layer. Message IDs, deduplication of CON and NON by (peer, Message ID)
// (4.5), CON retransmission with exponential back-off (4.2, parameters of 4.8), NSTART (4.7), ping and RST
// (4.3), rejection of malformed input. Everything above it (tokens, Observe, block-wise) sees only
// deduplicated requests and responses; everything below it is datagrams.
import { DecodeError } from '@lwm2m/bytes';
import { createMessage, decodeMessage, encodeMessage, peekHeader } from './codec';
import { CoapCode, isRequestCode, isResponseCode } from './codes';
import { DedupCache, type DedupEntry } from './dedup';
import { CoapTimeoutError } from './errors';
import { type CoapMessage, CoapType } from './message';
import type { DerivedTimes, TransmissionParams } from './params';
import { PeerTable, type PeerState } from './peer-state';
import type { PeriodicSweep, TimerWheel, WheelEntry } from './timer-wheel';
import { type DatagramTransport, defaultPeerKey, type Peer } from '@lwm2m/transport';

export interface MessageLayerLogger {
  debug(message: string, context?: Record<string, unknown>): void;
}

/** The message layer's counters (a subset of CoapEndpointStats, which it updates in place). */
export interface MessageLayerStats {
  datagramsIn: number;
  datagramsOut: number;
  malformed: number;
  duplicates: number;
  retransmissions: number;
  transmitTimeouts: number;
  resetsSent: number;
  resetsReceived: number;
  unmatched: number;
}

export interface TransmissionHandlers {
  onAck(msg: CoapMessage): void;
  onReset(): void;
  onFail(err: Error): void;
}

/** One outgoing CON message and its retransmission state (RFC 7252 section 4.2). */
export interface Transmission {
  readonly key: number;
  readonly ps: PeerState;
  readonly peer: Peer;
  readonly data: Buffer;
  readonly h: TransmissionHandlers;
  retransmits: number;
  timeout: number;
  timer?: WheelEntry;
  state: 'queued' | 'sent' | 'done';
}

/** What the message layer hands up: requests and responses after deduplication. */
export interface MessageLayerUpper {
  /** A CON or NON request or response, first of its (peer, Message ID). */
  onMessage(msg: CoapMessage, ps: PeerState, peer: Peer, entry: DedupEntry): void;
  /** The response piggybacked on an ACK (RFC 7252 section 5.2.1). */
  onPiggybacked(msg: CoapMessage, ps: PeerState, peer: Peer): void;
}

export interface MessageLayerOptions {
  transport: DatagramTransport;
  params: TransmissionParams;
  times: DerivedTimes;
  stats: MessageLayerStats;
  wheel: TimerWheel;
  sweep: PeriodicSweep;
  random: () => number;
  now: () => number;
  log: MessageLayerLogger;
  /** Bound of the dedup cache, of the NON tracking and of the peer table. */
  maxEntries: number;
}

interface NonSent {
  expiresAt: number;
  onReset: () => void;
}

export class MessageLayer {
  readonly peers: PeerTable;
  private upper?: MessageLayerUpper;
  private readonly transport: DatagramTransport;
  private readonly params: TransmissionParams;
  private readonly times: DerivedTimes;
  private readonly stats: MessageLayerStats;
  private readonly wheel: TimerWheel;
  private readonly sweep: PeriodicSweep;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: MessageLayerLogger;
  private readonly maxEntries: number;
  private readonly dedup: DedupCache<number>;
  /** CONs sent or queued, by PeerState.midKey. */
  private readonly transmissions = new Map<number, Transmission>();
  /** NON messages we sent whose RST means something (notifications, requests), by PeerState.midKey. */
  private readonly nonSent = new Map<number, NonSent>();
  private nextMid: number;
  private closed = false;

  constructor(o: MessageLayerOptions) {
    this.transport = o.transport;
    this.params = o.params;
    this.times = o.times;
    this.stats = o.stats;
    this.wheel = o.wheel;
    this.sweep = o.sweep;
    this.random = o.random;
    this.now = o.now;
    this.log = o.log;
    this.maxEntries = o.maxEntries;
    this.peers = new PeerTable(o.maxEntries);
    this.dedup = new DedupCache<number>(o.maxEntries);
    this.nextMid = Math.floor(this.random() * 0x10000) & 0xffff;
    this.sweep.add(() => {
      const now = this.now();
      this.dedup.sweep(now);
      for (const [k, v] of this.nonSent) {
        if (v.expiresAt > now) break;
        this.nonSent.delete(k);
      }
      return this.dedup.size > 0 || this.nonSent.size > 0;
    });
  }

  /** The layer above; set once by the endpoint. */
  setUpper(upper: MessageLayerUpper): void {
    this.upper = upper;
  }

  /** Live entries of the deduplication cache (tests, stats). */
  get dedupSize(): number {
    return this.dedup.size;
  }

  /** CONs sent or waiting for NSTART room (tests, stats). */
  get transmissionCount(): number {
    return this.transmissions.size;
  }

  allocateMid(): number {
    const mid = this.nextMid;
    this.nextMid = (mid + 1) & 0xffff;
    return mid;
  }

  sendRaw(data: Buffer, peer: Peer): void {
    this.stats.datagramsOut++;
    this.transport.send(data, peer).catch((err: unknown) => {
      this.log.debug('coap: send failed', { peer: defaultPeerKey(peer), error: String(err) });
    });
  }

  sendEmpty(type: CoapType.ACK | CoapType.RST, peer: Peer, messageId: number): Buffer {
    const data = encodeMessage(createMessage({ type, code: CoapCode.EMPTY, messageId }));
    if (type === CoapType.RST) this.stats.resetsSent++;
    this.sendRaw(data, peer);
    return data;
  }

  sendRst(peer: Peer, messageId: number): Buffer {
    return this.sendEmpty(CoapType.RST, peer, messageId);
  }

  /** A NON message with a fresh Message ID to `to`; `onReset` runs when the peer rejects it (within NON_LIFETIME). */
  sendNon(ps: PeerState, to: Peer, msg: CoapMessage, onReset?: () => void): void {
    msg.type = CoapType.NON;
    msg.messageId = this.allocateMid();
    if (onReset !== undefined) {
      // Bounded: beyond it the oldest tracking goes (its RST is then ignored).
      while (this.nonSent.size >= this.maxEntries) {
        this.nonSent.delete(this.nonSent.keys().next().value as number);
      }
      this.nonSent.set(ps.midKey(msg.messageId), { expiresAt: this.now() + this.times.nonLifetime, onReset });
      this.sweep.poke();
    }
    this.sendRaw(encodeMessage(msg), to);
  }

  /**
   * RFC 7252 sections 4.2 and 4.7: a CON with retransmission, at most NSTART outstanding per peer. Each
   * (re)transmission goes to the latest address heard under the peer's key, else to `peer`.
   */
  sendConfirmable(ps: PeerState, peer: Peer, msg: CoapMessage, h: TransmissionHandlers): Transmission {
    msg.type = CoapType.CON;
    msg.messageId = this.allocateMid();
    const base = this.params.ackTimeout;
    const t: Transmission = {
      key: ps.midKey(msg.messageId),
      ps,
      peer,
      data: encodeMessage(msg),
      h,
      retransmits: 0,
      // Section 4.2: initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
      timeout: base + this.random() * base * (this.params.ackRandomFactor - 1),
      state: 'queued',
    };
    this.transmissions.set(t.key, t);
    if (ps.outstanding < this.params.nstart) this.start(t);
    else ps.queue.push(t);
    return t;
  }

  /** Stops a transmission (answered, cancelled or failed) and lets the peer's next queued CON go. */
  finish(t: Transmission): void {
    const wasSent = t.state === 'sent';
    t.timer?.cancel();
    t.timer = undefined;
    t.state = 'done';
    if (this.transmissions.get(t.key) === t) this.transmissions.delete(t.key);
    const q = t.ps.queue;
    if (!wasSent) {
      const i = q.indexOf(t);
      if (i >= 0) q.splice(i, 1);
      return;
    }
    t.ps.outstanding--;
    const next = q.shift() as Transmission | undefined;
    if (next !== undefined && !this.closed) this.start(next);
  }

  /** Whether a confirmable message to this peer key awaits its ACK. */
  awaitsAnswerFrom(peerKey: string): boolean {
    return (this.peers.get(peerKey)?.outstanding ?? 0) > 0;
  }

  /** Stops every transmission (none is sent after this, queued ones included); the peer table stays for
   * the layers above to fail their exchanges, then goes in clearPeers(). */
  close(): void {
    this.closed = true;
    for (const t of this.transmissions.values()) t.state = 'done';
    this.transmissions.clear();
    this.nonSent.clear();
    this.dedup.clear();
  }

  clearPeers(): void {
    this.peers.clear();
  }

  // ---------------------------------------------------------------- sending CONs

  private start(t: Transmission): void {
    t.state = 'sent';
    t.ps.outstanding++;
    this.sendRaw(t.data, t.ps.addressOr(t.peer));
    t.timer = this.wheel.schedule(t.timeout, () => this.onRetransmitTimer(t));
  }

  private onRetransmitTimer(t: Transmission): void {
    t.timer = undefined;
    if (t.state !== 'sent' || this.closed) return;
    if (t.retransmits >= this.params.maxRetransmit) {
      this.stats.transmitTimeouts++;
      this.finish(t);
      t.h.onFail(new CoapTimeoutError(`no ACK after ${t.retransmits} retransmissions`));
      return;
    }
    // Section 4.2: the timeout doubles with each retransmission.
    t.retransmits++;
    t.timeout *= 2;
    this.stats.retransmissions++;
    this.sendRaw(t.data, t.ps.addressOr(t.peer));
    t.timer = this.wheel.schedule(t.timeout, () => this.onRetransmitTimer(t));
  }

  // ---------------------------------------------------------------- receiving

  /** One datagram from `peer` under the transport's key `peerKey`. */
  receive(data: Buffer, peer: Peer, peerKey: string): void {
    const ps = this.peers.intern(peerKey, peer, true);
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.stats.malformed++;
      const h = peekHeader(data);
      this.log.debug('coap: malformed message', { peer: peerKey, reason: err.reason });
      // RFC 7252 sections 4.2/4.3: reject a malformed CON (and NON) with RST; ACK/RST are ignored.
      if (h !== undefined && (h.type === CoapType.CON || h.type === CoapType.NON))
        this.sendRst(peer, h.messageId);
      return;
    }
    if (msg.type === CoapType.ACK) return this.receiveAck(msg, ps, peer);
    if (msg.type === CoapType.RST) return this.receiveRst(msg, ps);
    if (msg.code === CoapCode.EMPTY) {
      // RFC 7252 section 4.3: an empty CON is a ping, answered with RST; an empty NON is ignored.
      if (msg.type === CoapType.CON) this.sendRst(peer, msg.messageId);
      return;
    }
    const dkey = ps.midKey(msg.messageId);
    const now = this.now();
    const dup = this.dedup.get(dkey, now);
    if (dup !== undefined) {
      // RFC 7252 section 4.5: act on a duplicate only once; re-send the reply to a duplicate CON.
      this.stats.duplicates++;
      if (msg.type === CoapType.CON && dup.reply !== undefined) this.sendRaw(dup.reply, peer);
      return;
    }
    const lifetime = msg.type === CoapType.CON ? this.times.exchangeLifetime : this.times.nonLifetime;
    const entry = this.dedup.add(dkey, lifetime, now);
    this.sweep.poke();
    if (isRequestCode(msg.code) || isResponseCode(msg.code)) {
      this.upper?.onMessage(msg, ps, peer, entry);
    } else if (msg.type === CoapType.CON) {
      // Reserved code classes (RFC 7252 section 12.1): reject.
      entry.reply = this.sendRst(peer, msg.messageId);
    }
  }

  private receiveAck(msg: CoapMessage, ps: PeerState, peer: Peer): void {
    const t = this.transmissions.get(ps.midKey(msg.messageId));
    if (t !== undefined) {
      this.finish(t);
      t.h.onAck(msg);
    }
    // RFC 7252 section 5.2.1: a piggybacked response matches by token as well.
    if (msg.code !== CoapCode.EMPTY && isResponseCode(msg.code)) this.upper?.onPiggybacked(msg, ps, peer);
  }

  private receiveRst(msg: CoapMessage, ps: PeerState): void {
    this.stats.resetsReceived++;
    const key = ps.midKey(msg.messageId);
    const t = this.transmissions.get(key);
    if (t !== undefined) {
      this.finish(t);
      t.h.onReset();
      return;
    }
    const non = this.nonSent.get(key);
    if (non !== undefined) {
      this.nonSent.delete(key);
      non.onReset();
    }
  }
}
