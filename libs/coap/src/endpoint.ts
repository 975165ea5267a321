// RFC 7252 sections 4 (message layer) and 5 (request/response), RFC 7641 (Observe), RFC 7959 (block-wise):
// one CoAP endpoint, client and server at once, over any DatagramTransport (UDP now, DTLS later). This file
// is the façade; the layers live in their own modules (see libs/coap/README.md).
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import { Adoption, type AdoptResponse } from './adoption';
import { type BlockValue, encodeBlock, szxForSize } from './block';
import { type BlockwiseLimits, DEFAULT_BLOCKWISE_LIMITS } from './blockwise';
import { BlockwiseClient, type ExchangeFn, readBlock, toResponse } from './blockwise-client';
import { type Block1Gate, BlockwiseServer, type RequestBodyLimit, transferKey } from './blockwise-server';
import { createMessage, encodeMessage } from './codec';
import { CoapCode, codeClass, isRequestCode } from './codes';
import type { DedupEntry } from './dedup';
import { CoapExchangeError } from './errors';
import type {
  CoapRequest,
  CoapRequestHandler,
  CoapResponse,
  IncomingRequest,
  OutgoingResponse,
  RequestOptions,
} from './exchange';
import { cloneMessage, ExchangeLayer, type Received } from './exchange-layer';
import { type CoapMessage, CoapType } from './message';
import { MessageLayer, type MessageLayerUpper } from './message-layer';
import { ObserveClient } from './observe-client';
import {
  DEFAULT_CON_NOTIFICATION_INTERVAL_MS,
  type NotifyOptions,
  ObserveServer,
  resourceKey,
} from './observe-server';
import {
  addOption,
  findBadOption,
  getAccept,
  getContentFormat,
  getNoResponse,
  getObserve,
  getOption,
  getUriPath,
  getUriQuery,
  OptionNumber,
  setOption,
  setUriPath,
  setUriQuery,
  splitPath,
  suppressesResponse,
} from './options';
import { type DerivedTimes, deriveTimes, resolveParams, type TransmissionParams } from './params';
import type { PeerState } from './peer-state';
import { badOption, EMPTY, type ResponseParts, toParts } from './response-parts';
import { IDENTITY_SEAM, type MessageSeam, type SeamPeer } from './seam';
import { PeriodicSweep, TimerWheel, type WheelEntry } from './timer-wheel';
import { TokenSource, tokenKey } from './token-source';
import { type DatagramTransport, defaultPeerKey, type Peer } from '@lwm2m/transport';

export type { AdoptResponse } from './adoption';
export type { Block1Gate, RequestBodyLimit } from './blockwise-server';

/**
 * Requests to resources that do their own RFC 7959 block handling: true hands each block to the handler as
 * it came (Block1/Block2 options untouched, nothing reassembled or cached), so a large body streams from
 * or to a store one block at a time (firmware images).
 */
export type StreamedBlocks = (path: readonly string[], code: number) => boolean;
export type { MessageSeam, SeamInbound, SeamPeer } from './seam';

const silentLogger: CoapLogger = { debug: () => undefined, warn: () => undefined };

export interface CoapLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

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
  /** See setStreamedBlocks. */
  streamedBlocks?: StreamedBlocks;
  /**
   * Transforms every request and response between the exchange layer and the message layer (seam.ts;
   * OSCORE, RFC 8613, goes there). Identity by default.
   */
  seam?: MessageSeam;
  /** Slot width of the endpoint's one timer, ms (default 10): retransmissions fire up to this late. */
  timerGranularity?: number;
}

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

/** The endpoint's one timer (tests, health checks). */
export interface CoapTimerStatus {
  /** Callbacks scheduled: retransmissions, exchange lifetimes, separate-response delays, sweeps. */
  entries: number;
  /** Whether its setTimeout is armed (false when idle). */
  armed: boolean;
  wakeups: number;
}

function isSuccess(code: number): boolean {
  return codeClass(code) === 2;
}

/**
 * The façade of the CoAP stack (libs/coap/README.md): the message layer (message-layer.ts), the seam
 * (seam.ts), the exchange layer (exchange-layer.ts), Observe client and server (observe-*.ts), block-wise
 * in both roles (blockwise-*.ts) and adoption of unknown tokens (adoption.ts), on one timer wheel.
 */
export class CoapEndpoint implements MessageLayerUpper {
  readonly stats: CoapEndpointStats = newCoapEndpointStats();
  readonly params: TransmissionParams;
  readonly times: DerivedTimes;

  private readonly transport: DatagramTransport;
  private handler?: CoapRequestHandler;
  private uplink?: (peer: Peer, peerKey: string) => void;
  private streamedBlocks?: StreamedBlocks;
  private readonly now: () => number;
  private readonly log: CoapLogger;
  private readonly tokenLength: number;
  private readonly tokens: (n: number) => Buffer;
  private readonly separateResponseDelay: number;
  private readonly seam: MessageSeam;
  private readonly wheel: TimerWheel;
  private readonly ml: MessageLayer;
  private readonly exchanges: ExchangeLayer;
  private readonly blockClient: BlockwiseClient;
  private readonly blockServer: BlockwiseServer;
  private readonly observeClient: ObserveClient;
  private readonly observeServer: ObserveServer;
  private readonly adoption: Adoption;
  private closed = false;

  constructor(opts: CoapEndpointOptions) {
    this.transport = opts.transport;
    this.handler = opts.handler;
    this.params = resolveParams(opts.params);
    this.times = deriveTimes(this.params);
    const random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silentLogger;
    this.tokenLength = opts.tokenLength ?? 8;
    if (!Number.isInteger(this.tokenLength) || this.tokenLength < 0 || this.tokenLength > 8) {
      throw new RangeError('tokenLength must be 0..8 (RFC 7252 section 5.3.1)');
    }
    if (opts.randomBytes !== undefined) {
      this.tokens = opts.randomBytes;
    } else {
      const pool = new TokenSource(cryptoRandomBytes);
      this.tokens = (n) => pool.take(n);
    }
    this.separateResponseDelay = opts.separateResponseDelay ?? 1000;
    this.seam = opts.seam ?? IDENTITY_SEAM;
    const szx = szxForSize(opts.blockSize ?? 1024);
    const limits = { ...DEFAULT_BLOCKWISE_LIMITS, ...opts.blockwise };
    this.wheel = new TimerWheel(opts.timerGranularity ?? 10);
    const sweep = new PeriodicSweep(this.wheel);
    this.ml = new MessageLayer({
      transport: this.transport,
      params: this.params,
      times: this.times,
      stats: this.stats,
      wheel: this.wheel,
      sweep,
      random,
      now: this.now,
      log: this.log,
      maxEntries: opts.maxDedupEntries ?? 10_000,
    });
    this.ml.setUpper(this);
    this.exchanges = new ExchangeLayer(this.ml, this.wheel, this.times, () => this.newToken(), this.seam);
    this.blockClient = new BlockwiseClient(szx, limits);
    this.blockServer = new BlockwiseServer(szx, limits, this.times.exchangeLifetime, this.now);
    this.blockServer.block1Gate = opts.block1Gate;
    this.blockServer.requestBodyLimit = opts.requestBodyLimit;
    this.streamedBlocks = opts.streamedBlocks;
    sweep.add(() => this.blockServer.sweep());
    this.observeClient = new ObserveClient({
      exchange: (peer, template, o, token, accepts) =>
        this.exchanges.exchange(peer, this.peerKey(peer), template, o, token, accepts),
      completeBlock2: (peer, base, first) => this.completeBlock2(peer, base, first, {}),
      isClosed: () => this.closed,
      now: this.now,
      onStale: () => void this.stats.staleNotifications++,
      log: this.log,
    });
    this.observeServer = new ObserveServer(
      opts.maxObservers ?? 10_000,
      opts.conNotificationInterval ?? DEFAULT_CON_NOTIFICATION_INTERVAL_MS,
      {
        runHandler: (req) => this.runHandler(req),
        applyBlock2: (parts, requested, req, key) => this.blockServer.applyBlock2(parts, requested, req, key),
        send: (peerKey, fallback, msg, con, drop) => {
          const ps = this.ml.peers.intern(peerKey, fallback, false);
          let out: CoapMessage;
          try {
            out = this.seam.outbound(msg, { key: peerKey, peer: ps.addressOr(fallback) });
          } catch (err) {
            // The seam can't protect it (e.g. no OSCORE sequence number now): nothing goes out in the
            // clear, and the observation ends like an unacknowledged one (RFC 7641 4.2).
            this.log.warn('coap: notification not sent', { peer: peerKey, error: String(err) });
            return drop();
          }
          if (con) {
            this.ml.sendConfirmable(ps, fallback, out, {
              onAck: () => undefined,
              onReset: drop,
              onFail: drop,
            });
          } else {
            this.ml.sendNon(ps, ps.addressOr(fallback), out, drop);
          }
        },
        isClosed: () => this.closed,
        now: this.now,
      },
    );
    this.adoption = new Adoption(opts.adoptResponse, opts.maxPendingAdoptions ?? 1000, {
      isObserved: (peerKey, tkey) => this.ml.peers.get(peerKey)?.observations.has(tkey) ?? false,
      onAdopted: () => void this.stats.adoptions++,
      log: this.log,
    });
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
    this.adoption.adopt = adopt;
  }

  /** Replaces CoapEndpointOptions.block1Gate. */
  setBlock1Gate(gate: Block1Gate | undefined): void {
    this.blockServer.block1Gate = gate;
  }

  /** Replaces CoapEndpointOptions.requestBodyLimit (per-resource caps of Block1 uploads). */
  setRequestBodyLimit(limit: RequestBodyLimit | undefined): void {
    this.blockServer.requestBodyLimit = limit;
  }

  /** Replaces CoapEndpointOptions.streamedBlocks (resources whose handler serves its own blocks). */
  setStreamedBlocks(streamed: StreamedBlocks | undefined): void {
    this.streamedBlocks = streamed;
  }

  /** Block1 uploads in progress, the bytes they buffer, and their evictions and refusals. */
  get block1Status(): { transfers: number; bufferedBytes: number; evicted: number; tooLarge: number } {
    const b = this.blockServer.block1;
    return { transfers: b.size, bufferedBytes: b.bufferedBytes, ...b.counters };
  }

  /** The one timer of this endpoint: how many callbacks it holds, whether it is armed. */
  get timerStatus(): CoapTimerStatus {
    return { entries: this.wheel.size, armed: this.wheel.armed, wakeups: this.wheel.wakeups };
  }

  /** The message layer's state: deduplication entries, CONs in flight or queued, peers known. */
  get messageLayerStatus(): { dedupEntries: number; transmissions: number; peers: number } {
    return {
      dedupEntries: this.ml.dedupSize,
      transmissions: this.ml.transmissionCount,
      peers: this.ml.peers.size,
    };
  }

  peerKey(peer: Peer): string {
    return this.transport.peerKey?.(peer) ?? defaultPeerKey(peer);
  }

  /** Whether a confirmable message to `peer` awaits its ACK (a receive queue serves such peers first). */
  awaitsAnswerFrom(peer: Peer): boolean {
    return this.ml.awaitsAnswerFrom(this.peerKey(peer));
  }

  // ---------------------------------------------------------------- client API

  /**
   * Sends a request and resolves with its response. Payloads larger than the block size go out
   * with Block1, and a Block2 response is fetched to the end (RFC 7959). Rejects with
   * CoapTimeoutError, CoapResetError or CoapExchangeError.
   */
  async request(peer: Peer, req: CoapRequest, opts: RequestOptions = {}): Promise<CoapResponse> {
    const base = this.buildRequest(req);
    if (opts.singleExchange === true) {
      // The caller drives RFC 7959 itself (its own Block1/Block2 options): one exchange, the block as is.
      const r = await this.exchangeAnsweringEcho(peer, base, opts, req.token);
      return toResponse(r.msg, r.peer, r.msg.payload);
    }
    const first = await this.blockClient.sendWithBlock1(
      this.exchangeAnsweringEcho,
      peer,
      base,
      opts,
      req.token,
    );
    return this.completeBlock2(peer, base, first, opts);
  }

  /** RFC 7252 section 4.3: CoAP ping, an empty CON answered by RST. Resolves with the round-trip time. */
  ping(peer: Peer): Promise<number> {
    const start = this.now();
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new CoapExchangeError('closed', 'endpoint closed'));
      const msg = createMessage({ type: CoapType.CON, code: CoapCode.EMPTY });
      const done = (): void => resolve(this.now() - start);
      const ps = this.ml.peers.intern(this.peerKey(peer), peer, false);
      this.ml.sendConfirmable(ps, peer, msg, { onAck: done, onReset: done, onFail: reject });
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
    const peerKey = this.peerKey(peer);
    const ps = this.ml.peers.intern(peerKey, peer, false);
    const register = this.buildRequest(req);
    setOption(register, OptionNumber.OBSERVE, 0);
    const { key, obs, cancel } = this.observeClient.prepare(ps, peer, register, token, onNotification, opts);
    const first = await this.exchanges.exchange(peer, peerKey, register, opts, token, undefined, (msg) => {
      // Registered before the promise settles, so no notification can slip between the two.
      const seq = getObserve(msg);
      if (seq !== undefined && isSuccess(msg.code)) {
        obs.order.accept(seq, this.now());
        this.ml.peers.intern(peerKey, peer, false).observations.set(key, obs);
      }
    });
    const established = this.ml.peers.get(peerKey)?.observations.get(key) === obs;
    const response = await this.completeBlock2(peer, obs.base, first, opts);
    return { response, established, token, cancel };
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
    const ps = this.ml.peers.intern(this.peerKey(peer), peer, false);
    const register = this.buildRequest(req);
    setOption(register, OptionNumber.OBSERVE, 0);
    const own = Buffer.from(token);
    const { key, obs, cancel } = this.observeClient.prepare(ps, peer, register, own, onNotification, opts);
    ps.observations.set(key, obs);
    return { token: own, cancel };
  }

  // ---------------------------------------------------------------- server API

  /**
   * RFC 7641 section 4.2: sends a notification to every observer of `resource` ("/a/b" or
   * segments). Resolves with the number of observers notified.
   */
  notify(resource: string | string[], opts: NotifyOptions = {}): Promise<number> {
    return this.observeServer.notify(resource, opts);
  }

  /** The current observers (of one resource when given). */
  listObservers(
    resource?: string | string[],
  ): { peerKey: string; peer: Peer; token: Buffer; resource: string }[] {
    const reg = this.observeServer.registry;
    const list =
      resource === undefined
        ? reg.all()
        : reg.forResource(resourceKey(typeof resource === 'string' ? splitPath(resource) : resource));
    return list.map((o) => ({
      peerKey: o.peerKey,
      peer: this.ml.peers.addressOf(o.peerKey, o.request.peer),
      token: o.token,
      resource: o.resource,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wheel.stop();
    // The message layer first: failing the exchanges must not let a queued CON go out (NSTART).
    this.ml.close();
    this.exchanges.close([...this.ml.peers.values()]);
    this.ml.clearPeers();
    this.adoption.clear();
    this.observeServer.registry.clear();
    this.blockServer.clear();
    await this.transport.close();
  }

  // ---------------------------------------------------------------- from the message layer

  private onDatagram(data: Buffer, peer: Peer): void {
    this.stats.datagramsIn++;
    if (this.closed) return;
    // The peer's key, computed once per datagram for everything below and for the uplink listener.
    const peerKey = this.peerKey(peer);
    // The one catch boundary per datagram: bad network input never throws out of here.
    try {
      this.ml.receive(data, peer, peerKey);
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

  /** @internal MessageLayerUpper: a deduplicated CON/NON request or response. */
  onMessage(raw: CoapMessage, ps: PeerState, from: Peer, entry: DedupEntry): void {
    const seen: SeamPeer = { key: ps.key, peer: from };
    const out = this.seam.inbound(raw, seen, (res) => this.seamReply(raw, res, from, entry));
    if (out instanceof Promise) {
      out.then(
        (msg) => {
          if (msg !== undefined && !this.closed) this.onInbound(msg, ps, seen.peer, entry);
        },
        (err: unknown) => {
          this.stats.internalErrors++;
          this.log.warn('coap: seam failed', { peer: ps.key, error: String(err) });
        },
      );
    } else if (out !== undefined) {
      this.onInbound(out, ps, seen.peer, entry);
    }
  }

  /** A seam's own answer to a request (seam.ts `reply`): piggybacked on a CON's ACK, else a NON. */
  private seamReply(req: CoapMessage, res: CoapMessage, peer: Peer, entry: DedupEntry): void {
    if (!isRequestCode(req.code) || this.closed) return;
    const msg: CoapMessage = { ...res, token: req.token };
    if (req.type === CoapType.CON) {
      msg.type = CoapType.ACK;
      msg.messageId = req.messageId;
      const data = encodeMessage(msg);
      entry.reply = data;
      this.ml.sendRaw(data, peer);
    } else {
      msg.type = CoapType.NON;
      const ps = this.ml.peers.intern(this.peerKey(peer), peer, false);
      this.ml.sendNon(ps, peer, msg);
    }
  }

  private onInbound(msg: CoapMessage, ps: PeerState, peer: Peer, entry: DedupEntry): void {
    if (isRequestCode(msg.code)) {
      this.serveRequest(msg, peer, ps.key, entry).catch((err: unknown) => {
        this.stats.internalErrors++;
        this.log.warn('coap: request handling failed', { peer: ps.key, error: String(err) });
      });
    } else {
      this.receiveResponse(msg, ps, peer, entry);
    }
  }

  /** @internal MessageLayerUpper: a response piggybacked on an ACK. */
  onPiggybacked(raw: CoapMessage, ps: PeerState, peer: Peer): void {
    const seen: SeamPeer = { key: ps.key, peer };
    const out = this.seam.inbound(raw, seen, () => undefined);
    if (out instanceof Promise) {
      out.then(
        (msg) => {
          if (msg !== undefined && !this.closed)
            this.deliverResponse(msg, ps, tokenKey(msg.token), seen.peer);
        },
        (err: unknown) => {
          this.stats.internalErrors++;
          this.log.warn('coap: seam failed', { peer: ps.key, error: String(err) });
        },
      );
    } else if (out !== undefined) {
      this.deliverResponse(out, ps, tokenKey(out.token), seen.peer);
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

  private newToken(): Buffer {
    return this.tokenLength === 0 ? EMPTY : this.tokens(this.tokenLength);
  }

  private readonly plainExchange: ExchangeFn = (peer, template, opts, token) =>
    this.exchanges.exchange(peer, this.peerKey(peer), template, opts, token);

  /**
   * RFC 9175 section 2.3: a 4.01 Unauthorized carrying an Echo option asks the client to prove freshness or
   * reachability: the request is sent again, once, with that Echo value.
   */
  private readonly exchangeAnsweringEcho: ExchangeFn = async (peer, template, opts, token) => {
    const r = await this.plainExchange(peer, template, opts, token);
    if (r.msg.code !== CoapCode.UNAUTHORIZED) return r;
    const echo = getOption(r.msg, OptionNumber.ECHO);
    const sent = getOption(template, OptionNumber.ECHO);
    if (echo === undefined || (sent !== undefined && sent.equals(echo))) return r;
    const again = cloneMessage(template);
    setOption(again, OptionNumber.ECHO, echo);
    return this.plainExchange(peer, again, opts, token);
  };

  private completeBlock2(peer: Peer, base: CoapMessage, first: Received, opts: RequestOptions) {
    return this.blockClient.completeBlock2(this.plainExchange, peer, base, first, opts);
  }

  private receiveResponse(msg: CoapMessage, ps: PeerState, peer: Peer, entry: DedupEntry): void {
    const tkey = tokenKey(msg.token);
    if (ps.exchanges.has(tkey) || ps.observations.has(tkey)) {
      return this.acceptResponse(msg, ps, tkey, peer, entry);
    }
    const pending = this.adoption.decide(ps, tkey, msg.token, peer);
    if (pending === undefined) return this.rejectResponse(msg, peer, entry);
    // Meanwhile the dedup entry has no reply, so a retransmitted CON is dropped (RFC 7252 section 4.5)
    // and answered from it once decided; later responses with the token wait for the same lookup.
    pending.decision
      .then((adopted) => {
        pending.done();
        if (this.closed) return;
        const now = this.ml.peers.intern(ps.key, peer, false);
        // Known now only if adopted and not cancelled meanwhile (RFC 7641 3.6: reactive cancel).
        const known = now.observations.has(tkey) || now.exchanges.has(tkey);
        const to = now.addressOr(peer);
        if (adopted && known) this.acceptResponse(msg, now, tkey, to, entry);
        else this.rejectResponse(msg, to, entry);
      })
      .catch((err: unknown) => {
        pending.done();
        this.stats.internalErrors++;
        this.log.warn('coap: adopted response handling failed', { peer: ps.key, error: String(err) });
      });
  }

  private acceptResponse(msg: CoapMessage, ps: PeerState, tkey: string, peer: Peer, entry: DedupEntry): void {
    if (msg.type === CoapType.CON) entry.reply = this.ml.sendEmpty(CoapType.ACK, peer, msg.messageId);
    this.deliverResponse(msg, ps, tkey, peer);
  }

  private rejectResponse(msg: CoapMessage, peer: Peer, entry: DedupEntry): void {
    // RFC 7252 section 4.2 and RFC 7641 section 3.6: reject a response nobody waits for.
    this.stats.unmatched++;
    entry.reply = this.ml.sendRst(peer, msg.messageId);
  }

  private deliverResponse(msg: CoapMessage, ps: PeerState, tkey: string, peer: Peer): void {
    const ex = ps.exchanges.get(tkey);
    if (ex !== undefined && ex.accepts(msg)) return ex.deliver(msg, peer);
    const obs = ps.observations.get(tkey);
    if (obs !== undefined) return this.observeClient.receive(ps, tkey, obs, msg, peer);
    this.stats.unmatched++;
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
      if (!con) return void this.ml.sendRst(peer, msg.messageId);
      return this.sendResponse(
        msg,
        badOption(`option ${bad.number} ${bad.reason}`),
        peerKey,
        peer,
        entry,
        false,
      );
    }
    let emptyAckSent = false;
    let timer: WheelEntry | undefined;
    if (con) {
      // RFC 7252 section 5.2.2: a slow handler gets an empty ACK now and a separate response later.
      timer = this.wheel.schedule(this.separateResponseDelay, () => {
        if (this.closed) return;
        emptyAckSent = true;
        const to = this.ml.peers.addressOf(peerKey, peer);
        entry.reply = this.ml.sendEmpty(CoapType.ACK, to, msg.messageId);
      });
    }
    let parts: ResponseParts;
    try {
      parts = await this.produceResponse(msg, peer, peerKey);
    } finally {
      timer?.cancel();
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
    const ps = this.ml.peers.intern(peerKey, from, false);
    const peer = ps.addressOr(from);
    if (suppressesResponse(getNoResponse(req), parts.code)) {
      // RFC 7967 section 2: no response, but a CON still needs its ACK.
      if (con && !emptyAckSent) entry.reply = this.ml.sendEmpty(CoapType.ACK, peer, req.messageId);
      return;
    }
    const plain: CoapMessage = {
      type: CoapType.ACK,
      code: parts.code,
      messageId: req.messageId,
      token: req.token,
      options: parts.options,
      payload: parts.payload,
    };
    const res = this.seam.outbound(plain, { key: peerKey, peer });
    if (con && !emptyAckSent && parts.confirmable !== true) {
      // Piggybacked (RFC 7252 section 5.2.1): the reply a duplicate of the request gets again.
      res.type = CoapType.ACK;
      res.messageId = req.messageId;
      const data = encodeMessage(res);
      entry.reply = data;
      this.ml.sendRaw(data, peer);
    } else if (con || parts.confirmable === true) {
      // Section 5.2.2: an empty ACK first when the response must itself be Confirmable.
      if (con && !emptyAckSent) entry.reply = this.ml.sendEmpty(CoapType.ACK, peer, req.messageId);
      const onDone = (): void => undefined;
      this.ml.sendConfirmable(ps, from, res, {
        onAck: onDone,
        onReset: onDone,
        onFail: (err) => this.log.debug('coap: separate response not acknowledged', { error: String(err) }),
      });
    } else {
      this.ml.sendNon(ps, peer, res);
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
    if (this.streamedBlocks?.(req.path, msg.code) === true) return toParts(await this.runHandler(req));
    let block1: BlockValue | undefined;
    let block2: BlockValue | undefined;
    try {
      block1 = readBlock(msg, OptionNumber.BLOCK1);
      block2 = readBlock(msg, OptionNumber.BLOCK2);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return badOption(err.message);
    }
    // Only block-wise requests need the transfer key (a string per request otherwise).
    const tkey =
      block1 !== undefined || block2 !== undefined ? transferKey(peerKey, msg.code, req.path, req.query) : '';
    let block1Ack: BlockValue | undefined;
    if (block1 !== undefined) {
      const r = this.blockServer.receiveBlock1(req, msg, block1, tkey);
      if ('respond' in r) return r.respond;
      req.payload = r.body;
      block1Ack = r.ack;
    }
    if (block2 !== undefined && block2.num > 0) {
      const cached = this.blockServer.cachedBlock2(block2, msg, tkey);
      if (cached !== undefined) return cached;
    }
    this.observeServer.beforeHandler(req, msg);
    const out = await this.runHandler(req);
    const parts = toParts(out);
    if (block1Ack !== undefined)
      parts.options.push({ number: OptionNumber.BLOCK1, value: encodeBlock(block1Ack) });
    this.observeServer.afterHandler(req, msg, out, parts, block2);
    const key =
      tkey === '' && this.blockServer.needsKey(parts, block2)
        ? transferKey(peerKey, msg.code, req.path, req.query)
        : tkey;
    return this.blockServer.applyBlock2(parts, block2, msg, key);
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
}
