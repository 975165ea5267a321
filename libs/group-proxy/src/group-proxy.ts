// draft-ietf-core-groupcomm-proxy: a forward- and reverse-proxy that takes one unicast request from an
// allow-listed client, forwards it to a CoAP group over IP multicast (or to the next proxy of a chain) and
// relays every response individually, each with a Reply-From option naming its origin server, for the
// time T' the client gave in Multicast-Timeout (sections 4.2, 4.4, 5, 6, 7, 8).
//
// Below CoAP's endpoint on purpose: libs/coap's CoapEndpoint answers a request once and takes one
// response per request, while this proxy sends many responses to one request and takes many from a group.
// Messages are libs/coap's codec and options; the network is two DatagramTransports (client side, group
// side), so a DTLS or OSCORE-aware transport on the client side brings the client's identity.
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  encodeUint,
  getObserve,
  getOption,
  getUintOption,
  isNoCacheKey,
  isRequestCode,
  isResponseCode,
  OptionNumber,
  codeClass,
  type CoapMessage,
  type CoapOption,
  type DatagramTransport,
  type Logger,
  type Peer,
} from '@lwm2m/coap';
import { createHash, randomBytes } from 'node:crypto';
import { type AllowRule, describeClient, isAllowed, isKnownClient } from './access';
import { type GroupProxyNumbers, resolveGroupProxyNumbers } from './numbers';
import { encodeReplyFrom, type ReplyFrom, type ReplyFromEncoding } from './reply-from';
import { proxiedTarget, type ProxiedTarget, TARGET_OPTIONS, TargetError } from './target';

/** One CoAP group the proxy serves. */
export interface ProxyGroup {
  name: string;
  /** IP multicast address and port of the group (section 4.2.1 step 5). */
  address: string;
  port: number;
  /**
   * Reverse-proxy (section 6): requests whose Uri-Path starts with these segments go to this group, with
   * the rest of the path. Absent: reachable only as a forward-proxy target (Proxy-Uri / Proxy-Scheme).
   */
  reversePath?: string[];
  /**
   * Chain of proxies (section 8): not the last hop. The request goes unicast to this proxy with Proxy-Uri
   * naming the group and a smaller Multicast-Timeout; its responses already carry Reply-From.
   */
  nextHop?: { address: string; port: number };
  /**
   * Section 7.1: the group's current members, when the deployment knows them (from its Group Manager, or
   * configured). Only then may the proxy answer a group request from its cache alone, and offer Group-ETag
   * revalidation (7.3).
   */
  members?: { address: string; port: number }[];
}

export interface GroupProxyStats {
  requests: number;
  malformed: number;
  unauthorized: number;
  missingTimeout: number;
  badTarget: number;
  forwarded: number;
  relayed: number;
  relayedFromCache: number;
  late: number;
  unmatched: number;
  earlyStops: number;
  clientResets: number;
  /** Observations ended because the client did not acknowledge a CON notification. */
  clientTimeouts: number;
  /** Section 7.3: group requests answered with one 2.03 Valid (Group-ETag matched). */
  validFromCache: number;
}

export interface GroupProxyOptions {
  /** Socket facing the clients (unicast, possibly DTLS: its Peer.identity identifies the client). */
  clientSide: DatagramTransport;
  /** Socket facing the groups: sends to the multicast address, receives the servers' unicast responses. */
  groupSide: DatagramTransport;
  groups: ProxyGroup[];
  allow: AllowRule[];
  /** Option numbers, by key or by current / -03 name (numbers.ts). */
  numbers?: Partial<GroupProxyNumbers> | Record<string, number>;
  /** Reply-From value form: 'cri' (current draft, default) or 'tp-info' (draft -03). */
  replyFromEncoding?: ReplyFromEncoding;
  /** T' is capped at this many seconds (default 120): a client can't hold proxy state for days. */
  maxTimeoutSeconds?: number;
  /** Chain (section 8.1): T'' = T' - this margin (default 1 s); T' <= margin is refused with 5.05. */
  chainMarginSeconds?: number;
  /** Section 7: cache responses to GET group requests (default true). */
  cache?: boolean;
  /** Bound of forwarded requests in flight (default 10 000); beyond it 5.03. */
  maxForwards?: number;
  /**
   * RFC 7641 4.5 and section 5.4 "Supporting Observe" (the proxy SHOULD verify the client's interest): a
   * relayed notification goes as CON when the last CON to that client is `intervalMs` old (default 24 h);
   * unacknowledged after `maxRetransmit` (4) retransmissions from `ackTimeoutMs` (2000) doubling, the
   * observation ends and the servers' next notifications get RST.
   */
  liveness?: { intervalMs?: number; ackTimeoutMs?: number; maxRetransmit?: number };
  logger?: Logger;
  now?: () => number;
}

/**
 * Where one client request's answers go: the proxy's own answer (an ACK or a NON: errors, or the empty ACK
 * of a CON) and every relayed response. UDP clients get datagrams; an in-process front end (the HTTP-to-CoAP
 * mapping of section 9) gets the messages through `submit()`.
 */
export interface ClientLeg {
  answer(msg: CoapMessage): void;
  relay(msg: CoapMessage): void;
  /** The forward ended: T' passed (and no observation is left), or the client stopped it. */
  ended?(): void;
}

interface Resolved {
  group: ProxyGroup;
  target?: ProxiedTarget;
  rest: string[];
  member?: { address: string; port: number };
}

interface CacheEntry {
  /** The relayed response (Reply-From included, section 5.4 step 1). */
  message: CoapMessage;
  server: string;
  expiresAt: number;
}

interface Forward {
  proxyToken: Buffer;
  leg: ClientLeg;
  clientKey: string;
  clientToken: Buffer;
  group: ProxyGroup;
  /** When T' expires (ms clock). */
  deadline: number;
  timer?: NodeJS.Timeout;
  cacheTimer?: NodeJS.Timeout;
  timedOut: boolean;
  /** Section 5.4 "Supporting Observe": servers whose 2.xx notification with Observe came in. */
  observing: Set<string>;
  /** Servers that answered this request (section 7.1: cached answers are only for the silent ones). */
  answered: Set<string>;
  /** MIDs of what we relayed, so a client RST names this forward (section 4.2.3). */
  relayedMids: Set<number>;
  cacheKey?: string;
  chained: boolean;
  done?: boolean;
  /** OBJ5 "indirectly via the proxy": a unicast request to one member; ends with its first response. */
  member?: { address: string; port: number };
  /** RFC 7641 4.5: when the last CON notification went to the client. */
  lastConAt: number;
  /** Keys of CON notifications not acknowledged yet. */
  cons: Set<string>;
}

const HEX = (b: Buffer): string => b.toString('hex');
const EXCHANGE_LIFETIME_MS = 247_000;
/** Bound of the deduplication memory: the oldest entry goes first. */
const MAX_SEEN = 50_000;
/** Message IDs of relayed responses remembered per forward (for the client's RST). */
const MAX_RELAYED_MIDS = 64;
/** Cache-Keys kept (section 7); the oldest goes first. */
const MAX_CACHE_KEYS = 10_000;
/** A unicast request through the proxy waits this long for its member (RFC 7252 MAX_TRANSMIT_WAIT-ish). */
const UNICAST_TIMEOUT_MS = 10_000;

function newStats(): GroupProxyStats {
  return {
    requests: 0,
    malformed: 0,
    unauthorized: 0,
    missingTimeout: 0,
    badTarget: 0,
    forwarded: 0,
    relayed: 0,
    relayedFromCache: 0,
    late: 0,
    unmatched: 0,
    earlyStops: 0,
    clientResets: 0,
    clientTimeouts: 0,
    validFromCache: 0,
  };
}

/** The proxy of draft-ietf-core-groupcomm-proxy over two datagram transports. */
export class GroupProxy {
  readonly stats: GroupProxyStats = newStats();
  readonly numbers: GroupProxyNumbers;
  private readonly opts: GroupProxyOptions;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly encoding: ReplyFromEncoding;
  private readonly maxTimeout: number;
  private readonly chainMargin: number;
  private readonly byProxyToken = new Map<string, Forward>();
  private readonly byClient = new Map<string, Forward>();
  private readonly byRelayedMid = new Map<string, Forward>();
  /** Client requests seen (RFC 7252 4.5 deduplication): key -> the answer we gave, if any. */
  private readonly seen = new Map<string, { at: number; answer?: Buffer }>();
  private readonly cache = new Map<string, Map<string, CacheEntry>>();
  /** Tokens freed at T' (or by the client), for telling late responses from strangers. */
  private readonly freed = new Map<string, number>();
  /** Responses from the group side already seen (server, MID, token), against retransmissions. */
  private readonly groupSeen = new Map<string, number>();
  /** Servers that answered a group request (address:port -> group name): the only unicast targets. */
  private readonly members = new Map<string, string>();
  /** CON notifications awaiting the client's ACK: clientKey#MID -> its retransmission timer. */
  private readonly pendingCon = new Map<string, { f: Forward; timer: NodeJS.Timeout }>();
  private mid = (Math.random() * 0x10000) | 0;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: GroupProxyOptions) {
    this.opts = opts;
    this.numbers = resolveGroupProxyNumbers(opts.numbers);
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? { warn: () => undefined };
    this.encoding = opts.replyFromEncoding ?? 'cri';
    this.maxTimeout = opts.maxTimeoutSeconds ?? 120;
    this.chainMargin = opts.chainMarginSeconds ?? 1;
    for (const g of opts.groups) {
      if (!g.name || !Number.isInteger(g.port)) throw new RangeError(`group ${g.name}: name and port needed`);
    }
    opts.clientSide.onDatagram((data, peer) => this.guard(() => this.onClientDatagram(data, peer)));
    opts.groupSide.onDatagram((data, peer) => this.guard(() => this.onGroupDatagram(data, peer)));
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  /**
   * Serves one more group (or replaces the one of that name): for an in-process client whose groups are
   * defined at run time (the api's multicast groups, submitGroupRequest).
   */
  addGroup(group: ProxyGroup): void {
    if (!group.name || !Number.isInteger(group.port)) throw new RangeError('group: name and port needed');
    const i = this.opts.groups.findIndex((g) => g.name === group.name);
    if (i >= 0) this.opts.groups[i] = group;
    else this.opts.groups.push(group);
  }

  /** Forwarded requests still collecting or observing. */
  get activeForwards(): number {
    return this.byProxyToken.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const f of [...this.byProxyToken.values()]) this.free(f);
  }

  // One catch boundary per datagram: bad input from one peer never stops the proxy.
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.malformed++;
      this.log.warn('group-proxy: datagram dropped', { error: String(err) });
    }
  }

  private nextMid(): number {
    this.mid = (this.mid + 1) & 0xffff;
    return this.mid;
  }

  private sendToClient(peer: Peer, msg: CoapMessage): void {
    void this.opts.clientSide.send(encodeMessage(msg), peer).catch(() => undefined);
  }

  private clientKey(peer: Peer): string {
    return this.opts.clientSide.peerKey?.(peer) ?? `${peer.address}:${peer.port}`;
  }

  // ---- client side -------------------------------------------------------------------------------------

  private onClientDatagram(data: Buffer, peer: Peer): void {
    if (this.closed) return;
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data);
    } catch {
      this.stats.malformed++;
      // RFC 7252 4.2/4.3: a malformed CON is answered with RST when its Message ID can be read.
      if (data.length >= 4 && data[0] >> 6 === 1 && ((data[0] >> 4) & 3) === CoapType.CON) {
        const rst = createMessage({ type: CoapType.RST, code: 0, messageId: data.readUInt16BE(2) });
        this.sendToClient(peer, rst);
      }
      return;
    }
    const key = this.clientKey(peer);
    if (msg.type === CoapType.RST) {
      // Section 4.2.3: an RST to a relayed response is a loss of interest.
      const f = this.byRelayedMid.get(`${key}#${msg.messageId}`);
      if (f) {
        this.stats.clientResets++;
        this.free(f);
      }
      return;
    }
    if (msg.type === CoapType.ACK) {
      const p = this.pendingCon.get(`${key}#${msg.messageId}`);
      if (p) {
        clearTimeout(p.timer);
        this.pendingCon.delete(`${key}#${msg.messageId}`);
        p.f.cons.delete(`${key}#${msg.messageId}`);
      }
      return;
    }
    if (!isRequestCode(msg.code)) return;
    const seenKey = `${key}#${msg.messageId}`;
    const prior = this.seen.get(seenKey);
    if (prior) {
      if (prior.answer) void this.opts.clientSide.send(prior.answer, peer).catch(() => undefined);
      return;
    }
    if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(seenKey, { at: this.now() });
    this.stats.requests++;
    this.onClientRequest(msg, peer, key, this.datagramLeg(peer, seenKey));
  }

  /** Answers the request itself (errors): piggybacked on the ACK of a CON, or a NON. */
  private answer(req: CoapMessage, leg: ClientLeg, code: number, options: CoapOption[], text?: string) {
    const con = req.type === CoapType.CON;
    leg.answer(
      createMessage({
        type: con ? CoapType.ACK : CoapType.NON,
        code,
        messageId: con ? req.messageId : this.nextMid(),
        token: req.token,
        options,
        // RFC 7252 5.9.2: a diagnostic payload with 4.xx/5.xx.
        payload: text ? Buffer.from(text) : Buffer.alloc(0),
      }),
    );
  }

  private emptyAck(req: CoapMessage, leg: ClientLeg): void {
    if (req.type !== CoapType.CON) return;
    leg.answer(createMessage({ type: CoapType.ACK, code: 0, messageId: req.messageId }));
  }

  /** The leg of a UDP (or DTLS) client: datagrams, and the answer kept for a duplicate request. */
  private datagramLeg(peer: Peer, seenKey: string): ClientLeg {
    return {
      answer: (msg) => {
        const bytes = encodeMessage(msg);
        const s = this.seen.get(seenKey);
        if (s) s.answer = bytes;
        void this.opts.clientSide.send(bytes, peer).catch(() => undefined);
      },
      relay: (msg) => this.sendToClient(peer, msg),
    };
  }

  /**
   * A request from an in-process front end (section 9: an HTTP-to-CoAP proxy), processed like one that came
   * over UDP from `client` (allow-list, Multicast-Timeout, forwarding, relaying) with answers to `leg`.
   */
  submit(msg: CoapMessage, client: Peer, leg: ClientLeg): void {
    if (this.closed) throw new Error('group proxy closed');
    this.stats.requests++;
    this.onClientRequest(msg, client, `local:${describeClient(client)}`, leg);
  }

  private resolveTarget(msg: CoapMessage): Resolved | string {
    let target: ProxiedTarget | undefined;
    try {
      target = proxiedTarget(msg);
    } catch (err) {
      return err instanceof TargetError ? err.message : String(err);
    }
    if (target) {
      if (target.scheme !== 'coap') return `scheme ${target.scheme} not proxied to groups`;
      const group = this.opts.groups.find((g) => g.address === target.host && g.port === target.port);
      if (!group) {
        // Section 4.5.1 step 3: a member that answered through us may be reached again through us; any
        // other unicast target is refused (no open proxy).
        const name = this.members.get(`${target.host}:${target.port}`);
        const g = name === undefined ? undefined : this.opts.groups.find((x) => x.name === name);
        if (!g) return `${target.host}:${target.port} is neither a configured group nor a known member`;
        return { group: g, target, rest: target.path, member: { address: target.host, port: target.port } };
      }
      return { group, target, rest: target.path };
    }
    const path = msg.options.filter((o) => o.number === OptionNumber.URI_PATH).map((o) => o.value.toString());
    for (const g of this.opts.groups) {
      const p = g.reversePath;
      if (p && p.length <= path.length && p.every((s, i) => path[i] === s)) {
        return { group: g, rest: path.slice(p.length) };
      }
    }
    return 'no group here';
  }

  private onClientRequest(msg: CoapMessage, peer: Peer, key: string, leg: ClientLeg): void {
    const mtNumber = this.numbers.multicastTimeoutOption;
    const mtRaw = getOption(msg, mtNumber);
    const existing = this.byClient.get(`${key}#${HEX(msg.token)}`);
    const hasTarget = TARGET_OPTIONS.some((n) => msg.options.some((o) => o.number === n));
    // Section 4.1.3: an Early Stop Request is a GET, same token, Multicast-Timeout 0, no Proxy-* options.
    if (msg.code === CoapCode.GET && mtRaw !== undefined && mtRaw.length === 0 && !hasTarget) {
      const reverse = this.resolveTarget(msg);
      if (existing && typeof reverse === 'string') {
        this.stats.earlyStops++;
        this.free(existing);
        this.emptyAck(msg, leg);
        return;
      }
    }
    // Section 4.2.1 step 2 first: a client on no rule gets 4.01 whatever it asks, so it can't probe which
    // groups, paths or members the proxy serves.
    if (!isKnownClient(this.opts.allow, peer)) {
      this.stats.unauthorized++;
      this.log.warn('group-proxy: unknown client', { client: describeClient(peer) });
      return this.answer(msg, leg, CoapCode.UNAUTHORIZED, [], 'not allowed');
    }
    const resolved = this.resolveTarget(msg);
    if (typeof resolved === 'string') {
      this.stats.badTarget++;
      // RFC 7252 5.7.2: 5.05 Proxying Not Supported for a target we don't proxy to.
      const code = hasTarget ? CoapCode.PROXYING_NOT_SUPPORTED : CoapCode.NOT_FOUND;
      return this.answer(msg, leg, code, [], resolved);
    }
    const { group } = resolved;
    // Section 4.2.1 step 2: identify and check the client; 4.01 when not allowed.
    if (!isAllowed(this.opts.allow, peer, group.name)) {
      this.stats.unauthorized++;
      this.log.warn('group-proxy: client not allowed', { client: describeClient(peer), group: group.name });
      return this.answer(msg, leg, CoapCode.UNAUTHORIZED, [], 'not allowed to use this group');
    }
    if (this.byProxyToken.size >= (this.opts.maxForwards ?? 10_000) && !existing) {
      return this.answer(msg, leg, CoapCode.SERVICE_UNAVAILABLE, [], 'too many requests in flight');
    }
    if (resolved.member) return this.forwardUnicast(msg, leg, key, resolved, resolved.member);
    // Section 4.2.1 step 3 (and 6.1 for reverse-proxies): 4.00 with an empty Multicast-Timeout. A value
    // longer than 4 bytes reads as absent: RFC 7252 5.4.3 treats it as an unrecognized (elective) option.
    if (mtRaw === undefined) {
      this.stats.missingTimeout++;
      return this.answer(
        msg,
        leg,
        CoapCode.BAD_REQUEST,
        [{ number: mtNumber, value: Buffer.alloc(0) }],
        'Multicast-Timeout required',
      );
    }
    const tPrime = Math.min(mtRaw.length === 0 ? 0 : mtRaw.readUIntBE(0, mtRaw.length), this.maxTimeout);
    // Section 8.1: a non-last proxy gives the next hop T'' < T', or refuses with 5.05 and the least T'.
    if (group.nextHop && tPrime > 0 && tPrime <= this.chainMargin) {
      return this.answer(
        msg,
        leg,
        CoapCode.PROXYING_NOT_SUPPORTED,
        [{ number: mtNumber, value: encodeUint(this.chainMargin + 1) }],
        'Multicast-Timeout too small for this chain',
      );
    }
    this.emptyAck(msg, leg);
    this.forward(msg, leg, key, resolved, tPrime);
  }

  private buildOutgoing(msg: CoapMessage, r: Resolved) {
    const mt = this.numbers.multicastTimeoutOption;
    const g = r.group;
    // Options naming the target are the proxy's; Multicast-Timeout is removed (section 4.2.1 step 4).
    // Group-ETag is for the proxy's cache (section 7.3), never for the servers.
    const drop = new Set<number>([...TARGET_OPTIONS, mt, this.numbers.groupEtagOption]);
    if (r.target === undefined || getOption(msg, OptionNumber.PROXY_URI) !== undefined) {
      // Proxy-Uri carried the path (or reverse: our path prefix is stripped): Uri-Path/Uri-Query rebuilt.
      drop.add(OptionNumber.URI_PATH);
      if (r.target) drop.add(OptionNumber.URI_QUERY);
    }
    const options = msg.options.filter((o) => !drop.has(o.number));
    if (g.nextHop && !r.member) {
      // Section 8.1: the next proxy needs the group URI; the path stays in Uri-Path.
      const host = g.address.includes(':') ? `[${g.address}]` : g.address;
      options.push({ number: OptionNumber.PROXY_SCHEME, value: Buffer.from('coap') });
      options.push({ number: OptionNumber.URI_HOST, value: Buffer.from(host) });
      options.push({ number: OptionNumber.URI_PORT, value: encodeUint(g.port) });
    }
    if (drop.has(OptionNumber.URI_PATH)) {
      for (const s of r.rest) options.push({ number: OptionNumber.URI_PATH, value: Buffer.from(s) });
    }
    if (r.target && drop.has(OptionNumber.URI_QUERY)) {
      for (const q of r.target.query) options.push({ number: OptionNumber.URI_QUERY, value: Buffer.from(q) });
    }
    return options;
  }

  private forward(msg: CoapMessage, leg: ClientLeg, key: string, r: Resolved, tPrime: number): void {
    const g = r.group;
    const clientTokenKey = `${key}#${HEX(msg.token)}`;
    const old = this.byClient.get(clientTokenKey);
    // The client reuses its token (e.g. an Observe deregistration, RFC 7641 3.6): the servers must see
    // the same token again, so the new forward takes over the old one's.
    const proxyToken = old ? old.proxyToken : randomBytes(8);
    if (old) this.free(old);
    const options = this.buildOutgoing(msg, r);
    if (g.nextHop) {
      options.push({
        number: this.numbers.multicastTimeoutOption,
        value: encodeUint(Math.max(0, tPrime - this.chainMargin)),
      });
    }
    const out = createMessage({
      type: CoapType.NON,
      code: msg.code,
      messageId: this.nextMid(),
      token: proxyToken,
      options,
      payload: msg.payload,
    });
    const f: Forward = {
      proxyToken,
      leg,
      clientKey: key,
      clientToken: msg.token,
      group: g,
      deadline: this.now() + tPrime * 1000,
      timedOut: false,
      observing: new Set(),
      answered: new Set(),
      relayedMids: new Set(),
      chained: g.nextHop !== undefined,
      lastConAt: this.now(),
      cons: new Set(),
    };
    const cacheable = this.opts.cache !== false && msg.code === CoapCode.GET && getObserve(msg) === undefined;
    if (cacheable && tPrime > 0 && this.answerFromCache(msg, leg, g, this.cacheKey(g, out))) return;
    const dest = g.nextHop ?? { address: g.address, port: g.port };
    this.stats.forwarded++;
    void this.opts.groupSide.send(encodeMessage(out), dest).catch((err) => {
      this.log.warn('group-proxy: group request not sent', { group: g.name, error: String(err) });
    });
    // Section 4.2.1 step 6: T' = 0 -> every response is ignored; nothing to keep.
    if (tPrime === 0) {
      this.freed.set(HEX(proxyToken), this.now());
      return;
    }
    this.byProxyToken.set(HEX(proxyToken), f);
    this.byClient.set(clientTokenKey, f);
    f.timer = setTimeout(() => this.onTimeout(f), tPrime * 1000);
    f.timer.unref?.();
    if (cacheable) {
      f.cacheKey = this.cacheKey(g, out);
      this.serveFromCache(f, tPrime);
    }
  }

  /**
   * Section 4.5.1 step 3, "indirectly (via a proxied unicast request)": one request to one member, one
   * response relayed as it is (no Reply-From: the client named the server), 5.04 when none comes in time.
   */
  private forwardUnicast(
    msg: CoapMessage,
    leg: ClientLeg,
    key: string,
    r: Resolved,
    member: Forward['member'],
  ) {
    const clientTokenKey = `${key}#${HEX(msg.token)}`;
    const old = this.byClient.get(clientTokenKey);
    if (old) this.free(old);
    this.emptyAck(msg, leg);
    const proxyToken = randomBytes(8);
    const out = createMessage({
      type: CoapType.NON,
      code: msg.code,
      messageId: this.nextMid(),
      token: proxyToken,
      options: this.buildOutgoing(msg, r),
      payload: msg.payload,
    });
    const f: Forward = {
      proxyToken,
      leg,
      clientKey: key,
      clientToken: msg.token,
      group: r.group,
      deadline: this.now() + UNICAST_TIMEOUT_MS,
      timedOut: false,
      observing: new Set(),
      answered: new Set(),
      relayedMids: new Set(),
      chained: false,
      member,
      lastConAt: this.now(),
      cons: new Set(),
    };
    this.byProxyToken.set(HEX(proxyToken), f);
    this.byClient.set(clientTokenKey, f);
    f.timer = setTimeout(() => {
      // RFC 7252 5.7.2: the member did not answer in time.
      const timeout = createMessage({
        type: CoapType.NON,
        code: CoapCode.GATEWAY_TIMEOUT,
        messageId: this.nextMid(),
        token: f.clientToken,
      });
      this.sendRelayed(f, timeout);
      this.free(f);
    }, UNICAST_TIMEOUT_MS);
    f.timer.unref?.();
    this.stats.forwarded++;
    void this.opts.groupSide.send(encodeMessage(out), member!).catch(() => undefined);
  }

  /** Section 5.4 step 1 and 5.5: T' elapsed; keep the token only for active observations. */
  private onTimeout(f: Forward): void {
    f.timedOut = true;
    if (f.observing.size === 0) this.free(f);
  }

  private free(f: Forward): void {
    if (f.done) return;
    f.done = true;
    if (f.timer) clearTimeout(f.timer);
    if (f.cacheTimer) clearTimeout(f.cacheTimer);
    const pk = HEX(f.proxyToken);
    if (this.byProxyToken.get(pk) === f) {
      this.byProxyToken.delete(pk);
      if (this.freed.size >= MAX_SEEN) this.freed.delete(this.freed.keys().next().value as string);
      this.freed.set(pk, this.now());
    }
    const ck = `${f.clientKey}#${HEX(f.clientToken)}`;
    if (this.byClient.get(ck) === f) this.byClient.delete(ck);
    for (const m of f.relayedMids) this.byRelayedMid.delete(`${f.clientKey}#${m}`);
    for (const k of f.cons) {
      const p = this.pendingCon.get(k);
      if (p) clearTimeout(p.timer);
      this.pendingCon.delete(k);
    }
    f.leg.ended?.();
  }

  // ---- group side --------------------------------------------------------------------------------------

  private onGroupDatagram(data: Buffer, peer: Peer): void {
    if (this.closed) return;
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data);
    } catch {
      this.stats.malformed++;
      return;
    }
    if (msg.type === CoapType.CON) {
      // RFC 7252 4.2: acknowledge a CON response (a notification, or a separate response) at once.
      const ack = createMessage({ type: CoapType.ACK, code: 0, messageId: msg.messageId });
      void this.opts.groupSide.send(encodeMessage(ack), peer).catch(() => undefined);
    }
    if (!isResponseCode(msg.code)) return;
    // RFC 7252 4.5: a server's retransmission (its ACK from us was lost) is relayed once.
    const dupKey = `${peer.address}:${peer.port}#${msg.messageId}#${HEX(msg.token)}`;
    if (this.groupSeen.has(dupKey)) return;
    if (this.groupSeen.size >= MAX_SEEN) this.groupSeen.delete(this.groupSeen.keys().next().value as string);
    this.groupSeen.set(dupKey, this.now());
    const f = this.byProxyToken.get(HEX(msg.token));
    let server = `${peer.address}:${peer.port}`;
    if (!f) {
      // Section 5.4: a freed token discards late responses. An RST ends the server's observation (RFC 7641
      // 3.6, reactive cancellation) when the client lost interest.
      if (this.freed.has(HEX(msg.token))) this.stats.late++;
      else this.stats.unmatched++;
      if (msg.type !== CoapType.ACK && getObserve(msg) !== undefined) {
        const rst = createMessage({ type: CoapType.RST, code: 0, messageId: msg.messageId });
        void this.opts.groupSide.send(encodeMessage(rst), peer).catch(() => undefined);
      }
      return;
    }
    if (f.member) {
      if (f.member.address !== peer.address || f.member.port !== peer.port) {
        this.stats.unmatched++;
        return;
      }
      const out = createMessage({
        type: CoapType.NON,
        code: msg.code,
        messageId: this.nextMid(),
        token: f.clientToken,
        options: msg.options.filter((o) => o.number !== this.numbers.replyFromOption),
        payload: msg.payload,
      });
      this.sendRelayed(f, out);
      this.stats.relayed++;
      this.free(f);
      return;
    }
    if (f.chained) {
      // Section 8.2: every response comes from the next proxy; its Reply-From names the origin server,
      // which is what observations and cache entries are kept per.
      const rf = getOption(msg, this.numbers.replyFromOption);
      server = rf ? `rf:${HEX(rf)}` : server;
    }
    const isNotification = getObserve(msg) !== undefined && codeClass(msg.code) === 2;
    if (f.timedOut) {
      // Section 5.4 "Supporting Observe": after T', only notifications of active observations pass.
      if (!f.observing.has(server)) {
        this.stats.late++;
        return;
      }
    }
    if (isNotification) f.observing.add(server);
    else f.observing.delete(server);
    f.answered.add(server);
    if (!f.chained) {
      if (this.members.size >= MAX_SEEN && !this.members.has(server)) {
        this.members.delete(this.members.keys().next().value as string);
      }
      this.members.set(server, f.group.name);
    }
    const relayed = this.relay(f, msg, peer);
    if (f.cacheKey && codeClass(msg.code) === 2 && getOption(msg, OptionNumber.OSCORE) === undefined) {
      this.store(f.cacheKey, server, relayed);
    }
    if (f.timedOut && f.observing.size === 0) this.free(f);
  }

  /** Section 5.4 steps 1-2: the server's response to the client, with Reply-From, as it comes. */
  private relay(f: Forward, msg: CoapMessage, server: Peer): CoapMessage {
    const rf = this.numbers.replyFromOption;
    const options = msg.options.filter((o) => o.number !== rf || f.chained);
    if (!f.chained) {
      // Section 8.2: only the last proxy adds Reply-From; the others relay it unchanged.
      const origin: ReplyFrom = { scheme: 'coap', host: server.address, port: server.port };
      options.push({ number: rf, value: encodeReplyFrom(origin, this.encoding) });
    }
    const now = this.now();
    const notification = getObserve(msg) !== undefined && codeClass(msg.code) === 2;
    const con = notification && now - f.lastConAt >= (this.opts.liveness?.intervalMs ?? 86_400_000);
    if (con) f.lastConAt = now;
    const out = createMessage({
      type: con ? CoapType.CON : CoapType.NON,
      code: msg.code,
      messageId: this.nextMid(),
      token: f.clientToken,
      options,
      payload: msg.payload,
    });
    this.sendRelayed(f, out);
    this.stats.relayed++;
    return out;
  }

  private sendRelayed(f: Forward, out: CoapMessage): void {
    f.relayedMids.add(out.messageId);
    this.byRelayedMid.set(`${f.clientKey}#${out.messageId}`, f);
    // A long observation relays without end: an RST can only name one of the last few anyway.
    if (f.relayedMids.size > MAX_RELAYED_MIDS) {
      const oldest = f.relayedMids.values().next().value as number;
      f.relayedMids.delete(oldest);
      if (this.byRelayedMid.get(`${f.clientKey}#${oldest}`) === f)
        this.byRelayedMid.delete(`${f.clientKey}#${oldest}`);
    }
    f.leg.relay(out);
    if (out.type === CoapType.CON) this.retransmit(f, out);
  }

  /** RFC 7252 4.2: retransmissions of a CON notification; none acknowledged ends the observation. */
  private retransmit(f: Forward, out: CoapMessage): void {
    const key = `${f.clientKey}#${out.messageId}`;
    const max = this.opts.liveness?.maxRetransmit ?? 4;
    let timeout = this.opts.liveness?.ackTimeoutMs ?? 2000;
    let sent = 0;
    const fire = (): void => {
      if (f.done) return;
      if (sent++ >= max) {
        this.pendingCon.delete(key);
        this.stats.clientTimeouts++;
        this.free(f);
        return;
      }
      f.leg.relay(out);
      timeout *= 2;
      arm();
    };
    const arm = (): void => {
      const timer = setTimeout(fire, timeout);
      timer.unref?.();
      this.pendingCon.set(key, { f, timer });
    };
    f.cons.add(key);
    arm();
  }

  // ---- section 7: caching -----------------------------------------------------------------------------

  /** RFC 7252 5.7.1 Cache-Key: the group, the method and every option but NoCacheKey ones. */
  private cacheKey(g: ProxyGroup, out: CoapMessage): string {
    const parts = out.options
      .filter((o) => !isNoCacheKey(o.number) && o.number !== this.numbers.multicastTimeoutOption)
      .map((o) => `${o.number}=${HEX(o.value)}`);
    return `${g.name}|${out.code}|${parts.join('&')}`;
  }

  private store(key: string, server: string, relayed: CoapMessage): void {
    // RFC 7252 5.10.5: Max-Age defaults to 60 s.
    const maxAge = getUintOption(relayed, OptionNumber.MAX_AGE) ?? 60;
    if (maxAge === 0) return;
    let m = this.cache.get(key);
    if (!m) {
      if (this.cache.size >= MAX_CACHE_KEYS) this.cache.delete(this.cache.keys().next().value as string);
      m = new Map();
      this.cache.set(key, m);
    }
    // Section 7: one entry per server, replaced "as it comes".
    m.set(server, { message: relayed, server, expiresAt: this.now() + maxAge * 1000 });
  }

  /**
   * Section 7.1: fresh entries whose residual lifetime L < T' are relayed at once; the others just before
   * T' expires, for the servers that did not answer this time.
   */
  private serveFromCache(f: Forward, tPrime: number): void {
    const m = f.cacheKey ? this.cache.get(f.cacheKey) : undefined;
    if (!m) return;
    const now = this.now();
    const later: CacheEntry[] = [];
    for (const e of m.values()) {
      const residual = e.expiresAt - now;
      if (residual <= 0) continue;
      if (residual < tPrime * 1000) this.relayCached(f, e);
      else later.push(e);
    }
    if (later.length === 0) return;
    const at = Math.max(0, tPrime * 1000 - Math.min(500, tPrime * 100));
    f.cacheTimer = setTimeout(() => {
      for (const e of later)
        if (!f.answered.has(e.server) && e.expiresAt > this.now()) this.relayCached(f, e);
    }, at);
    f.cacheTimer.unref?.();
  }

  /**
   * Section 7.1: with every member of the group known and a fresh entry for each (the set J "complete"),
   * the request is served from the cache alone; section 7.3: with a Group-ETag of J's current entity-tag,
   * by one 2.03 Valid carrying it. Returns whether it was served.
   */
  private answerFromCache(req: CoapMessage, leg: ClientLeg, g: ProxyGroup, key: string): boolean {
    const members = g.members;
    const m = this.cache.get(key);
    if (!members || members.length === 0 || !m) return false;
    const now = this.now();
    const set: CacheEntry[] = [];
    for (const s of members) {
      const e = m.get(`${s.address}:${s.port}`);
      if (!e || e.expiresAt <= now) return false;
      set.push(e);
    }
    // J's entity-tag: a digest of its representations, so it changes when any of them does.
    const h = createHash('sha256');
    for (const e of set) {
      h.update(e.server)
        .update(Buffer.from([e.message.code]))
        .update(e.message.payload);
      for (const o of e.message.options)
        if (o.number !== OptionNumber.MAX_AGE) h.update(`${o.number}:`).update(o.value);
    }
    const tag = h.digest().subarray(0, 8);
    const ge = this.numbers.groupEtagOption;
    const given = req.options.filter((o) => o.number === ge).map((o) => o.value);
    if (given.some((v) => v.equals(tag))) {
      this.stats.validFromCache++;
      leg.relay(
        createMessage({
          type: CoapType.NON,
          code: CoapCode.VALID,
          messageId: this.nextMid(),
          token: req.token,
          options: [{ number: ge, value: tag }],
        }),
      );
    } else {
      for (const e of set) leg.relay(this.fromCache(e, req.token, [{ number: ge, value: tag }]));
    }
    leg.ended?.();
    return true;
  }

  /** A cached response for `token`, with the residual Max-Age (RFC 7252 5.6.1). */
  private fromCache(e: CacheEntry, token: Buffer, extra: CoapOption[] = []): CoapMessage {
    const residual = Math.max(0, Math.floor((e.expiresAt - this.now()) / 1000));
    const options = e.message.options.filter((o) => o.number !== OptionNumber.MAX_AGE);
    options.push(...extra, { number: OptionNumber.MAX_AGE, value: encodeUint(residual) });
    this.stats.relayedFromCache++;
    return createMessage({
      type: CoapType.NON,
      code: e.message.code,
      messageId: this.nextMid(),
      token,
      options,
      payload: e.message.payload,
    });
  }

  private relayCached(f: Forward, e: CacheEntry): void {
    this.sendRelayed(f, this.fromCache(e, f.clientToken));
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.seen) if (now - s.at > EXCHANGE_LIFETIME_MS) this.seen.delete(k);
    for (const [k, at] of this.freed) if (now - at > EXCHANGE_LIFETIME_MS) this.freed.delete(k);
    for (const [k, at] of this.groupSeen) if (now - at > EXCHANGE_LIFETIME_MS) this.groupSeen.delete(k);
    for (const [k, m] of this.cache) {
      for (const [s, e] of m) if (e.expiresAt <= now) m.delete(s);
      if (m.size === 0) this.cache.delete(k);
    }
  }
}
