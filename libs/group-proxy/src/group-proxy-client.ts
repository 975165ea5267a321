// draft-ietf-core-groupcomm-proxy sections 4.1 and 4.5: the client. It sends one unicast request to the
// proxy with Multicast-Timeout T', keeps its token for T > T', takes every response matching it (one per
// server, told apart by Reply-From), and can then reach one server directly at the Reply-From address.
// Like the proxy it sits on a DatagramTransport, since many responses answer one request.
import {
  CoapCode,
  CoapType,
  codeClass,
  createMessage,
  decodeMessage,
  encodeMessage,
  encodeUint,
  getObserve,
  getOption,
  OptionNumber,
  splitPath,
  type CoapMessage,
  type CoapOption,
  type DatagramTransport,
  type Peer,
} from '@lwm2m/coap';
import { DecodeError } from '@lwm2m/bytes';
import { randomBytes } from 'node:crypto';
import { type GroupProxyNumbers, resolveGroupProxyNumbers } from './numbers';
import { decodeReplyFrom, type ReplyFrom } from './reply-from';

export interface GroupProxyClientOptions {
  transport: DatagramTransport;
  /** The proxy's address (section 4.1.1 step 5: the request goes there as unicast). */
  proxy: Peer;
  numbers?: Partial<GroupProxyNumbers> | Record<string, number>;
  /** RFC 7252 ACK_TIMEOUT for CON requests (default 2000 ms); MAX_RETRANSMIT 4. */
  ackTimeoutMs?: number;
}

/** One request for a group, through the proxy. */
export interface GroupRequest {
  /** Forward-proxy: the group URI, sent as Proxy-Uri ("coap://239.255.0.1:5683/r"). */
  groupUri?: string;
  /** Forward-proxy with Proxy-Scheme + Uri-Host + Uri-Port (the path stays in Uri-Path, e.g. inside OSCORE). */
  group?: { address: string; port: number };
  /** Reverse-proxy (section 6.2): the path at the proxy that stands for the group. */
  path?: string | string[];
  /** Method (default GET). */
  code?: number;
  query?: string[];
  options?: CoapOption[];
  payload?: Buffer | string;
  /** RFC 7641 registration through the proxy (section 4.1.2). */
  observe?: boolean;
  /** T' in seconds (section 4.1.1 step 3); 0 asks for no responses at all. Absent: no option is sent. */
  timeoutSeconds?: number;
  /** T - T' (section 4.1.1 step 3: at least the client-proxy round trip), default 1000 ms. */
  marginMs?: number;
  /** CON (default) or NON towards the proxy. */
  confirmable?: boolean;
  /**
   * Last step before sending (section 4.1.1 step 4): e.g. Group OSCORE protection of the request for the
   * servers, leaving the proxy's options (Proxy-Scheme, Uri-Host, Multicast-Timeout: class U) outside.
   */
  prepare?: (msg: CoapMessage) => CoapMessage;
}

/** One response as the client sees it (section 4.5.1). */
export interface GroupResponse {
  /** The origin server (step 3); absent on the proxy's own answers (4.00, 4.01, 5.05...). */
  origin?: ReplyFrom;
  /** The raw option value when it did not decode (counted, the response is still delivered). */
  badReplyFrom?: Buffer;
  code: number;
  options: CoapOption[];
  payload: Buffer;
  observe?: number;
  message: CoapMessage;
  receivedAt: number;
}

const HEX = (b: Buffer): string => b.toString('hex');

interface Pending {
  token: Buffer;
  deadline: number;
  observe: boolean;
  groupPort: number;
  queue: GroupResponse[];
  waiters: ((r: IteratorResult<GroupResponse>) => void)[];
  listeners: ((r: GroupResponse) => void)[];
  ended: boolean;
  timer?: NodeJS.Timeout;
  observing: boolean;
  seenMids: Set<string>;
  onEnd: (() => void)[];
}

/** A request in flight: its responses one by one until T (or, observing, until cancelled). */
export class GroupRequestHandle implements AsyncIterable<GroupResponse> {
  /** Everything received so far, in order. */
  readonly received: GroupResponse[] = [];
  constructor(
    private readonly p: Pending,
    private readonly stop: (earlyStop: boolean) => Promise<void>,
  ) {}

  get token(): Buffer {
    return this.p.token;
  }

  /** When T expires (ms since epoch); after it only notifications of an active observation arrive. */
  get deadline(): number {
    return this.p.deadline;
  }

  get ended(): boolean {
    return this.p.ended;
  }

  /** Called for each response as it arrives. */
  onResponse(listener: (r: GroupResponse) => void): void {
    this.p.listeners.push(listener);
  }

  /** Resolves when the request ends (T elapsed without observation, a proxy error, or cancel). */
  finished(): Promise<GroupResponse[]> {
    if (this.p.ended) return Promise.resolve(this.received);
    return new Promise((resolve) => this.p.onEnd.push(() => resolve(this.received)));
  }

  /**
   * Section 4.1.3: stop the forwarding. earlyStop (default) sends an Early Stop Request (GET, same token,
   * Multicast-Timeout 0, no Proxy-* options); otherwise the token is freed and the next relayed response
   * is answered with RST.
   */
  cancel(opts: { earlyStop?: boolean } = {}): Promise<void> {
    return this.stop(opts.earlyStop ?? true);
  }

  [Symbol.asyncIterator](): AsyncIterator<GroupResponse> {
    let i = 0;
    return {
      next: () => {
        if (i < this.received.length) return Promise.resolve({ value: this.received[i++], done: false });
        if (this.p.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) =>
          this.p.waiters.push((r) => {
            if (!r.done) i++;
            resolve(r);
          }),
        );
      },
    };
  }
}

export interface ClientStats {
  responses: number;
  badReplyFrom: number;
  resetsSent: number;
}

export class GroupProxyClient {
  readonly stats: ClientStats = { responses: 0, badReplyFrom: 0, resetsSent: 0 };
  readonly numbers: GroupProxyNumbers;
  private readonly pending = new Map<string, Pending>();
  private readonly direct = new Map<string, (m: CoapMessage, from: Peer) => void>();
  private readonly acks = new Map<number, () => void>();
  private mid = (Math.random() * 0x10000) | 0;

  constructor(private readonly opts: GroupProxyClientOptions) {
    this.numbers = resolveGroupProxyNumbers(opts.numbers);
    opts.transport.onDatagram((data, peer) => {
      try {
        this.onDatagram(data, peer);
      } catch {
        // one catch boundary per datagram
      }
    });
  }

  private nextMid(): number {
    this.mid = (this.mid + 1) & 0xffff;
    return this.mid;
  }

  /** Section 4.1.1: builds and sends the request; responses arrive on the returned handle. */
  async request(req: GroupRequest): Promise<GroupRequestHandle> {
    const token = randomBytes(8);
    const options: CoapOption[] = [...(req.options ?? [])];
    let groupPort = 5683;
    if (req.groupUri !== undefined) {
      options.push({ number: OptionNumber.PROXY_URI, value: Buffer.from(req.groupUri) });
      const m = /:(\d+)(?:\/|$|\?)/.exec(req.groupUri.replace(/^[a-z+]+:\/\/\[[^\]]*\]/, 'x://h'));
      if (m) groupPort = Number(m[1]);
    } else if (req.group) {
      const host = req.group.address.includes(':') ? `[${req.group.address}]` : req.group.address;
      options.push({ number: OptionNumber.PROXY_SCHEME, value: Buffer.from('coap') });
      options.push({ number: OptionNumber.URI_HOST, value: Buffer.from(host) });
      options.push({ number: OptionNumber.URI_PORT, value: encodeUint(req.group.port) });
      groupPort = req.group.port;
    }
    const path = typeof req.path === 'string' ? splitPath(req.path) : (req.path ?? []);
    for (const s of path) options.push({ number: OptionNumber.URI_PATH, value: Buffer.from(s) });
    for (const q of req.query ?? []) options.push({ number: OptionNumber.URI_QUERY, value: Buffer.from(q) });
    if (req.observe) options.push({ number: OptionNumber.OBSERVE, value: encodeUint(0) });
    let msg = createMessage({
      type: req.confirmable === false ? CoapType.NON : CoapType.CON,
      code: req.code ?? CoapCode.GET,
      messageId: this.nextMid(),
      token,
      options,
      payload: typeof req.payload === 'string' ? Buffer.from(req.payload) : (req.payload ?? Buffer.alloc(0)),
    });
    if (req.prepare) msg = req.prepare(msg);
    // Class U for OSCORE (section 2): added after end-to-end protection, readable by the proxy.
    if (req.timeoutSeconds !== undefined) {
      msg.options.push({
        number: this.numbers.multicastTimeoutOption,
        value: encodeUint(req.timeoutSeconds),
      });
    }
    const tPrimeMs = (req.timeoutSeconds ?? 0) * 1000;
    const p: Pending = {
      token,
      deadline: Date.now() + tPrimeMs + (req.marginMs ?? 1000),
      observe: req.observe === true,
      groupPort,
      queue: [],
      waiters: [],
      listeners: [],
      ended: false,
      observing: false,
      seenMids: new Set(),
      onEnd: [],
    };
    this.pending.set(HEX(token), p);
    p.timer = setTimeout(() => {
      // Section 4.5.2: after T the token is kept only when a 2.xx notification came in.
      if (!p.observing) this.end(p);
    }, p.deadline - Date.now());
    p.timer.unref?.();
    const handle = new GroupRequestHandle(p, (earlyStop) => this.stopRequest(p, earlyStop));
    p.listeners.push((r) => handle.received.push(r));
    await this.sendReliably(msg, this.opts.proxy);
    return handle;
  }

  /** Section 4.5.1 step 3: one request straight to a server, at the address its Reply-From gave. */
  async requestDirect(
    server: { address: string; port: number },
    req: { code?: number; path?: string | string[]; options?: CoapOption[]; payload?: Buffer | string },
    timeoutMs = 10_000,
  ): Promise<CoapMessage> {
    const token = randomBytes(8);
    const options: CoapOption[] = [...(req.options ?? [])];
    const path = typeof req.path === 'string' ? splitPath(req.path) : (req.path ?? []);
    for (const s of path) options.push({ number: OptionNumber.URI_PATH, value: Buffer.from(s) });
    const msg = createMessage({
      type: CoapType.CON,
      code: req.code ?? CoapCode.GET,
      messageId: this.nextMid(),
      token,
      options,
      payload: typeof req.payload === 'string' ? Buffer.from(req.payload) : (req.payload ?? Buffer.alloc(0)),
    });
    const answer = new Promise<CoapMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.direct.delete(HEX(token));
        reject(new Error(`no response from ${server.address}:${server.port}`));
      }, timeoutMs);
      this.direct.set(HEX(token), (m) => {
        clearTimeout(timer);
        this.direct.delete(HEX(token));
        resolve(m);
      });
    });
    await this.sendReliably(msg, server);
    return answer;
  }

  /**
   * Section 4.5.1 step 3, "indirectly": one request to one server through the proxy (Proxy-Uri naming the
   * address Reply-From gave). Resolves with its response (5.04 from the proxy when the server is silent).
   */
  async requestViaProxy(
    server: { address: string; port: number },
    req: { code?: number; path?: string | string[]; options?: CoapOption[]; payload?: Buffer | string },
    timeoutMs = 12_000,
  ): Promise<GroupResponse | undefined> {
    const host = server.address.includes(':') ? `[${server.address}]` : server.address;
    const segments = typeof req.path === 'string' ? splitPath(req.path) : (req.path ?? []);
    const path = segments.map((s) => `/${encodeURIComponent(s)}`).join('');
    const handle = await this.request({
      groupUri: `coap://${host}:${server.port}${path}`,
      ...(req.code !== undefined ? { code: req.code } : {}),
      ...(req.options ? { options: req.options } : {}),
      ...(req.payload !== undefined ? { payload: req.payload } : {}),
      marginMs: timeoutMs,
    });
    const [r] = await handle.finished();
    return r;
  }

  /** Sends; a CON is retransmitted (RFC 7252 4.2) until an ACK or a matching response comes. */
  private async sendReliably(msg: CoapMessage, to: Peer): Promise<void> {
    const bytes = encodeMessage(msg);
    await this.opts.transport.send(bytes, to);
    if (msg.type !== CoapType.CON) return;
    let timeout = this.opts.ackTimeoutMs ?? 2000;
    let tries = 0;
    const again = (): void => {
      if (!this.acks.has(msg.messageId)) return;
      if (++tries > 4) {
        this.acks.delete(msg.messageId);
        return;
      }
      void this.opts.transport.send(bytes, to).catch(() => undefined);
      timeout *= 2;
      setTimeout(again, timeout).unref?.();
    };
    const timer = setTimeout(again, timeout);
    timer.unref?.();
    this.acks.set(msg.messageId, () => {
      clearTimeout(timer);
      this.acks.delete(msg.messageId);
    });
  }

  private end(p: Pending): void {
    if (p.ended) return;
    p.ended = true;
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(HEX(p.token));
    for (const w of p.waiters.splice(0)) w({ value: undefined, done: true });
    for (const e of p.onEnd.splice(0)) e();
  }

  private async stopRequest(p: Pending, earlyStop: boolean): Promise<void> {
    this.end(p);
    if (!earlyStop) return;
    const msg = createMessage({
      type: CoapType.NON,
      code: CoapCode.GET,
      messageId: this.nextMid(),
      token: p.token,
      options: [{ number: this.numbers.multicastTimeoutOption, value: Buffer.alloc(0) }],
    });
    await this.opts.transport.send(encodeMessage(msg), this.opts.proxy);
  }

  private onDatagram(data: Buffer, from: Peer): void {
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data);
    } catch {
      return;
    }
    if (msg.type === CoapType.ACK || msg.type === CoapType.RST) this.acks.get(msg.messageId)?.();
    if (msg.code === 0 || codeClass(msg.code) < 2) return;
    if (msg.type === CoapType.CON) {
      const ack = createMessage({ type: CoapType.ACK, code: 0, messageId: msg.messageId });
      void this.opts.transport.send(encodeMessage(ack), from).catch(() => undefined);
    }
    const key = HEX(msg.token);
    const direct = this.direct.get(key);
    if (direct) return direct(msg, from);
    const p = this.pending.get(key);
    if (!p) {
      // Section 4.1.3 / 4.5.1: a response for a freed token gets RST, which the proxy reads as "stop".
      if (msg.type !== CoapType.ACK) {
        this.stats.resetsSent++;
        const rst = createMessage({ type: CoapType.RST, code: 0, messageId: msg.messageId });
        void this.opts.transport.send(encodeMessage(rst), from).catch(() => undefined);
      }
      return;
    }
    const midKey = `${from.address}:${from.port}#${msg.messageId}`;
    if (p.seenMids.has(midKey)) return;
    p.seenMids.add(midKey);
    const r = this.toResponse(msg, p.groupPort);
    if (r.origin === undefined && r.badReplyFrom === undefined) {
      // The proxy's own answer (4.00 with Multicast-Timeout 0, 4.01, 5.05...): this request is over.
      this.deliver(p, r);
      this.end(p);
      return;
    }
    if (Date.now() > p.deadline && !(p.observing && r.observe !== undefined)) return;
    if (r.observe !== undefined && codeClass(r.code) === 2) p.observing = true;
    this.deliver(p, r);
  }

  private deliver(p: Pending, r: GroupResponse): void {
    this.stats.responses++;
    for (const l of p.listeners) l(r);
    for (const w of p.waiters.splice(0)) w({ value: r, done: false });
  }

  private toResponse(msg: CoapMessage, groupPort: number): GroupResponse {
    const raw = getOption(msg, this.numbers.replyFromOption);
    let origin: ReplyFrom | undefined;
    let badReplyFrom: Buffer | undefined;
    if (raw !== undefined) {
      try {
        origin = decodeReplyFrom(raw, groupPort);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.stats.badReplyFrom++;
        badReplyFrom = raw;
      }
    }
    return {
      origin,
      badReplyFrom,
      code: msg.code,
      options: msg.options,
      payload: msg.payload,
      observe: getObserve(msg),
      message: msg,
      receivedAt: Date.now(),
    };
  }
}
