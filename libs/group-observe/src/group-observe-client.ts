// draft-tiloca-core-observe-multicast-notifications-04 section 3 (client side), section 5.1 and
// Appendix B.1/B.2 (feedback for rough counting): observes a resource over a CoapEndpoint and, when
// the server answers with an informative response, follows the group observation on the multicast
// group instead.
import { DecodeError } from '@lwm2m/bytes';
import {
  CoapCode,
  codeClass,
  decodeMessage,
  defaultPeerKey,
  getObserve,
  getContentFormat,
  isResponseCode,
  NotificationOrder,
  NoResponseBits,
  OptionNumber,
  encodeUint,
  splitPath,
  type CoapEndpoint,
  type CoapMessage,
  type CoapOption,
  type CoapResponse,
  type ObservationHandle,
  type Peer,
} from '@lwm2m/coap';
import {
  decodeInformativeResponse,
  type OscoreGroupInfo,
  type UdpTransportInfo,
} from './informative-response';
import { decodeMessageInfo, rebuildMessage } from './message-info';
import type { MulticastMembership, MulticastReceiver } from './multicast';
import { groupObserveNumbers } from './numbers';
import { type GroupProtectionClient, NO_PROTECTION } from './protection';
import { respondTo } from './rough-counting';
import type { GroupObserveLogger } from './group-observe-server';

export interface GroupNotification {
  code: number;
  observe?: number;
  contentFormat?: number;
  payload: Buffer;
  options: CoapOption[];
  token: Buffer;
  /**
   * 'informative': rebuilt from 'last_notif' (section 3.2 step 4); 'multicast': received on the group;
   * 'unicast': a notification of a traditional observation.
   */
  source: 'informative' | 'multicast' | 'unicast';
}

export interface GroupObservationListener {
  onNotification(n: GroupNotification): void;
  /** Section 3.4: the observation ended (the server's multicast 5.03, or an error notification). */
  onEnd?(end: { code?: number; reason: string }): void;
}

export interface GroupObserveClientOptions {
  /** The unicast endpoint registrations and feedback requests go out from. */
  endpoint: CoapEndpoint;
  /** Joins the multicast groups (section 3.2 step 1). */
  receiver: MulticastReceiver;
  protection?: GroupProtectionClient;
  /** Appendix B.1 LEISURE_TIME: DEFAULT_LEISURE of RFC 7252 section 8.2 (5 s) unless overridden. */
  leisureMs?: number;
  /** Uniform in [0, 1): feedback draws (Appendix B). */
  random?: () => number;
  /** Section 3.2: new registrations tried after a malformed informative response (default 1). */
  maxRegistrationRetries?: number;
  /** Section 3.2 step 1: accept multicast notifications only from srv_addr:srv_port (default true). */
  checkSource?: boolean;
  now?: () => number;
  logger?: GroupObserveLogger;
}

export interface GroupObserveClientStats {
  informativeResponses: number;
  malformedInformative: number;
  registrationRetries: number;
  multicastDatagrams: number;
  malformedNotifications: number;
  unknownTokens: number;
  wrongSource: number;
  unverified: number;
  staleNotifications: number;
  notifications: number;
  badMrfd: number;
  feedbackRequests: number;
  groupEnded: number;
}

export type GroupObservationMode = 'group' | 'traditional' | 'none';

export interface GroupObservationHandle {
  readonly mode: GroupObservationMode;
  /** The response to the registration. */
  readonly response: CoapResponse;
  /** T (group mode). */
  readonly token?: Buffer;
  /** The rebuilt phantom registration request (group mode). */
  readonly phantom?: CoapMessage;
  readonly tpInfo?: UdpTransportInfo;
  readonly oscoreGroup?: OscoreGroupInfo;
  /** Section 3.4: forget the observation (no message to the server). */
  forget(): Promise<void>;
}

/** Section 3.2: the informative response could not be used (the client withdrew). */
export class GroupObserveError extends Error {
  override readonly name = 'GroupObserveError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface ClientGroupObservation {
  key: string;
  groupKey: string;
  server: Peer;
  path: string[];
  requestOptions: CoapOption[];
  token: Buffer;
  phantom: CoapMessage;
  tpInfo: UdpTransportInfo;
  order: NotificationOrder;
  listener: GroupObservationListener;
  timers: Set<ReturnType<typeof setTimeout>>;
  done: boolean;
}

interface Membership {
  ready: Promise<MulticastMembership>;
  refs: number;
}

interface Registration {
  server: Peer;
  path: string[];
  options: CoapOption[];
  listener: GroupObservationListener;
}

class Handle implements GroupObservationHandle {
  mode: GroupObservationMode = 'none';
  token?: Buffer;
  phantom?: CoapMessage;
  tpInfo?: UdpTransportInfo;
  oscoreGroup?: OscoreGroupInfo;
  group?: ClientGroupObservation;
  traditional?: ObservationHandle;

  constructor(
    private readonly client: GroupObserveClient,
    readonly response: CoapResponse,
  ) {}

  forget(): Promise<void> {
    return this.client.forget(this);
  }
}

const silent: GroupObserveLogger = { debug: () => undefined, warn: () => undefined };
const EMPTY = Buffer.alloc(0);

function isSuccess(code: number): boolean {
  return codeClass(code) === 2;
}

export class GroupObserveClient {
  readonly stats: GroupObserveClientStats = {
    informativeResponses: 0,
    malformedInformative: 0,
    registrationRetries: 0,
    multicastDatagrams: 0,
    malformedNotifications: 0,
    unknownTokens: 0,
    wrongSource: 0,
    unverified: 0,
    staleNotifications: 0,
    notifications: 0,
    badMrfd: 0,
    feedbackRequests: 0,
    groupEnded: 0,
  };

  private readonly endpoint: CoapEndpoint;
  private readonly receiver: MulticastReceiver;
  private readonly protection: GroupProtectionClient;
  private readonly leisureMs: number;
  private readonly random: () => number;
  private readonly maxRetries: number;
  private readonly checkSource: boolean;
  private readonly now: () => number;
  private readonly log: GroupObserveLogger;
  private readonly observations = new Map<string, Set<ClientGroupObservation>>();
  private readonly memberships = new Map<string, Membership>();
  private closed = false;

  constructor(opts: GroupObserveClientOptions) {
    this.endpoint = opts.endpoint;
    this.receiver = opts.receiver;
    this.protection = opts.protection ?? NO_PROTECTION;
    this.leisureMs = opts.leisureMs ?? 5000;
    this.random = opts.random ?? Math.random;
    this.maxRetries = opts.maxRegistrationRetries ?? 1;
    this.checkSource = opts.checkSource ?? true;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silent;
  }

  /**
   * Section 3.1: registers as observer of `path` at `server`. Resolves with mode 'group' after an
   * informative response, 'traditional' after a 2.xx with Observe (which may later turn into a group
   * observation when the server shifts its observers), 'none' otherwise. Rejects with
   * GroupObserveError when the informative response stays malformed after the retries.
   */
  async observe(
    server: Peer,
    path: string | string[],
    listener: GroupObservationListener,
    opts: { options?: CoapOption[]; token?: Buffer } = {},
  ): Promise<GroupObservationHandle> {
    const reg: Registration = {
      server,
      path: typeof path === 'string' ? splitPath(path) : path,
      options: opts.options ?? [],
      listener,
    };
    for (let attempt = 0; ; attempt++) {
      // Filled in once the registration resolves; a shift later finds it here.
      const box: { handle?: Handle } = {};
      const obs = await this.endpoint.observe(
        server,
        {
          path: reg.path,
          options: reg.options,
          ...(opts.token && attempt === 0 ? { token: opts.token } : {}),
        },
        (res) => {
          // A 5.03 informative response ends a traditional observation (section 2.2, server shift).
          if (box.handle !== undefined && this.isInformative(res)) {
            void this.adopt(box.handle, reg, res).catch((err: unknown) => {
              listener.onEnd?.({ code: res.code, reason: String(err) });
            });
            return;
          }
          this.stats.notifications++;
          this.emit(listener, res.message, res.payload, 'unicast');
          if (res.observe === undefined || !isSuccess(res.code)) {
            listener.onEnd?.({ code: res.code, reason: 'notification ended the observation' });
          }
        },
      );
      const handle = new Handle(this, obs.response);
      box.handle = handle;
      handle.traditional = obs;
      if (this.isInformative(obs.response)) {
        try {
          await this.adopt(handle, reg, obs.response);
          return handle;
        } catch (err) {
          if (!(err instanceof GroupObserveError) || attempt >= this.maxRetries) throw err;
          // Section 3.2: the client MAY send a new registration request.
          this.stats.registrationRetries++;
          continue;
        }
      }
      if (obs.established) {
        handle.mode = 'traditional';
        this.emit(listener, obs.response.message, obs.response.payload, 'unicast');
      }
      return handle;
    }
  }

  /** Section 3.4: forgets every group observation and leaves every group. */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.observations.values()) for (const o of set) this.stop(o);
    this.observations.clear();
    const all = [...this.memberships.values()];
    this.memberships.clear();
    await Promise.all(all.map((m) => m.ready.then((x) => x.leave()).catch(() => undefined)));
  }

  /** @internal Handle.forget */
  async forget(h: Handle): Promise<void> {
    if (h.group) await this.drop(h.group);
    if (h.traditional) await h.traditional.cancel();
    h.mode = 'none';
  }

  private isInformative(res: CoapResponse): boolean {
    return (
      res.code === CoapCode.SERVICE_UNAVAILABLE &&
      res.contentFormat === groupObserveNumbers().informativeContentFormat
    );
  }

  /** Section 3.2: process an informative response; throws GroupObserveError when it is malformed. */
  private async adopt(h: Handle, reg: Registration, res: CoapResponse): Promise<void> {
    this.stats.informativeResponses++;
    let tp: UdpTransportInfo;
    let phantom: CoapMessage | undefined;
    let last: CoapMessage | undefined;
    let oscoreGroup: OscoreGroupInfo | undefined;
    try {
      const ir = decodeInformativeResponse(res.payload);
      tp = ir.tpInfo;
      oscoreGroup = ir.oscoreGroup;
      // Steps 2 and 4: rebuild the phantom request and the latest notification with T.
      phantom = this.protection.verifyPhantomRequest(
        rebuildMessage(decodeMessageInfo(ir.phReq, 'ph_req'), tp.token),
        oscoreGroup,
        reg.path,
      );
      if (phantom === undefined) throw new DecodeError('unverified', 'phantom request fails verification');
      if (phantom.code !== CoapCode.GET && phantom.code !== CoapCode.FETCH) {
        throw new DecodeError('bad-ph-req', 'the phantom request is not a GET or FETCH');
      }
      last = this.protection.unprotectNotification(
        rebuildMessage(decodeMessageInfo(ir.lastNotif, 'last_notif'), tp.token),
        phantom,
      );
      if (last === undefined) throw new DecodeError('unverified', 'latest notification fails verification');
      if (!isSuccess(last.code) || getObserve(last) === undefined) {
        throw new DecodeError('bad-last-notif', 'the latest notification is not a 2.xx with Observe');
      }
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.stats.malformedInformative++;
      this.log.debug('group-observe: malformed informative response', { reason: err.reason });
      throw new GroupObserveError(err.reason, `malformed informative response: ${err.message}`);
    }
    const groupKey = `${tp.cliAddr}:${tp.cliPort}`;
    const srcKey = defaultPeerKey({ address: tp.srvAddr, port: tp.srvPort });
    const o: ClientGroupObservation = {
      key: `${this.checkSource ? srcKey : ''}#${tp.token.toString('hex')}`,
      groupKey,
      server: reg.server,
      path: reg.path,
      requestOptions: reg.options,
      token: tp.token,
      phantom,
      tpInfo: tp,
      order: new NotificationOrder(),
      listener: reg.listener,
      timers: new Set(),
      done: false,
    };
    // Step 1: the endpoint for SRV_ADDR:SRV_PORT -> GRP_ADDR:GRP_PORT, i.e. join the group.
    await this.join(groupKey, { address: tp.cliAddr, port: tp.cliPort });
    let set = this.observations.get(o.key);
    if (!set) this.observations.set(o.key, (set = new Set()));
    set.add(o);
    h.mode = 'group';
    h.group = o;
    h.token = tp.token;
    h.phantom = phantom;
    h.tpInfo = tp;
    h.oscoreGroup = oscoreGroup;
    // Step 6: the traditional observation, if any, is silently cancelled (the 5.03 already ended it).
    h.traditional = undefined;
    // Step 5: the latest notification is the baseline for reordering; its MRFD is ignored (5.1).
    o.order.accept(getObserve(last)!, this.now());
    this.emit(reg.listener, last, last.payload, 'informative');
  }

  private join(groupKey: string, group: Peer): Promise<MulticastMembership> {
    let m = this.memberships.get(groupKey);
    if (!m) {
      const ready = this.receiver.join(group, (data, source) => this.onMulticast(groupKey, data, source));
      m = { ready, refs: 0 };
      this.memberships.set(groupKey, m);
      ready.catch(() => this.memberships.delete(groupKey));
    }
    m.refs++;
    return m.ready;
  }

  private async drop(o: ClientGroupObservation): Promise<void> {
    if (o.done) return;
    this.stop(o);
    const set = this.observations.get(o.key);
    set?.delete(o);
    if (set?.size === 0) this.observations.delete(o.key);
    const m = this.memberships.get(o.groupKey);
    if (m && --m.refs <= 0) {
      this.memberships.delete(o.groupKey);
      await m.ready.then((x) => x.leave()).catch(() => undefined);
    }
  }

  private stop(o: ClientGroupObservation): void {
    o.done = true;
    for (const t of o.timers) clearTimeout(t);
    o.timers.clear();
  }

  /** Section 3.3: a datagram on a joined group. Never throws. */
  private onMulticast(groupKey: string, data: Buffer, source: Peer): void {
    this.stats.multicastDatagrams++;
    if (this.closed) return;
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.stats.malformedNotifications++;
      return;
    }
    if (!isResponseCode(msg.code)) return; // requests to the group are not for this observer
    const tokenHex = msg.token.toString('hex');
    const srcKey = this.checkSource ? defaultPeerKey(source) : '';
    const set = this.observations.get(`${srcKey}#${tokenHex}`);
    if (!set || set.size === 0) {
      // Section 3.4: an unknown T (RST is OPTIONAL for a NON; a group member stays silent).
      if (this.checkSource && [...this.observations.keys()].some((k) => k.endsWith(`#${tokenHex}`))) {
        this.stats.wrongSource++;
      } else {
        this.stats.unknownTokens++;
      }
      return;
    }
    if (msg.type !== 1) {
      // Sections 2.3/2.4: multicast notifications MUST be NON; nothing on a group may be acknowledged.
      this.stats.malformedNotifications++;
      return;
    }
    for (const o of [...set]) {
      if (o.groupKey === groupKey) this.onGroupNotification(o, msg);
    }
  }

  private onGroupNotification(o: ClientGroupObservation, received: CoapMessage): void {
    const msg = this.protection.unprotectNotification(received, o.phantom);
    if (msg === undefined) {
      this.stats.unverified++;
      return;
    }
    let seq: number | undefined;
    try {
      seq = getObserve(msg);
    } catch {
      this.stats.malformedNotifications++;
      return;
    }
    if (!isSuccess(msg.code) || seq === undefined) {
      // Sections 2.5 and 3.4: the multicast 5.03 ends the group observation; T is freed.
      this.stats.groupEnded++;
      void this.drop(o);
      try {
        o.listener.onEnd?.({ code: msg.code, reason: 'group observation cancelled by the server' });
      } catch (err) {
        this.log.warn('group-observe: listener threw', { error: String(err) });
      }
      return;
    }
    // Section 3.3: RFC 7641 section 3.4 reordering on the Observe value.
    if (!o.order.accept(seq, this.now())) {
      this.stats.staleNotifications++;
      return;
    }
    this.stats.notifications++;
    this.emit(o.listener, msg, msg.payload, 'multicast');
    this.feedback(o, msg);
  }

  /** Section 5.1 / Appendix B.1: answer an MRFD with probability 2^-Q. */
  private feedback(o: ClientGroupObservation, msg: CoapMessage): void {
    const n = groupObserveNumbers().mrfdOption;
    const values = msg.options.filter((x) => x.number === n);
    if (values.length === 0) return;
    if (values.length > 1 || values[0].value.length > 1) {
      this.stats.badMrfd++;
      return;
    }
    const q = values[0].value.length === 0 ? 0 : values[0].value[0];
    if (!respondTo(q, () => Math.floor(this.random() * 0x100000000))) return;
    const timer = setTimeout(() => {
      o.timers.delete(timer);
      if (!o.done && !this.closed) this.sendFeedback(o);
    }, this.random() * this.leisureMs);
    o.timers.add(timer);
  }

  /** Section 5.1: NON re-registration, maximum No-Response, empty MRFD, to the original destination. */
  private sendFeedback(o: ClientGroupObservation): void {
    this.stats.feedbackRequests++;
    const n = groupObserveNumbers().mrfdOption;
    const options: CoapOption[] = [
      ...o.requestOptions.filter((x) => x.number !== n && x.number !== OptionNumber.NO_RESPONSE),
      { number: OptionNumber.OBSERVE, value: encodeUint(0) },
      {
        number: OptionNumber.NO_RESPONSE,
        value: encodeUint(
          NoResponseBits.SUCCESS_2XX | NoResponseBits.CLIENT_ERROR_4XX | NoResponseBits.SERVER_ERROR_5XX,
        ),
      },
      { number: n, value: EMPTY },
    ];
    // No response will come: the exchange is abandoned right after the datagram is out.
    const abort = new AbortController();
    this.endpoint
      .request(o.server, { path: o.path, options, confirmable: false }, { signal: abort.signal })
      .catch(() => undefined);
    abort.abort();
  }

  private emit(
    listener: GroupObservationListener,
    msg: CoapMessage,
    payload: Buffer,
    source: GroupNotification['source'],
  ): void {
    try {
      listener.onNotification({
        code: msg.code,
        observe: getObserve(msg),
        contentFormat: getContentFormat(msg),
        payload,
        options: msg.options,
        token: msg.token,
        source,
      });
    } catch (err) {
      this.log.warn('group-observe: listener threw', { error: String(err) });
    }
  }
}
