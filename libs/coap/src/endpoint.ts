// RFC 7252 sections 4 (message layer) and 5 (request/response), RFC 7641 (Observe), RFC 7959 (block-wise):
// one CoAP endpoint, client and server at once, over any DatagramTransport (UDP now, DTLS later).
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import { type BlockValue, blockSize, decodeBlock, encodeBlock, szxForSize } from './block';
import {
  Block1Assembler,
  Block2BodyCache,
  type BlockwiseLimits,
  DEFAULT_BLOCKWISE_LIMITS,
} from './blockwise';
import { createMessage, decodeMessage, encodeMessage, peekHeader } from './codec';
import { CoapCode, codeClass, formatCode, isRequestCode, isResponseCode } from './codes';
import { DedupCache, type DedupEntry } from './dedup';
import { CoapExchangeError, CoapResetError, CoapTimeoutError } from './errors';
import type {
  CoapRequest,
  CoapRequestHandler,
  CoapResponse,
  IncomingRequest,
  OutgoingResponse,
  RequestOptions,
} from './exchange';
import { type CoapMessage, type CoapOption, CoapType } from './message';
import { NotificationOrder } from './observe-client';
import {
  DEFAULT_CON_NOTIFICATION_INTERVAL_MS,
  type Observer,
  ObserverRegistry,
  observerKey,
  resourceKey,
} from './observe-server';
import {
  addOption,
  encodeUint,
  findBadOption,
  getAccept,
  getContentFormat,
  getETags,
  getNoResponse,
  getObserve,
  getOption,
  getUintOption,
  getUriPath,
  getUriQuery,
  OptionNumber,
  removeOption,
  setOption,
  setUriPath,
  setUriQuery,
  splitPath,
  suppressesResponse,
} from './options';
import { type DerivedTimes, deriveTimes, resolveParams, type TransmissionParams } from './params';
import { type DatagramTransport, defaultPeerKey, type Peer } from '@lwm2m/transport';

type Timer = ReturnType<typeof setTimeout>;

export interface CoapLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

const silentLogger: CoapLogger = { debug: () => undefined, warn: () => undefined };

export interface CoapEndpointOptions {
  transport: DatagramTransport;
  handler?: CoapRequestHandler;
  params?: Partial<TransmissionParams>;
  /** Uniform in [0, 1): the ACK timeout jitter and the first Message ID. */
  random?: () => number;
  /** Token bytes (RFC 7252 section 5.3.1: tokens SHOULD be random). */
  randomBytes?: (n: number) => Buffer;
  now?: () => number;
  logger?: CoapLogger;
  /** Token length of requests, 0..8 (default 8). */
  tokenLength?: number;
  /** RFC 7252 section 5.2.2: after this many ms without a handler answer, send an empty ACK (default 1000). */
  separateResponseDelay?: number;
  /** Preferred block size for Block1 and Block2, 16..1024 (default 1024). */
  blockSize?: number;
  blockwise?: Partial<BlockwiseLimits>;
  /** Bound of the deduplication cache (default 10 000 entries). */
  maxDedupEntries?: number;
  /** Bound of the server's observer list (default 10 000). */
  maxObservers?: number;
  /** RFC 7641 section 4.5: at least one CON notification per this interval (default 24 h). */
  conNotificationInterval?: number;
  /**
   * Asked before a CON or NON response with a token that matches no exchange and no observation is
   * rejected: it may be a notification of an observation another node started (cluster takeover).
   * Resolve true after calling resumeObservation for it; false or a rejection keeps the RST.
   */
  adoptResponse?: AdoptResponse;
  /** Bound of the responses waiting for adoptResponse; beyond it they are rejected at once (default 1000). */
  maxPendingAdoptions?: number;
  block1Gate?: Block1Gate;
  requestBodyLimit?: RequestBodyLimit;
}

/** See CoapEndpointOptions.adoptResponse. */
export type AdoptResponse = (token: Buffer, peer: Peer, peerKey: string) => Promise<boolean>;

/**
 * Asked for the first block of a Block1 upload before anything is buffered: a response (e.g. 4.01 with an
 * Echo option, RFC 9175 section 2.4) refuses it; undefined lets it go on.
 */
export type Block1Gate = (req: IncomingRequest) => OutgoingResponse | undefined;

/** The largest request body (bytes) reassembled for a request to `path`; undefined: limits.maxBodySize. */
export type RequestBodyLimit = (path: readonly string[], code: number) => number | undefined;

/** Counters of the message layer, for health checks and tests. */
export interface CoapEndpointStats {
  datagramsIn: number;
  datagramsOut: number;
  malformed: number;
  duplicates: number;
  retransmissions: number;
  transmitTimeouts: number;
  resetsSent: number;
  resetsReceived: number;
  unmatched: number;
  badOptions: number;
  handlerErrors: number;
  internalErrors: number;
  staleNotifications: number;
  /** Observations taken over through adoptResponse. */
  adoptions: number;
}

/** Every counter at zero. */
export function newCoapEndpointStats(): CoapEndpointStats {
  return {
    datagramsIn: 0,
    datagramsOut: 0,
    malformed: 0,
    duplicates: 0,
    retransmissions: 0,
    transmitTimeouts: 0,
    resetsSent: 0,
    resetsReceived: 0,
    unmatched: 0,
    badOptions: 0,
    handlerErrors: 0,
    internalErrors: 0,
    staleNotifications: 0,
    adoptions: 0,
  };
}

export interface NotifyOptions {
  /** The notification's content; when absent the handler is run again with the registering request. */
  response?: OutgoingResponse;
  /** CON or NON; by default NON, and CON when none was sent for conNotificationInterval (RFC 7641 4.5). */
  confirmable?: boolean;
}

/** A client observation's token and its end (what resumeObservation returns). */
export interface ObservationControl {
  token: Buffer;
  /**
   * RFC 7641 section 3.6: proactive sends a GET with Observe=1 and the same token; otherwise
   * (reactive) the next notification is answered with RST.
   */
  cancel(opts?: { proactive?: boolean }): Promise<void>;
}

export interface ObservationHandle extends ObservationControl {
  /** The first response (its body reassembled when it came in blocks). */
  response: CoapResponse;
  /** RFC 7641 section 3.1: false when the response carried no Observe option (not registered). */
  established: boolean;
}

interface TransmissionHandlers {
  onAck(msg: CoapMessage): void;
  onReset(): void;
  onFail(err: Error): void;
}

/** One outgoing CON message and its retransmission state (RFC 7252 section 4.2). */
interface Transmission extends TransmissionHandlers {
  key: string;
  peerKey: string;
  peer: Peer;
  data: Buffer;
  retransmits: number;
  timeout: number;
  timer?: Timer;
  state: 'queued' | 'sent' | 'done';
}

interface ClientExchange {
  /** Whether a response with this token belongs to the exchange (false: handle it as a notification). */
  accepts(msg: CoapMessage): boolean;
  deliver(msg: CoapMessage, peer: Peer): void;
  fail(err: Error): void;
}

interface ClientObservation {
  peer: Peer;
  /** The registering GET/FETCH without Observe: block-wise follow-ups of notifications (RFC 7959 2.3). */
  base: CoapMessage;
  order: NotificationOrder;
  onNotification(res: CoapResponse): void;
}

/** A client observation before it is registered, with its key, registering request and cancel. */
interface PreparedObservation {
  key: string;
  /** The GET/FETCH with Observe=0. */
  register: CoapMessage;
  obs: ClientObservation;
  control: ObservationControl;
}

interface ResponseParts {
  code: number;
  options: CoapOption[];
  payload: Buffer;
  /** OutgoingResponse.confirmable: a separate CON response instead of a piggybacked one. */
  confirmable?: boolean;
}

interface Received {
  msg: CoapMessage;
  peer: Peer;
}

const EMPTY = Buffer.alloc(0);

function isSuccess(code: number): boolean {
  return codeClass(code) === 2;
}

function cloneMessage(m: CoapMessage): CoapMessage {
  return { ...m, options: m.options.map((o) => ({ number: o.number, value: o.value })) };
}

function readBlock(msg: CoapMessage, n: number): BlockValue | undefined {
  const raw = getOption(msg, n);
  return raw === undefined ? undefined : decodeBlock(raw);
}

export class CoapEndpoint {
  readonly stats: CoapEndpointStats = newCoapEndpointStats();
  readonly params: TransmissionParams;
  readonly times: DerivedTimes;

  private readonly transport: DatagramTransport;
  private handler?: CoapRequestHandler;
  private uplink?: (peer: Peer, peerKey: string) => void;
  private readonly random: () => number;
  private readonly randomBytes: (n: number) => Buffer;
  private readonly now: () => number;
  private readonly log: CoapLogger;
  private readonly tokenLength: number;
  private readonly separateResponseDelay: number;
  private readonly szx: number;
  private readonly limits: BlockwiseLimits;
  private readonly conNotificationInterval: number;
  private readonly maxPeers: number;
  private adoptResponse?: AdoptResponse;
  private readonly maxPendingAdoptions: number;
  private block1Gate?: Block1Gate;
  private requestBodyLimit?: RequestBodyLimit;

  private nextMid: number;
  private closed = false;
  private readonly dedup: DedupCache;
  private readonly latestPeers = new Map<string, Peer>();
  private readonly transmissions = new Map<string, Transmission>();
  private readonly outstanding = new Map<string, number>();
  private readonly queues = new Map<string, Transmission[]>();
  /** NON messages we sent whose RST means something (notifications, requests): key -> onReset. */
  private readonly nonSent = new Map<string, { expiresAt: number; onReset: () => void }>();
  private readonly exchanges = new Map<string, ClientExchange>();
  private readonly observations = new Map<string, ClientObservation>();
  private readonly observers: ObserverRegistry;
  private readonly block1: Block1Assembler;
  private readonly block2: Block2BodyCache;
  private readonly serverTimers = new Set<Timer>();
  /** Lookups of adoptResponse in flight, by `${peerKey}#${tokenHex}`; responses with that token wait on it. */
  private readonly adopting = new Map<string, Promise<boolean>>();
  private adoptionsWaiting = 0;

  constructor(opts: CoapEndpointOptions) {
    this.transport = opts.transport;
    this.handler = opts.handler;
    this.adoptResponse = opts.adoptResponse;
    this.maxPendingAdoptions = opts.maxPendingAdoptions ?? 1000;
    this.block1Gate = opts.block1Gate;
    this.requestBodyLimit = opts.requestBodyLimit;
    this.params = resolveParams(opts.params);
    this.times = deriveTimes(this.params);
    this.random = opts.random ?? Math.random;
    this.randomBytes = opts.randomBytes ?? cryptoRandomBytes;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silentLogger;
    this.tokenLength = opts.tokenLength ?? 8;
    if (!Number.isInteger(this.tokenLength) || this.tokenLength < 0 || this.tokenLength > 8) {
      throw new RangeError('tokenLength must be 0..8 (RFC 7252 section 5.3.1)');
    }
    this.separateResponseDelay = opts.separateResponseDelay ?? 1000;
    this.szx = szxForSize(opts.blockSize ?? 1024);
    this.limits = { ...DEFAULT_BLOCKWISE_LIMITS, ...opts.blockwise };
    this.conNotificationInterval = opts.conNotificationInterval ?? DEFAULT_CON_NOTIFICATION_INTERVAL_MS;
    const maxDedup = opts.maxDedupEntries ?? 10_000;
    this.maxPeers = maxDedup;
    this.dedup = new DedupCache(maxDedup);
    this.observers = new ObserverRegistry(opts.maxObservers ?? 10_000);
    this.block1 = new Block1Assembler(this.limits, this.times.exchangeLifetime);
    this.block2 = new Block2BodyCache(this.limits.maxTotalBytes, this.times.exchangeLifetime);
    this.nextMid = Math.floor(this.random() * 0x10000) & 0xffff;
    this.transport.onDatagram((data, peer) => this.onDatagram(data, peer));
  }

  setHandler(handler: CoapRequestHandler | undefined): void {
    this.handler = handler;
  }

  /**
   * Called after each datagram is handled, with its peer and key: any datagram from a device proves it is
   * awake and where it is now (queue mode, NAT rebinding), not only Register and Update.
   */
  setUplinkListener(listener: ((peer: Peer, peerKey: string) => void) | undefined): void {
    this.uplink = listener;
  }

  /** Replaces CoapEndpointOptions.adoptResponse (undefined: unknown tokens get RST at once). */
  setAdoptResponse(adopt: AdoptResponse | undefined): void {
    this.adoptResponse = adopt;
  }

  /** Replaces CoapEndpointOptions.block1Gate. */
  setBlock1Gate(gate: Block1Gate | undefined): void {
    this.block1Gate = gate;
  }

  /** Replaces CoapEndpointOptions.requestBodyLimit (per-resource caps of Block1 uploads). */
  setRequestBodyLimit(limit: RequestBodyLimit | undefined): void {
    this.requestBodyLimit = limit;
  }

  /** Block1 uploads in progress, the bytes they buffer, and their evictions and refusals. */
  get block1Status(): { transfers: number; bufferedBytes: number; evicted: number; tooLarge: number } {
    return {
      transfers: this.block1.size,
      bufferedBytes: this.block1.bufferedBytes,
      ...this.block1.counters,
    };
  }

  peerKey(peer: Peer): string {
    return this.transport.peerKey?.(peer) ?? defaultPeerKey(peer);
  }

  /** Whether a confirmable message to `peer` awaits its ACK (a receive queue serves such peers first). */
  awaitsAnswerFrom(peer: Peer): boolean {
    return this.outstanding.has(this.peerKey(peer));
  }

  // ---------------------------------------------------------------- client API

  /**
   * Sends a request and resolves with its response. Payloads larger than the block size go out
   * with Block1, and a Block2 response is fetched to the end (RFC 7959). Rejects with
   * CoapTimeoutError, CoapResetError or CoapExchangeError.
   */
  async request(peer: Peer, req: CoapRequest, opts: RequestOptions = {}): Promise<CoapResponse> {
    const base = this.buildRequest(req);
    const first = await this.sendWithBlock1(peer, base, opts, req.token);
    return this.completeBlock2(peer, base, first, opts);
  }

  /** RFC 7252 section 4.3: CoAP ping, an empty CON answered by RST. Resolves with the round-trip time. */
  ping(peer: Peer): Promise<number> {
    const start = this.now();
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new CoapExchangeError('closed', 'endpoint closed'));
      const msg = createMessage({ type: CoapType.CON, code: CoapCode.EMPTY });
      const done = (): void => resolve(this.now() - start);
      this.sendConfirmable(this.peerKey(peer), peer, msg, { onAck: done, onReset: done, onFail: reject });
    });
  }

  /** RFC 7641 section 3: registers with Observe=0 and calls onNotification for each newer notification. */
  async observe(
    peer: Peer,
    req: CoapRequest,
    onNotification: (res: CoapResponse) => void,
    opts: RequestOptions = {},
  ): Promise<ObservationHandle> {
    const token = req.token ?? this.newToken();
    const { key, register, obs, control } = this.prepareObservation(peer, req, token, onNotification, opts);
    const first = await this.exchange(peer, register, opts, token, undefined, (msg) => {
      // Registered before the promise settles, so no notification can slip between the two.
      const seq = getObserve(msg);
      if (seq !== undefined && isSuccess(msg.code)) {
        obs.order.accept(seq, this.now());
        this.observations.set(key, obs);
      }
    });
    const established = this.observations.get(key) === obs;
    const response = await this.completeBlock2(peer, obs.base, first, opts);
    return { response, established, ...control };
  }

  /**
   * Registers an observation whose GET/FETCH with Observe=0 (`req` without Observe) some other endpoint
   * sent, e.g. a cluster node that crashed: from now on it is matched exactly as observe() matches its own
   * after the first response. Sends nothing; the next notification is accepted whatever its number
   * (RFC 7641 section 3.4: no earlier one was seen here).
   */
  resumeObservation(
    peer: Peer,
    req: CoapRequest,
    token: Buffer,
    onNotification: (res: CoapResponse) => void,
    opts: RequestOptions = {},
  ): ObservationControl {
    const { key, obs, control } = this.prepareObservation(
      peer,
      req,
      Buffer.from(token),
      onNotification,
      opts,
    );
    this.observations.set(key, obs);
    return control;
  }

  // ---------------------------------------------------------------- server API

  /**
   * RFC 7641 section 4.2: sends a notification to every observer of `resource` ("/a/b" or
   * segments). Resolves with the number of observers notified.
   */
  async notify(resource: string | string[], opts: NotifyOptions = {}): Promise<number> {
    const key = resourceKey(typeof resource === 'string' ? splitPath(resource) : resource);
    const list = this.observers.forResource(key);
    await Promise.all(list.map((o) => this.sendNotification(o, opts)));
    return list.length;
  }

  /** The current observers (of one resource when given). */
  listObservers(
    resource?: string | string[],
  ): { peerKey: string; peer: Peer; token: Buffer; resource: string }[] {
    const list =
      resource === undefined
        ? this.observers.all()
        : this.observers.forResource(
            resourceKey(typeof resource === 'string' ? splitPath(resource) : resource),
          );
    return list.map((o) => ({
      peerKey: o.peerKey,
      peer: this.latestPeers.get(o.peerKey) ?? o.request.peer,
      token: o.token,
      resource: o.resource,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.transmissions.values()) if (t.timer) clearTimeout(t.timer);
    for (const q of this.queues.values()) for (const t of q) t.state = 'done';
    for (const timer of this.serverTimers) clearTimeout(timer);
    const err = new CoapExchangeError('closed', 'endpoint closed');
    for (const ex of [...this.exchanges.values()]) ex.fail(err);
    this.transmissions.clear();
    this.queues.clear();
    this.outstanding.clear();
    this.nonSent.clear();
    this.observations.clear();
    this.adopting.clear();
    this.observers.clear();
    this.block1.clear();
    this.block2.clear();
    this.dedup.clear();
    await this.transport.close();
  }

  // ---------------------------------------------------------------- message layer: receiving

  private onDatagram(data: Buffer, peer: Peer): void {
    this.stats.datagramsIn++;
    if (this.closed) return;
    // The peer's key, computed once per datagram for everything below and for the uplink listener.
    const peerKey = this.peerKey(peer);
    // The one catch boundary per datagram: bad network input never throws out of here.
    try {
      this.receive(data, peer, peerKey);
    } catch (err) {
      this.stats.internalErrors++;
      this.log.warn('coap: datagram handling failed', { peer: peerKey, error: String(err) });
    }
    if (this.uplink !== undefined) {
      try {
        this.uplink(peer, peerKey);
      } catch (err) {
        this.log.warn('coap: uplink listener failed', { peer: peerKey, error: String(err) });
      }
    }
  }

  private receive(data: Buffer, peer: Peer, peerKey: string): void {
    this.rememberPeer(peerKey, peer);
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
    if (msg.type === CoapType.ACK) return this.receiveAck(msg, peer, peerKey);
    if (msg.type === CoapType.RST) return this.receiveRst(msg, peerKey);
    if (msg.code === CoapCode.EMPTY) {
      // RFC 7252 section 4.3: an empty CON is a ping, answered with RST; an empty NON is ignored.
      if (msg.type === CoapType.CON) this.sendRst(peer, msg.messageId);
      return;
    }
    const dkey = `${peerKey}#${msg.messageId}`;
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
    if (isRequestCode(msg.code)) {
      this.serveRequest(msg, peer, peerKey, entry).catch((err: unknown) => {
        this.stats.internalErrors++;
        this.log.warn('coap: request handling failed', { peer: peerKey, error: String(err) });
      });
    } else if (isResponseCode(msg.code)) {
      this.receiveResponse(msg, peer, peerKey, entry);
    } else if (msg.type === CoapType.CON) {
      // Reserved code classes (RFC 7252 section 12.1): reject.
      entry.reply = this.sendRst(peer, msg.messageId);
    }
  }

  private receiveAck(msg: CoapMessage, peer: Peer, peerKey: string): void {
    const t = this.transmissions.get(`${peerKey}#${msg.messageId}`);
    if (t !== undefined) {
      this.finishTransmission(t);
      t.onAck(msg);
    }
    // RFC 7252 section 5.2.1: a piggybacked response matches by token as well.
    if (msg.code !== CoapCode.EMPTY && isResponseCode(msg.code)) this.deliverResponse(msg, peer, peerKey);
  }

  private receiveRst(msg: CoapMessage, peerKey: string): void {
    this.stats.resetsReceived++;
    const key = `${peerKey}#${msg.messageId}`;
    const t = this.transmissions.get(key);
    if (t !== undefined) {
      this.finishTransmission(t);
      t.onReset();
      return;
    }
    const non = this.nonSent.get(key);
    if (non !== undefined) {
      this.nonSent.delete(key);
      non.onReset();
    }
  }

  private receiveResponse(msg: CoapMessage, peer: Peer, peerKey: string, entry: DedupEntry): void {
    const key = `${peerKey}#${msg.token.toString('hex')}`;
    if (this.exchanges.has(key) || this.observations.has(key)) {
      return this.acceptResponse(msg, peer, peerKey, entry);
    }
    if (this.adoptResponse !== undefined && msg.token.length > 0) {
      return this.adoptOrReject(key, msg, peer, peerKey, entry);
    }
    this.rejectResponse(msg, peer, entry);
  }

  private acceptResponse(msg: CoapMessage, peer: Peer, peerKey: string, entry: DedupEntry): void {
    if (msg.type === CoapType.CON) entry.reply = this.sendEmpty(CoapType.ACK, peer, msg.messageId);
    this.deliverResponse(msg, peer, peerKey);
  }

  private rejectResponse(msg: CoapMessage, peer: Peer, entry: DedupEntry): void {
    // RFC 7252 section 4.2 and RFC 7641 section 3.6: reject a response nobody waits for.
    this.stats.unmatched++;
    entry.reply = this.sendRst(peer, msg.messageId);
  }

  /**
   * An unknown token may be an observation another node started: ask adoptResponse before the RST.
   * Meanwhile the dedup entry has no reply, so a retransmitted CON is dropped (RFC 7252 section 4.5) and
   * answered from it once decided; later responses with the token wait for the same lookup, in order.
   */
  private adoptOrReject(key: string, msg: CoapMessage, peer: Peer, peerKey: string, entry: DedupEntry): void {
    // Bounded: a flood of made-up tokens must not pile up lookups and waiting messages.
    if (this.adoptionsWaiting >= this.maxPendingAdoptions) return this.rejectResponse(msg, peer, entry);
    let decision = this.adopting.get(key);
    if (decision === undefined) {
      const lookup = this.askAdoption(key, msg.token, peer, peerKey);
      this.adopting.set(key, lookup);
      void lookup.then(() => {
        if (this.adopting.get(key) === lookup) this.adopting.delete(key);
      });
      decision = lookup;
    }
    this.adoptionsWaiting++;
    decision
      .then((adopted) => {
        this.adoptionsWaiting--;
        if (this.closed) return;
        const to = this.peerFor(peerKey, peer);
        // Known now only if adopted and not cancelled meanwhile (RFC 7641 3.6: reactive cancel).
        const known = this.observations.has(key) || this.exchanges.has(key);
        if (adopted && known) this.acceptResponse(msg, to, peerKey, entry);
        else this.rejectResponse(msg, to, entry);
      })
      .catch((err: unknown) => {
        this.stats.internalErrors++;
        this.log.warn('coap: adopted response handling failed', { peer: peerKey, error: String(err) });
      });
  }

  /** adoptResponse's answer; never rejects. */
  private async askAdoption(key: string, token: Buffer, peer: Peer, peerKey: string): Promise<boolean> {
    const adopt = this.adoptResponse;
    if (adopt === undefined) return false;
    try {
      if ((await adopt(Buffer.from(token), peer, peerKey)) !== true) return false;
    } catch (err) {
      this.log.warn('coap: adoptResponse failed', { peer: peerKey, error: String(err) });
      return false;
    }
    if (!this.observations.has(key)) {
      this.log.warn('coap: adoptResponse resolved true without resumeObservation', { peer: peerKey });
      return false;
    }
    this.stats.adoptions++;
    return true;
  }

  private deliverResponse(msg: CoapMessage, peer: Peer, peerKey: string): void {
    const key = `${peerKey}#${msg.token.toString('hex')}`;
    const ex = this.exchanges.get(key);
    if (ex !== undefined && ex.accepts(msg)) return ex.deliver(msg, peer);
    const obs = this.observations.get(key);
    if (obs !== undefined) return this.receiveNotification(key, obs, msg, peer);
    this.stats.unmatched++;
  }

  private receiveNotification(key: string, obs: ClientObservation, msg: CoapMessage, peer: Peer): void {
    obs.peer = peer;
    const seq = getObserve(msg);
    if (seq === undefined || !isSuccess(msg.code)) {
      // RFC 7641 section 3.2: an error or a response without Observe ends the observation.
      this.observations.delete(key);
    } else if (!obs.order.accept(seq, this.now())) {
      this.stats.staleNotifications++;
      return;
    }
    let block: BlockValue | undefined;
    try {
      block = readBlock(msg, OptionNumber.BLOCK2);
    } catch {
      block = undefined;
    }
    const emit = (res: CoapResponse): void => {
      try {
        obs.onNotification(res);
      } catch (err) {
        this.log.warn('coap: notification listener threw', { error: String(err) });
      }
    };
    if (block?.more) {
      // RFC 7959 section 2.3: the rest of a notification's body is fetched with plain GETs.
      this.completeBlock2(peer, obs.base, { msg, peer }, {}).then(emit, (err: unknown) =>
        this.log.debug('coap: notification block fetch failed', { error: String(err) }),
      );
    } else {
      emit(this.toResponse(msg, peer, msg.payload));
    }
  }

  // ---------------------------------------------------------------- server side

  private async serveRequest(
    msg: CoapMessage,
    peer: Peer,
    peerKey: string,
    entry: DedupEntry,
  ): Promise<void> {
    const con = msg.type === CoapType.CON;
    const bad = findBadOption(msg, true);
    if (bad !== undefined) {
      this.stats.badOptions++;
      // RFC 7252 section 5.4.1: 4.02 for a CON request; a NON one is rejected (section 4.3).
      if (!con) return void this.sendRst(peer, msg.messageId);
      const parts = {
        code: CoapCode.BAD_OPTION,
        options: [],
        payload: Buffer.from(`option ${bad.number} ${bad.reason}`),
      };
      return this.sendResponse(msg, parts, peerKey, peer, entry, false);
    }
    let emptyAckSent = false;
    let timer: Timer | undefined;
    if (con) {
      // RFC 7252 section 5.2.2: a slow handler gets an empty ACK now and a separate response later.
      timer = setTimeout(() => {
        this.serverTimers.delete(timer!);
        if (this.closed) return;
        emptyAckSent = true;
        entry.reply = this.sendEmpty(CoapType.ACK, this.peerFor(peerKey, peer), msg.messageId);
      }, this.separateResponseDelay);
      this.serverTimers.add(timer);
    }
    let parts: ResponseParts;
    try {
      parts = await this.produceResponse(msg, peer, peerKey);
    } finally {
      if (timer !== undefined) {
        clearTimeout(timer);
        this.serverTimers.delete(timer);
      }
    }
    if (this.closed) return;
    this.sendResponse(msg, parts, peerKey, peer, entry, emptyAckSent);
  }

  private sendResponse(
    req: CoapMessage,
    parts: ResponseParts,
    peerKey: string,
    from: Peer,
    entry: DedupEntry,
    emptyAckSent: boolean,
  ): void {
    const con = req.type === CoapType.CON;
    const peer = this.peerFor(peerKey, from);
    if (suppressesResponse(getNoResponse(req), parts.code)) {
      // RFC 7967 section 2: no response, but a CON still needs its ACK.
      if (con && !emptyAckSent) entry.reply = this.sendEmpty(CoapType.ACK, peer, req.messageId);
      return;
    }
    const res: CoapMessage = {
      type: CoapType.ACK,
      code: parts.code,
      messageId: req.messageId,
      token: req.token,
      options: parts.options,
      payload: parts.payload,
    };
    if (con && !emptyAckSent && parts.confirmable !== true) {
      const data = encodeMessage(res);
      entry.reply = data;
      this.sendRaw(data, peer);
    } else if (con || parts.confirmable === true) {
      // Section 5.2.2: an empty ACK first when the response must itself be Confirmable.
      if (con && !emptyAckSent) entry.reply = this.sendEmpty(CoapType.ACK, peer, req.messageId);
      res.type = CoapType.CON;
      const onDone = (): void => undefined;
      this.sendConfirmable(peerKey, peer, res, {
        onAck: onDone,
        onReset: onDone,
        onFail: (err) => this.log.debug('coap: separate response not acknowledged', { error: String(err) }),
      });
    } else {
      res.type = CoapType.NON;
      res.messageId = this.allocateMid();
      this.sendRaw(encodeMessage(res), peer);
    }
  }

  private buildIncoming(msg: CoapMessage, peer: Peer, peerKey: string): IncomingRequest {
    return {
      peer,
      peerKey,
      code: msg.code,
      confirmable: msg.type === CoapType.CON,
      token: msg.token,
      path: getUriPath(msg),
      query: getUriQuery(msg),
      options: msg.options,
      payload: msg.payload,
      contentFormat: getContentFormat(msg),
      accept: getAccept(msg),
      observe: getObserve(msg),
      message: msg,
    };
  }

  private async produceResponse(msg: CoapMessage, peer: Peer, peerKey: string): Promise<ResponseParts> {
    const req = this.buildIncoming(msg, peer, peerKey);
    const transferKey = `${peerKey} ${msg.code} ${req.path.join('/')}?${req.query.join('&')}`;
    let block1: BlockValue | undefined;
    let block2: BlockValue | undefined;
    try {
      block1 = readBlock(msg, OptionNumber.BLOCK1);
      block2 = readBlock(msg, OptionNumber.BLOCK2);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return { code: CoapCode.BAD_OPTION, options: [], payload: Buffer.from(err.message) };
    }
    let block1Ack: BlockValue | undefined;
    if (block1 !== undefined) {
      if (block1.num === 0 && this.block1Gate !== undefined) {
        // RFC 9175 section 2.4 item 3: reachability before any state (nothing buffered yet).
        const refused = this.block1Gate(req);
        if (refused !== undefined) return this.toParts(refused);
      }
      const size1 = getUintOption(msg, OptionNumber.SIZE1);
      const maxBody = Math.min(
        this.requestBodyLimit?.(req.path, msg.code) ?? this.limits.maxBodySize,
        this.limits.maxBodySize,
      );
      const r = this.block1.add(
        transferKey,
        peerKey,
        block1,
        msg.payload,
        this.szx,
        this.now(),
        size1,
        maxBody,
      );
      switch (r.kind) {
        case 'continue':
          // RFC 7959 section 2.5: 2.31 Continue acknowledges one block.
          return {
            code: CoapCode.CONTINUE,
            options: [{ number: OptionNumber.BLOCK1, value: encodeBlock(r.ack) }],
            payload: EMPTY,
          };
        case 'incomplete':
          return { code: CoapCode.REQUEST_ENTITY_INCOMPLETE, options: [], payload: EMPTY };
        case 'too-large':
          // RFC 7959 section 2.9.3: Size1 tells the client the largest body we take.
          return {
            code: CoapCode.REQUEST_ENTITY_TOO_LARGE,
            options: [{ number: OptionNumber.SIZE1, value: encodeUint(maxBody) }],
            payload: EMPTY,
          };
        case 'complete':
          req.payload = r.body;
          block1Ack = r.ack;
      }
    }
    if (block2 !== undefined && block2.num > 0) {
      const cached = this.block2.get<ResponseParts>(transferKey, this.now());
      if (cached !== undefined) {
        return this.applyBlock2({ ...cached.template, payload: cached.body }, block2, msg, transferKey);
      }
    }
    const isObservable = msg.code === CoapCode.GET || msg.code === CoapCode.FETCH;
    const oKey = observerKey(peerKey, msg.token);
    if (isObservable && req.observe === 1) this.observers.remove(oKey);
    const out = await this.runHandler(req);
    const parts = this.toParts(out);
    if (block1Ack !== undefined)
      parts.options.push({ number: OptionNumber.BLOCK1, value: encodeBlock(block1Ack) });
    if (isObservable && req.observe === 0 && (block2 === undefined || block2.num === 0)) {
      if (isSuccess(parts.code) && out.observable !== false) {
        const obs: Observer = {
          key: oKey,
          peerKey,
          token: Buffer.from(msg.token),
          resource: resourceKey(req.path),
          request: req,
          seq: 0,
          lastConAt: this.now(),
          szx: block2?.szx,
        };
        if (this.observers.add(obs)) {
          parts.options.push({
            number: OptionNumber.OBSERVE,
            value: encodeUint(this.observers.nextSeq(obs)),
          });
        }
      } else {
        // RFC 7641 section 4.2: an error response ends the observation.
        this.observers.remove(oKey);
      }
    }
    return this.applyBlock2(parts, block2, msg, transferKey);
  }

  private async runHandler(req: IncomingRequest): Promise<OutgoingResponse> {
    if (this.handler === undefined) return { code: CoapCode.NOT_FOUND };
    try {
      return await this.handler(req);
    } catch (err) {
      this.stats.handlerErrors++;
      this.log.warn('coap: handler threw', { peer: req.peerKey, error: String(err) });
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    }
  }

  private toParts(out: OutgoingResponse): ResponseParts {
    const options = (out.options ?? []).map((o) => ({ number: o.number, value: o.value }));
    const parts: ResponseParts = {
      code: out.code,
      options,
      payload: typeof out.payload === 'string' ? Buffer.from(out.payload, 'utf8') : (out.payload ?? EMPTY),
      ...(out.confirmable === true ? { confirmable: true } : {}),
    };
    if (out.contentFormat !== undefined) {
      parts.options = parts.options.filter((o) => o.number !== OptionNumber.CONTENT_FORMAT);
      parts.options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(out.contentFormat) });
    }
    return parts;
  }

  /** RFC 7959 section 2.4: one block of a response, honouring the client's (smaller) SZX. */
  private applyBlock2(
    parts: ResponseParts,
    requested: BlockValue | undefined,
    req: CoapMessage,
    transferKey: string,
  ): ResponseParts {
    const szx = Math.min(requested?.szx ?? this.szx, this.szx);
    const size = blockSize(szx);
    const body = parts.payload;
    if (requested === undefined && body.length <= size) return parts;
    const num = requested?.num ?? 0;
    const offset = num * size;
    if (num > 0 && offset >= body.length) {
      return { code: CoapCode.BAD_OPTION, options: [], payload: Buffer.from('block number out of range') };
    }
    const more = offset + size < body.length;
    const options = parts.options.filter(
      (o) => o.number !== OptionNumber.BLOCK2 && o.number !== OptionNumber.SIZE2,
    );
    options.push({ number: OptionNumber.BLOCK2, value: encodeBlock({ num, more, szx }) });
    // RFC 7959 section 4: Size2 when the request asked for it (Size2 0) or on the first block.
    if (getOption(req, OptionNumber.SIZE2) !== undefined || num === 0) {
      options.push({ number: OptionNumber.SIZE2, value: encodeUint(body.length) });
    }
    if (isSuccess(parts.code) && more) {
      const template: ResponseParts = {
        code: parts.code,
        options: parts.options.filter((o) => o.number !== OptionNumber.OBSERVE),
        payload: EMPTY,
      };
      this.block2.set(transferKey, body, template, this.now());
    } else if (!more) {
      this.block2.delete(transferKey);
    }
    const blockOptions = num > 0 ? options.filter((o) => o.number !== OptionNumber.OBSERVE) : options;
    return {
      code: parts.code,
      options: blockOptions,
      payload: body.subarray(offset, offset + size),
      ...(parts.confirmable === true ? { confirmable: true } : {}),
    };
  }

  private async sendNotification(obs: Observer, opts: NotifyOptions): Promise<void> {
    const out = opts.response ?? (await this.runHandler(obs.request));
    if (this.closed || this.observers.get(obs.key) !== obs) return;
    const parts = this.toParts(out);
    if (isSuccess(parts.code)) {
      parts.options.push({ number: OptionNumber.OBSERVE, value: encodeUint(this.observers.nextSeq(obs)) });
    } else {
      // RFC 7641 section 4.2: a non-2.xx notification removes the observer.
      this.observers.remove(obs.key);
    }
    const req = obs.request.message;
    const transferKey = `${obs.peerKey} ${req.code} ${obs.request.path.join('/')}?${obs.request.query.join('&')}`;
    const requested = obs.szx !== undefined ? { num: 0, more: false, szx: obs.szx } : undefined;
    const shaped = this.applyBlock2(parts, requested, req, transferKey);
    const now = this.now();
    const con = opts.confirmable ?? now - obs.lastConAt >= this.conNotificationInterval;
    const peer = this.peerFor(obs.peerKey, obs.request.peer);
    const msg: CoapMessage = {
      type: con ? CoapType.CON : CoapType.NON,
      code: shaped.code,
      messageId: 0,
      token: obs.token,
      options: shaped.options,
      payload: shaped.payload,
    };
    // RFC 7641 sections 3.6 and 4.2: an RST or an unacknowledged CON notification removes the observer.
    const drop = (): void => {
      if (this.observers.get(obs.key) === obs) this.observers.remove(obs.key);
    };
    if (con) {
      obs.lastConAt = now;
      this.sendConfirmable(obs.peerKey, peer, msg, { onAck: () => undefined, onReset: drop, onFail: drop });
    } else {
      msg.messageId = this.allocateMid();
      this.trackNon(obs.peerKey, msg.messageId, drop);
      this.sendRaw(encodeMessage(msg), peer);
    }
  }

  // ---------------------------------------------------------------- client internals

  private buildRequest(req: CoapRequest): CoapMessage {
    const msg = createMessage({
      type: req.confirmable === false ? CoapType.NON : CoapType.CON,
      code: req.code ?? CoapCode.GET,
    });
    for (const o of req.options ?? []) addOption(msg, o.number, o.value);
    if (req.path !== undefined) setUriPath(msg, req.path);
    if (req.query !== undefined) setUriQuery(msg, req.query);
    if (req.accept !== undefined) setOption(msg, OptionNumber.ACCEPT, req.accept);
    if (req.contentFormat !== undefined) setOption(msg, OptionNumber.CONTENT_FORMAT, req.contentFormat);
    if (req.payload !== undefined) {
      msg.payload = typeof req.payload === 'string' ? Buffer.from(req.payload, 'utf8') : req.payload;
    }
    return msg;
  }

  private prepareObservation(
    peer: Peer,
    req: CoapRequest,
    token: Buffer,
    onNotification: (res: CoapResponse) => void,
    opts: RequestOptions,
  ): PreparedObservation {
    const register = this.buildRequest(req);
    setOption(register, OptionNumber.OBSERVE, 0);
    const key = `${this.peerKey(peer)}#${token.toString('hex')}`;
    const base = cloneMessage(register);
    removeOption(base, OptionNumber.OBSERVE);
    const obs: ClientObservation = { peer, base, order: new NotificationOrder(), onNotification };
    const cancel = async ({ proactive = false } = {}): Promise<void> => {
      if (this.observations.get(key) === obs) this.observations.delete(key);
      if (!proactive || this.closed) return;
      const dereg = cloneMessage(register);
      setOption(dereg, OptionNumber.OBSERVE, 1);
      // A notification may still carry this token: only a response without Observe ends the GET.
      await this.exchange(peer, dereg, opts, token, (m) => getObserve(m) === undefined);
    };
    return { key, register, obs, control: { token, cancel } };
  }

  private newToken(): Buffer {
    return this.tokenLength === 0 ? EMPTY : this.randomBytes(this.tokenLength);
  }

  /** RFC 7959 section 2.5: a body larger than the block size goes out block by block. */
  private async sendWithBlock1(
    peer: Peer,
    base: CoapMessage,
    opts: RequestOptions,
    token?: Buffer,
  ): Promise<Received> {
    const body = base.payload;
    let szx = this.szx;
    if (body.length <= blockSize(szx)) return this.exchangeAnsweringEcho(peer, base, opts, token);
    let offset = 0;
    while (true) {
      const size = blockSize(szx);
      const num = offset / size;
      const chunk = body.subarray(offset, offset + size);
      const more = offset + chunk.length < body.length;
      const m = cloneMessage(base);
      m.payload = chunk;
      setOption(m, OptionNumber.BLOCK1, encodeBlock({ num, more, szx }));
      if (num === 0) setOption(m, OptionNumber.SIZE1, body.length);
      const r = await this.exchangeAnsweringEcho(peer, m, opts, num === 0 ? token : undefined);
      if (!more || r.msg.code !== CoapCode.CONTINUE) return r;
      offset += chunk.length;
      let ack: BlockValue | undefined;
      try {
        ack = readBlock(r.msg, OptionNumber.BLOCK1);
      } catch {
        ack = undefined;
      }
      // The server may ask for smaller blocks; the byte offset stays (RFC 7959 section 2.5).
      if (ack !== undefined && ack.szx < szx) szx = ack.szx;
    }
  }

  /**
   * RFC 9175 section 2.3: a 4.01 Unauthorized carrying an Echo option asks the client to prove freshness or
   * reachability: the request is sent again, once, with that Echo value.
   */
  private async exchangeAnsweringEcho(
    peer: Peer,
    template: CoapMessage,
    opts: RequestOptions,
    token?: Buffer,
  ): Promise<Received> {
    const r = await this.exchange(peer, template, opts, token);
    if (r.msg.code !== CoapCode.UNAUTHORIZED) return r;
    const echo = getOption(r.msg, OptionNumber.ECHO);
    const sent = getOption(template, OptionNumber.ECHO);
    if (echo === undefined || (sent !== undefined && sent.equals(echo))) return r;
    const again = cloneMessage(template);
    setOption(again, OptionNumber.ECHO, echo);
    return this.exchange(peer, again, opts, token);
  }

  /** RFC 7959 section 2.4/3.1: fetches the remaining Block2 blocks after `first`. */
  private async completeBlock2(
    peer: Peer,
    base: CoapMessage,
    first: Received,
    opts: RequestOptions,
  ): Promise<CoapResponse> {
    let block: BlockValue | undefined;
    try {
      block = readBlock(first.msg, OptionNumber.BLOCK2);
    } catch {
      throw new CoapExchangeError('blockwise', 'response carries a malformed Block2 option');
    }
    if (block === undefined || !block.more) return this.toResponse(first.msg, first.peer, first.msg.payload);
    if (first.msg.payload.length !== blockSize(block.szx) || block.num !== 0) {
      throw new CoapExchangeError('blockwise', 'first Block2 block has the wrong size or number');
    }
    const etag = getETags(first.msg)[0];
    const parts = [first.msg.payload];
    let total = first.msg.payload.length;
    let szx = block.szx;
    let more = true;
    while (more) {
      if (total > this.limits.maxBodySize)
        throw new CoapExchangeError('blockwise', 'response body too large');
      const size = blockSize(szx);
      const m = cloneMessage(base);
      m.payload = EMPTY;
      removeOption(m, OptionNumber.BLOCK1);
      removeOption(m, OptionNumber.SIZE1);
      removeOption(m, OptionNumber.OBSERVE);
      setOption(m, OptionNumber.BLOCK2, encodeBlock({ num: total / size, more: false, szx }));
      const r = await this.exchange(peer, m, opts);
      let b: BlockValue | undefined;
      try {
        b = readBlock(r.msg, OptionNumber.BLOCK2);
      } catch {
        b = undefined;
      }
      if (!isSuccess(r.msg.code) || b === undefined || b.num * blockSize(b.szx) !== total) {
        throw new CoapExchangeError(
          'blockwise',
          `block at offset ${total} failed with ${formatCode(r.msg.code)}`,
        );
      }
      const tag = getETags(r.msg)[0];
      if (etag !== undefined && tag !== undefined && !etag.equals(tag)) {
        // RFC 7959 section 2.4: the representation changed under us.
        throw new CoapExchangeError('blockwise', 'ETag changed during a Block2 transfer');
      }
      if (b.more && r.msg.payload.length !== blockSize(b.szx)) {
        throw new CoapExchangeError('blockwise', 'a middle block has the wrong size');
      }
      parts.push(r.msg.payload);
      total += r.msg.payload.length;
      more = b.more;
      szx = b.szx;
    }
    return this.toResponse(first.msg, first.peer, Buffer.concat(parts, total));
  }

  private toResponse(msg: CoapMessage, peer: Peer, payload: Buffer): CoapResponse {
    return {
      peer,
      code: msg.code,
      options: msg.options,
      payload,
      contentFormat: getContentFormat(msg),
      observe: getObserve(msg),
      token: msg.token,
      message: msg,
    };
  }

  /** One request/response exchange (RFC 7252 section 5.3.2: matched by token and endpoint). */
  private exchange(
    peer: Peer,
    template: CoapMessage,
    opts: RequestOptions,
    token?: Buffer,
    accepts?: (msg: CoapMessage) => boolean,
    onMatched?: (msg: CoapMessage) => void,
  ): Promise<Received> {
    return new Promise<Received>((resolve, reject) => {
      if (this.closed) return reject(new CoapExchangeError('closed', 'endpoint closed'));
      const signal = opts.signal;
      if (signal?.aborted) return reject(new CoapExchangeError('cancelled', 'request aborted'));
      const msg = cloneMessage(template);
      const peerKey = this.peerKey(peer);
      msg.token = token ?? this.newToken();
      let key = `${peerKey}#${msg.token.toString('hex')}`;
      while (token === undefined && this.exchanges.has(key)) {
        msg.token = this.newToken();
        key = `${peerKey}#${msg.token.toString('hex')}`;
      }
      let tx: Transmission | undefined;
      const confirmable = msg.type === CoapType.CON;
      const timeout = opts.timeout ?? (confirmable ? this.times.exchangeLifetime : this.times.nonLifetime);
      const timer = setTimeout(() => ex.fail(new CoapTimeoutError('no response in time')), timeout);
      const onAbort = (): void => ex.fail(new CoapExchangeError('cancelled', 'request aborted'));
      const cleanup = (): void => {
        clearTimeout(timer);
        if (this.exchanges.get(key) === ex) this.exchanges.delete(key);
        if (tx !== undefined && tx.state !== 'done') this.finishTransmission(tx);
        signal?.removeEventListener('abort', onAbort);
      };
      const ex: ClientExchange = {
        accepts: accepts ?? (() => true),
        deliver: (m, p) => {
          cleanup();
          onMatched?.(m);
          resolve({ msg: m, peer: p });
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      this.exchanges.get(key)?.fail(new CoapExchangeError('cancelled', 'token reused by a new request'));
      this.exchanges.set(key, ex);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (confirmable) {
        tx = this.sendConfirmable(peerKey, peer, msg, {
          onAck: () => undefined,
          onReset: () => ex.fail(new CoapResetError()),
          onFail: (err) => ex.fail(err),
        });
      } else {
        msg.messageId = this.allocateMid();
        this.trackNon(peerKey, msg.messageId, () => ex.fail(new CoapResetError()));
        this.sendRaw(encodeMessage(msg), peer);
      }
    });
  }

  // ---------------------------------------------------------------- message layer: sending

  private allocateMid(): number {
    const mid = this.nextMid;
    this.nextMid = (mid + 1) & 0xffff;
    return mid;
  }

  private rememberPeer(peerKey: string, peer: Peer): void {
    this.latestPeers.delete(peerKey);
    this.latestPeers.set(peerKey, peer);
    if (this.latestPeers.size > this.maxPeers) {
      this.latestPeers.delete(this.latestPeers.keys().next().value as string);
    }
  }

  /** The address of the latest datagram received under this key (NAT rebinding, DTLS CID). */
  private peerFor(peerKey: string, fallback: Peer): Peer {
    return this.latestPeers.get(peerKey) ?? fallback;
  }

  private sendRaw(data: Buffer, peer: Peer): void {
    this.stats.datagramsOut++;
    this.transport.send(data, peer).catch((err: unknown) => {
      this.log.debug('coap: send failed', { peer: defaultPeerKey(peer), error: String(err) });
    });
  }

  private sendEmpty(type: CoapType.ACK | CoapType.RST, peer: Peer, messageId: number): Buffer {
    const data = encodeMessage(createMessage({ type, code: CoapCode.EMPTY, messageId }));
    if (type === CoapType.RST) this.stats.resetsSent++;
    this.sendRaw(data, peer);
    return data;
  }

  private sendRst(peer: Peer, messageId: number): Buffer {
    return this.sendEmpty(CoapType.RST, peer, messageId);
  }

  private trackNon(peerKey: string, messageId: number, onReset: () => void): void {
    const now = this.now();
    for (const [k, v] of this.nonSent) {
      if (v.expiresAt > now && this.nonSent.size < this.maxPeers) break;
      this.nonSent.delete(k);
    }
    this.nonSent.set(`${peerKey}#${messageId}`, { expiresAt: now + this.times.nonLifetime, onReset });
  }

  /** RFC 7252 sections 4.2 and 4.7: a CON with retransmission, at most NSTART outstanding per peer. */
  private sendConfirmable(
    peerKey: string,
    peer: Peer,
    msg: CoapMessage,
    h: TransmissionHandlers,
  ): Transmission {
    msg.messageId = this.allocateMid();
    const base = this.params.ackTimeout;
    const t: Transmission = {
      ...h,
      key: `${peerKey}#${msg.messageId}`,
      peerKey,
      peer,
      data: encodeMessage(msg),
      retransmits: 0,
      // Section 4.2: initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
      timeout: base + this.random() * base * (this.params.ackRandomFactor - 1),
      state: 'queued',
    };
    this.transmissions.set(t.key, t);
    if ((this.outstanding.get(peerKey) ?? 0) < this.params.nstart) {
      this.startTransmission(t);
    } else {
      let q = this.queues.get(peerKey);
      if (q === undefined) this.queues.set(peerKey, (q = []));
      q.push(t);
    }
    return t;
  }

  private startTransmission(t: Transmission): void {
    t.state = 'sent';
    this.outstanding.set(t.peerKey, (this.outstanding.get(t.peerKey) ?? 0) + 1);
    this.sendRaw(t.data, this.peerFor(t.peerKey, t.peer));
    t.timer = setTimeout(() => this.onRetransmitTimer(t), t.timeout);
  }

  private onRetransmitTimer(t: Transmission): void {
    if (t.state !== 'sent' || this.closed) return;
    if (t.retransmits >= this.params.maxRetransmit) {
      this.stats.transmitTimeouts++;
      this.finishTransmission(t);
      t.onFail(new CoapTimeoutError(`no ACK after ${t.retransmits} retransmissions`));
      return;
    }
    // Section 4.2: the timeout doubles with each retransmission.
    t.retransmits++;
    t.timeout *= 2;
    this.stats.retransmissions++;
    this.sendRaw(t.data, this.peerFor(t.peerKey, t.peer));
    t.timer = setTimeout(() => this.onRetransmitTimer(t), t.timeout);
  }

  private finishTransmission(t: Transmission): void {
    const wasSent = t.state === 'sent';
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.state = 'done';
    if (this.transmissions.get(t.key) === t) this.transmissions.delete(t.key);
    if (!wasSent) {
      const q = this.queues.get(t.peerKey);
      const i = q?.indexOf(t) ?? -1;
      if (q !== undefined && i >= 0) q.splice(i, 1);
      if (q?.length === 0) this.queues.delete(t.peerKey);
      return;
    }
    const n = (this.outstanding.get(t.peerKey) ?? 1) - 1;
    if (n > 0) this.outstanding.set(t.peerKey, n);
    else this.outstanding.delete(t.peerKey);
    const q = this.queues.get(t.peerKey);
    const next = q?.shift();
    if (q?.length === 0) this.queues.delete(t.peerKey);
    if (next !== undefined && !this.closed) this.startTransmission(next);
  }
}
