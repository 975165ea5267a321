// draft-tiloca-core-observe-multicast-notifications-04 section 2 (server side), section 5.2 (rough
// counting) and Appendix A.2 (introspection): a request handler placed in front of a CoapEndpoint's
// handler, which turns observe registrations of its resources into one group observation per
// resource and sends each change as one multicast notification.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import {
  CoapCode,
  CoapType,
  encodeMessage,
  encodeUint,
  OptionNumber,
  OBSERVE_SEQ_MODULO,
  type CoapEndpoint,
  type CoapMessage,
  type CoapOption,
  type IncomingRequest,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { ipToBytes, isLinkLocal, isMulticast } from './address';
import { encodeInformativeResponse } from './informative-response';
import { decodeMessageInfo, encodeMessageInfo, rebuildMessage } from './message-info';
import type { MulticastSender } from './multicast';
import { groupObserveNumbers } from './numbers';
import { type GroupProtectionServer, NO_PROTECTION } from './protection';
import {
  DEFAULT_ROUGH_COUNTING,
  feedbackDivider,
  type CountUpdate,
  type RoughCountingParams,
  updateCount,
} from './rough-counting';
import {
  type GroupObservationRecord,
  type GroupObservationStore,
  InMemoryGroupObservationStore,
} from './store';
import { GroupTokenSpace, tokenSpaceKey } from './token-space';

type Timer = ReturnType<typeof setTimeout>;

/** The current state of a resource, as the application holds it. */
export interface Representation {
  payload: Buffer;
  contentFormat?: number;
}

export interface GroupObserveLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

export interface GroupObserveServerOptions {
  /** The CoAP endpoint clients register at (its transport sends from SRV_ADDR:SRV_PORT). */
  endpoint: CoapEndpoint;
  /** How multicast notifications leave: IP multicast through the endpoint's transport, or a Redis leg. */
  sender: MulticastSender;
  /** GRP_ADDR:GRP_PORT. */
  group: { address: string; port: number };
  /** SRV_ADDR:SRV_PORT as clients reach the server (section 2.2.2.1; never link-local). */
  server: { address: string; port: number };
  /** The current representation of a resource; undefined means 4.04. */
  resources(path: readonly string[]): Representation | undefined;
  /** Which resources are served by this handler (default: every path `resources` knows). */
  isGroupResource?(path: readonly string[]): boolean;
  /** Observers needed to start a group observation (section 2: 1 = on the first registration). */
  threshold?: number;
  /** Section 2.4: at most one multicast notification per this many ms (default 3000). */
  minIntervalMs?: number;
  /** Section 2.4: largest multicast notification payload; larger ones go to traditional observers. */
  maxPayload?: number;
  /** Length of T in bytes (default 2). */
  tokenLength?: number;
  roughCounting?: Partial<RoughCountingParams>;
  store?: GroupObservationStore;
  protection?: GroupProtectionServer;
  /** Section 2.2.2.1: leave 'cli_port' out when it is 5683. */
  omitDefaultCliPort?: boolean;
  random?: () => number;
  randomBytes?: (n: number) => Buffer;
  now?: () => number;
  logger?: GroupObserveLogger;
  /** Called after every count update of section 5.2.3 (metrics, tests). */
  onCountUpdate?(resource: string, update: CountUpdate): void;
}

export interface GroupObserveServerStats {
  registrations: number;
  informativeResponses: number;
  shiftedObservers: number;
  groupObservationsStarted: number;
  /** Multicast notifications sent (each is one datagram). */
  multicastNotifications: number;
  /** Every datagram sent to the group: notifications and cancellation 5.03s. */
  multicastDatagrams: number;
  /** Unicast notifications to traditional observers. */
  unicastNotifications: number;
  /** Publications folded into a later multicast notification (section 2.4). */
  coalesced: number;
  feedbackRounds: number;
  confirmations: number;
  /** Empty-MRFD requests outside a feedback round. */
  lateConfirmations: number;
  /** Registrations with a non-empty MRFD value (section 5.2.3: not a confirmation). */
  badMrfd: number;
  cancellations: number;
  introspections: number;
  unknownTokens: number;
  sendErrors: number;
}

export interface GroupObservationInfo {
  resource: string;
  token: string;
  group: { address: string; port: number };
  server: { address: string; port: number };
  counter: number;
  observe: number;
  lastNotification: { sent: boolean; code: number; contentFormat?: number; payload: Buffer };
  lastSentAt: number;
  pending: boolean;
  feedbackRound?: { q: number; confirmations: number };
}

interface FeedbackRound {
  q: number;
  n: number;
  r: number;
  timer: Timer;
}

interface GroupObservation {
  record: GroupObservationRecord;
  path: string[];
  token: Buffer;
  /** The phantom registration request as built (section 2.1 step 1), before protection. */
  phantom: CoapMessage;
  /** As stored and signaled (protected). */
  protectedPhantom: CoapMessage;
  informative?: Buffer;
  pending?: Representation;
  timer?: Timer;
  round?: FeedbackRound;
  forceFeedback: boolean;
  cancelled: boolean;
}

function pathKey(path: readonly string[]): string {
  return path.join('/');
}

function splitKey(key: string): string[] {
  return key === '' ? [] : key.split('/');
}

const silent: GroupObserveLogger = { debug: () => undefined, warn: () => undefined };

export class GroupObserveServer {
  readonly stats: GroupObserveServerStats = {
    registrations: 0,
    informativeResponses: 0,
    shiftedObservers: 0,
    groupObservationsStarted: 0,
    multicastNotifications: 0,
    multicastDatagrams: 0,
    unicastNotifications: 0,
    coalesced: 0,
    feedbackRounds: 0,
    confirmations: 0,
    lateConfirmations: 0,
    badMrfd: 0,
    cancellations: 0,
    introspections: 0,
    unknownTokens: 0,
    sendErrors: 0,
  };

  private readonly endpoint: CoapEndpoint;
  private readonly sender: MulticastSender;
  private readonly store: GroupObservationStore;
  private readonly protection: GroupProtectionServer;
  private readonly tokens: GroupTokenSpace;
  private readonly counting: RoughCountingParams;
  private readonly threshold: number;
  private readonly minIntervalMs: number;
  private readonly maxPayload: number;
  private readonly now: () => number;
  private readonly log: GroupObserveLogger;
  private readonly groups = new Map<string, GroupObservation>();
  private readonly starting = new Map<string, Promise<GroupObservation>>();
  private nextMid: number;
  private closed = false;

  constructor(private readonly opts: GroupObserveServerOptions) {
    this.endpoint = opts.endpoint;
    this.sender = opts.sender;
    this.store = opts.store ?? new InMemoryGroupObservationStore();
    this.protection = opts.protection ?? NO_PROTECTION;
    this.tokens = new GroupTokenSpace(opts.randomBytes ?? cryptoRandomBytes, opts.tokenLength ?? 2);
    this.counting = { ...DEFAULT_ROUGH_COUNTING, ...opts.roughCounting };
    this.threshold = opts.threshold ?? 1;
    this.minIntervalMs = opts.minIntervalMs ?? 3000;
    this.maxPayload = opts.maxPayload ?? 1024;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silent;
    this.nextMid = Math.floor((opts.random ?? Math.random)() * 0x10000) & 0xffff;
    if (!Number.isInteger(this.threshold) || this.threshold < 1)
      throw new RangeError('threshold must be >= 1');
    const grp = ipToBytes(opts.group.address);
    if (!grp || !isMulticast(grp))
      throw new RangeError(`${opts.group.address} is not an IP multicast address`);
    const srv = ipToBytes(opts.server.address);
    // Section 2.2: the informative response MUST NOT encode link-local addresses.
    if (!srv || isLinkLocal(srv) || isMulticast(srv)) {
      throw new RangeError(
        `${opts.server.address} cannot be SRV_ADDR (not a unicast, non-link-local address)`,
      );
    }
  }

  /** Reloads the group observations of the store, keeping each T, Observe number and counter. */
  async restore(): Promise<number> {
    for (const record of await this.store.list()) {
      const token = Buffer.from(record.token, 'hex');
      const path = splitKey(record.resource);
      const protectedPhantom = rebuildMessage(
        decodeMessageInfo(Buffer.from(record.phReq, 'base64'), 'ph_req'),
        token,
      );
      this.tokens.reserve(this.spaceOf(record), token);
      this.groups.set(record.resource, {
        record,
        path,
        token,
        phantom: this.buildPhantom(path, token, 0),
        protectedPhantom,
        forceFeedback: false,
        cancelled: false,
      });
    }
    return this.groups.size;
  }

  /**
   * The request handler: returns the response for requests it serves, undefined for the others (so
   * the caller falls through to its own handler). Never throws.
   */
  handle(req: IncomingRequest): Promise<OutgoingResponse> | undefined {
    if (pathKey(req.path) === '.well-known/core/mc-sender') return Promise.resolve(this.introspect(req));
    const claims = this.opts.isGroupResource
      ? this.opts.isGroupResource(req.path)
      : this.opts.resources(req.path) !== undefined;
    if (!claims) return undefined;
    return this.serve(req).catch((err: unknown) => {
      this.log.warn('group-observe: request failed', { error: String(err) });
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    });
  }

  /**
   * A new state of `resource`: one multicast notification for its group observation (at most one per
   * minIntervalMs, coalescing), unicast ones for any traditional observers.
   */
  async publish(resource: string | readonly string[], rep?: Representation): Promise<void> {
    const path = typeof resource === 'string' ? splitKey(resource.replace(/^\//, '')) : [...resource];
    const current = rep ?? this.opts.resources(path);
    if (current === undefined || this.closed) return;
    const key = pathKey(path);
    const traditional = this.endpoint.listObservers(path).length;
    if (traditional > 0) {
      this.stats.unicastNotifications += await this.endpoint.notify(path, {
        response: { code: CoapCode.CONTENT, payload: current.payload, contentFormat: current.contentFormat },
      });
    }
    const group = this.groups.get(key);
    if (group === undefined) return;
    if (current.payload.length > this.maxPayload) {
      // Section 2.4: multicast notifications carry small resources only; clients re-register and are
      // then served traditionally (block-wise works there).
      await this.cancel(key, 'payload-too-large');
      return;
    }
    if (group.pending !== undefined) this.stats.coalesced++;
    group.pending = current;
    this.schedule(group);
  }

  /** Makes the next multicast notification of `resource` carry the MRFD option (section 5.2.1). */
  requestFeedback(resource: string): void {
    const g = this.groups.get(resource.replace(/^\//, ''));
    if (g) g.forceFeedback = true;
  }

  /** Section 2.5: ends the group observation of `resource`; false when there is none. */
  async cancel(resource: string, reason = 'cancelled'): Promise<boolean> {
    const key = resource.replace(/^\//, '');
    const g = this.groups.get(key);
    if (g === undefined) return false;
    g.cancelled = true;
    this.groups.delete(key);
    if (g.timer) clearTimeout(g.timer);
    if (g.round) clearTimeout(g.round.timer);
    // The phantom cancellation request: Observe 1, all else as in the registration (RFC 7641 3.6),
    // processed internally (a protection layer consumes its sequence number here, section 6.2.4).
    const phantomCancel = this.protection.protectPhantomRequest(this.buildPhantom(g.path, g.token, 1));
    this.log.debug('group-observe: phantom cancellation', {
      resource: key,
      reason,
      code: phantomCancel.code,
      token: g.token.toString('hex'),
    });
    // The multicast 5.03, without payload and without Observe.
    const msg = this.protection.protectNotification(
      {
        type: CoapType.NON,
        code: CoapCode.SERVICE_UNAVAILABLE,
        messageId: this.allocateMid(),
        token: g.token,
        options: [],
        payload: Buffer.alloc(0),
      },
      g.protectedPhantom,
    );
    this.stats.cancellations++;
    await this.sendToGroup(g.record, encodeMessage(msg));
    this.tokens.free(this.spaceOf(g.record), g.token);
    await this.store.delete(key);
    return true;
  }

  /** The group observations, for the REST API and debugging. */
  list(): GroupObservationInfo[] {
    return [...this.groups.values()].map((g) => this.info(g));
  }

  get(resource: string): GroupObservationInfo | undefined {
    const g = this.groups.get(resource.replace(/^\//, ''));
    return g && this.info(g);
  }

  /** Stops the timers (state stays in the store for the next start). */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      if (g.timer) clearTimeout(g.timer);
      if (g.round) clearTimeout(g.round.timer);
    }
  }

  // ---------------------------------------------------------------- registration (sections 2.1, 2.2)

  private async serve(req: IncomingRequest): Promise<OutgoingResponse> {
    const rep = this.opts.resources(req.path);
    if (rep === undefined) return { code: CoapCode.NOT_FOUND };
    const plain: OutgoingResponse = {
      code: CoapCode.CONTENT,
      payload: rep.payload,
      contentFormat: rep.contentFormat,
    };
    if (req.code !== CoapCode.GET) return { code: CoapCode.METHOD_NOT_ALLOWED };
    if (req.observe !== 0) return plain;
    const key = pathKey(req.path);
    this.stats.registrations++;
    const mrfd = this.readMrfd(req);
    let group = this.groups.get(key);
    if (group !== undefined && mrfd === 'confirmation') {
      // Section 5.2.3: an empty MRFD marks a confirmation, not a new client.
      if (group.round) {
        group.round.r++;
        this.stats.confirmations++;
      } else {
        this.stats.lateConfirmations++;
      }
      this.stats.informativeResponses++;
      return this.informativeResponse(group);
    }
    if (group === undefined) {
      if (rep.payload.length > this.maxPayload) return plain;
      const others = this.endpoint
        .listObservers(req.path)
        .filter((o) => !(o.peerKey === req.peerKey && o.token.equals(req.token)));
      if (others.length + 1 < this.threshold) return plain;
      group = await this.startGroup(key, req.path, rep);
      if (group.cancelled) return plain;
      if (others.length > 0) {
        // Section 2.2: the traditional observations are cancelled and their clients get the
        // informative response (a non-2.xx notification ends each one, RFC 7641 section 4.2).
        const shifted = await this.endpoint.notify(req.path, {
          response: this.informativeResponse(group),
          confirmable: true,
        });
        group.record.counter += shifted;
        this.stats.shiftedObservers += shifted;
        this.stats.informativeResponses += shifted;
      }
    }
    group.record.counter++;
    await this.store.save(group.record);
    this.stats.informativeResponses++;
    return this.informativeResponse(group);
  }

  private readMrfd(req: IncomingRequest): 'none' | 'confirmation' | 'bad' {
    const n = groupObserveNumbers().mrfdOption;
    const occurrences = req.options.filter((o) => o.number === n);
    if (occurrences.length === 0) return 'none';
    if (occurrences.length === 1 && occurrences[0].value.length === 0) return 'confirmation';
    // Section 5.1: a client MUST send it empty; anything else is no confirmation (the option is
    // elective, so the request is processed as a plain registration).
    this.stats.badMrfd++;
    return 'bad';
  }

  private informativeResponse(g: GroupObservation): OutgoingResponse {
    return {
      code: CoapCode.SERVICE_UNAVAILABLE,
      contentFormat: groupObserveNumbers().informativeContentFormat,
      payload: this.informativePayload(g),
      observable: false,
      // Section 2.2: the informative response MUST be Confirmable.
      confirmable: true,
    };
  }

  private informativePayload(g: GroupObservation): Buffer {
    if (g.informative === undefined) {
      const r = g.record;
      g.informative = encodeInformativeResponse(
        {
          phReq: Buffer.from(r.phReq, 'base64'),
          lastNotif: Buffer.from(r.lastNotif, 'base64'),
          tpInfo: {
            tpId: 1,
            token: g.token,
            srvAddr: r.srvAddr,
            srvPort: r.srvPort,
            cliAddr: r.groupAddr,
            cliPort: r.groupPort,
          },
          ...(this.protection.groupInfo?.() ? { oscoreGroup: this.protection.groupInfo() } : {}),
        },
        { omitDefaultCliPort: this.opts.omitDefaultCliPort },
      );
    }
    return g.informative;
  }

  private buildPhantom(path: readonly string[], token: Buffer, observe: 0 | 1): CoapMessage {
    const options: CoapOption[] = [{ number: OptionNumber.OBSERVE, value: encodeUint(observe) }];
    for (const seg of path) options.push({ number: OptionNumber.URI_PATH, value: Buffer.from(seg, 'utf8') });
    return { type: CoapType.NON, code: CoapCode.GET, messageId: 0, token, options, payload: Buffer.alloc(0) };
  }

  private startGroup(key: string, path: string[], rep: Representation): Promise<GroupObservation> {
    const existing = this.starting.get(key);
    if (existing) return existing;
    const p = (async () => {
      const { group, server } = this.opts;
      const space = tokenSpaceKey(group.address, group.port, server.address, server.port);
      // Section 2.1 steps 1-5: phantom registration request with T, processed and stored, not sent.
      const token = this.tokens.allocate(space);
      const phantom = this.buildPhantom(path, token, 0);
      const protectedPhantom = this.protection.protectPhantomRequest(phantom);
      const now = this.now();
      const record: GroupObservationRecord = {
        resource: key,
        token: token.toString('hex'),
        groupAddr: group.address,
        groupPort: group.port,
        srvAddr: server.address,
        srvPort: server.port,
        phReq: encodeMessageInfo(protectedPhantom).toString('base64'),
        lastNotif: '',
        lastNotifSent: false,
        seq: 1,
        counter: 0,
        nextCountIn: this.counting.firstCountAfter,
        createdAt: now,
        lastSentAt: 0,
      };
      const g: GroupObservation = {
        record,
        path,
        token,
        phantom,
        protectedPhantom,
        forceFeedback: false,
        cancelled: false,
      };
      // Step 6: INIT_NOTIF, formatted as a multicast notification with the current representation.
      const init = this.buildNotification(g, rep, false);
      record.lastNotif = encodeMessageInfo(init).toString('base64');
      this.groups.set(key, g);
      this.stats.groupObservationsStarted++;
      await this.store.save(record);
      return g;
    })();
    this.starting.set(key, p);
    return p.finally(() => this.starting.delete(key));
  }

  // ---------------------------------------------------------------- notifications (2.3, 2.4, 5.2)

  private schedule(g: GroupObservation): void {
    if (g.timer !== undefined || this.closed) return;
    // Section 2.4: no more than one multicast notification per minIntervalMs.
    const wait = g.record.lastSentAt + this.minIntervalMs - this.now();
    if (wait <= 0) {
      this.flushSafely(g);
      return;
    }
    g.timer = setTimeout(() => {
      g.timer = undefined;
      this.flushSafely(g);
    }, wait);
  }

  /** A protection layer may fail (its sequence numbers not leased yet): the value waits for the next. */
  private flushSafely(g: GroupObservation): void {
    this.flush(g).catch((err: unknown) => {
      this.stats.sendErrors++;
      this.log.warn('group-observe: notification not sent', { error: String(err) });
    });
  }

  private buildNotification(g: GroupObservation, rep: Representation, withMrfd: boolean): CoapMessage {
    const r = g.record;
    const seq = r.seq;
    r.seq = (r.seq + 1) % OBSERVE_SEQ_MODULO;
    const options: CoapOption[] = [{ number: OptionNumber.OBSERVE, value: encodeUint(seq) }];
    if (rep.contentFormat !== undefined) {
      options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(rep.contentFormat) });
    }
    if (withMrfd) {
      const q = feedbackDivider(r.counter, this.counting.desiredConfirmations);
      options.push({ number: groupObserveNumbers().mrfdOption, value: encodeUint(q) });
      this.startRound(g, q);
    }
    options.sort((a, b) => a.number - b.number);
    const msg: CoapMessage = {
      type: CoapType.NON, // sections 2.3 and 2.4: MUST be Non-confirmable
      code: CoapCode.CONTENT,
      messageId: this.allocateMid(),
      token: g.token,
      options,
      payload: rep.payload,
    };
    return this.protection.protectNotification(msg, g.protectedPhantom);
  }

  private async flush(g: GroupObservation): Promise<void> {
    const rep = g.pending;
    if (rep === undefined || g.cancelled || this.closed) return;
    g.pending = undefined;
    const r = g.record;
    // Appendix B.3: a count update rides on every n-th notification, never while one is running.
    let withMrfd = false;
    if (g.round === undefined) {
      r.nextCountIn = Math.max(0, r.nextCountIn - 1);
      withMrfd = g.forceFeedback || r.nextCountIn === 0;
    }
    if (withMrfd) g.forceFeedback = false;
    const msg = this.buildNotification(g, rep, withMrfd);
    // Section 2.3: the server stores the latest multicast notification (INIT_NOTIF is dropped now).
    r.lastNotif = encodeMessageInfo(msg).toString('base64');
    r.lastNotifSent = true;
    r.lastSentAt = this.now();
    g.informative = undefined;
    this.stats.multicastNotifications++;
    await this.sendToGroup(r, encodeMessage(msg));
    await this.store.save(r).catch((err: unknown) => {
      this.log.warn('group-observe: store failed', { error: String(err) });
    });
  }

  private startRound(g: GroupObservation, q: number): void {
    this.stats.feedbackRounds++;
    const n = Math.max(g.record.counter, 1);
    const round: FeedbackRound = {
      q,
      n,
      r: 0,
      timer: setTimeout(() => void this.finishRound(g, round), this.counting.maxConfirmationWaitMs),
    };
    g.round = round;
  }

  /** Section 5.2.3 / Appendix B.3 at time t2. */
  private async finishRound(g: GroupObservation, round: FeedbackRound): Promise<void> {
    if (g.round !== round || g.cancelled) return;
    g.round = undefined;
    const r = g.record;
    // Synchronous from here to the new counter: no registration is processed in between (5.2.3).
    const update = updateCount(round.r, round.q, round.n, r.counter, this.counting);
    r.nextCountIn = update.nextCountIn;
    this.opts.onCountUpdate?.(r.resource, update);
    if (update.cancel) {
      r.counter = 0;
      await this.cancel(r.resource, 'count');
      return;
    }
    r.counter = update.newCount;
    await this.store.save(r).catch(() => undefined);
  }

  private async sendToGroup(r: GroupObservationRecord, data: Buffer): Promise<void> {
    this.stats.multicastDatagrams++;
    try {
      await this.sender.send(data, { address: r.groupAddr, port: r.groupPort });
    } catch (err) {
      this.stats.sendErrors++;
      this.log.warn('group-observe: multicast send failed', { error: String(err) });
    }
  }

  private allocateMid(): number {
    const mid = this.nextMid;
    this.nextMid = (mid + 1) & 0xffff;
    return mid;
  }

  // ---------------------------------------------------------------- introspection (Appendix A.2)

  private introspect(req: IncomingRequest): OutgoingResponse {
    this.stats.introspections++;
    if (req.code !== CoapCode.GET) return { code: CoapCode.METHOD_NOT_ALLOWED };
    const q = req.query.find((s) => s.startsWith('token='));
    const hex = q?.slice('token='.length) ?? '';
    if (!/^([0-9a-fA-F]{2}){1,8}$/.test(hex)) {
      return { code: CoapCode.BAD_REQUEST, payload: 'token=<1..8 bytes in hex> required' };
    }
    const token = Buffer.from(hex, 'hex');
    for (const g of this.groups.values()) {
      if (g.token.equals(token)) {
        return {
          code: CoapCode.CONTENT,
          contentFormat: groupObserveNumbers().informativeContentFormat,
          payload: this.informativePayload(g),
        };
      }
    }
    this.stats.unknownTokens++;
    return { code: CoapCode.NOT_FOUND };
  }

  private spaceOf(r: GroupObservationRecord): string {
    return tokenSpaceKey(r.groupAddr, r.groupPort, r.srvAddr, r.srvPort);
  }

  private info(g: GroupObservation): GroupObservationInfo {
    const r = g.record;
    const last = decodeMessageInfo(Buffer.from(r.lastNotif, 'base64'), 'last_notif');
    const cf = last.options.find((o) => o.number === OptionNumber.CONTENT_FORMAT);
    return {
      resource: r.resource,
      token: r.token,
      group: { address: r.groupAddr, port: r.groupPort },
      server: { address: r.srvAddr, port: r.srvPort },
      counter: r.counter,
      observe: r.seq,
      lastNotification: {
        sent: r.lastNotifSent,
        code: last.code,
        ...(cf ? { contentFormat: cf.value.reduce((a, b) => a * 256 + b, 0) } : {}),
        payload: last.payload,
      },
      lastSentAt: r.lastSentAt,
      pending: g.pending !== undefined,
      ...(g.round ? { feedbackRound: { q: g.round.q, confirmations: g.round.r } } : {}),
    };
  }
}
