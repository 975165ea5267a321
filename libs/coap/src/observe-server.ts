// RFC 7641 sections 3.1, 4.1 and 4.2 on the server: the list of observers, keyed by (endpoint, token),
// registration and deregistration with a GET/FETCH, and the notifications that follow.
import type { BlockValue } from './block';
import { transferKey } from './blockwise-server';
import { CoapCode, codeClass } from './codes';
import type { IncomingRequest, OutgoingResponse } from './exchange';
import { type CoapMessage, CoapType } from './message';
import { encodeUint, OptionNumber, splitPath } from './options';
import { type ResponseParts, toParts } from './response-parts';
import type { Peer } from '@lwm2m/transport';

/** RFC 7641 section 4.4: Observe values are 24-bit. */
export const OBSERVE_SEQ_MODULO = 0x1000000;
/** RFC 7641 section 4.5: a notification is sent as CON at least every 24 hours. */
export const DEFAULT_CON_NOTIFICATION_INTERVAL_MS = 24 * 3600 * 1000;

export interface Observer {
  /** "<peerKey>#<token hex>" */
  key: string;
  peerKey: string;
  token: Buffer;
  /** Uri-Path joined by "/", without a leading slash: the resource observed. */
  resource: string;
  /** The registering request, re-run through the handler to produce a notification. */
  request: IncomingRequest;
  /** The next Observe value to send. */
  seq: number;
  lastConAt: number;
  /** Block2 SZX negotiated on registration (RFC 7959 section 2.3), if any. */
  szx?: number;
}

export function observerKey(peerKey: string, token: Buffer): string {
  return `${peerKey}#${token.toString('hex')}`;
}

export function resourceKey(path: readonly string[]): string {
  return path.join('/');
}

export class ObserverRegistry {
  private readonly byResource = new Map<string, Map<string, Observer>>();
  private readonly byKey = new Map<string, Observer>();

  constructor(private readonly maxObservers: number) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Observer | undefined {
    return this.byKey.get(key);
  }

  /**
   * Adds or replaces the entry for (peerKey, token) (RFC 7641 section 4.1: a matching entry is
   * replaced, not duplicated). Returns false when the registry is full (the GET is then served
   * without registration, also section 4.1).
   */
  add(obs: Observer): boolean {
    const existing = this.byKey.get(obs.key);
    if (existing !== undefined) {
      this.remove(obs.key);
      obs.seq = existing.seq;
    } else if (this.byKey.size >= this.maxObservers) {
      return false;
    }
    this.byKey.set(obs.key, obs);
    let m = this.byResource.get(obs.resource);
    if (m === undefined) this.byResource.set(obs.resource, (m = new Map()));
    m.set(obs.key, obs);
    return true;
  }

  remove(key: string): Observer | undefined {
    const obs = this.byKey.get(key);
    if (obs === undefined) return undefined;
    this.byKey.delete(key);
    const m = this.byResource.get(obs.resource);
    m?.delete(key);
    if (m?.size === 0) this.byResource.delete(obs.resource);
    return obs;
  }

  forResource(resource: string): Observer[] {
    return [...(this.byResource.get(resource)?.values() ?? [])];
  }

  all(): Observer[] {
    return [...this.byKey.values()];
  }

  /** Takes the current Observe value and advances it modulo 2^24 (RFC 7641 section 4.4). */
  nextSeq(obs: Observer): number {
    const v = obs.seq;
    obs.seq = (obs.seq + 1) % OBSERVE_SEQ_MODULO;
    return v;
  }

  clear(): void {
    this.byKey.clear();
    this.byResource.clear();
  }
}

// ---------------------------------------------------------------- the server's notifications

export interface NotifyOptions {
  /** The notification's content; when absent the handler is run again with the registering request. */
  response?: OutgoingResponse;
  /** CON or NON; by default NON, and CON when none was sent for conNotificationInterval (RFC 7641 4.5). */
  confirmable?: boolean;
}

/** What the observe server needs from the layers around it. */
export interface ObserveServerContext {
  runHandler(req: IncomingRequest): Promise<OutgoingResponse>;
  /** Shapes a notification's first block (block-wise server, RFC 7959 section 2.3). */
  applyBlock2(
    parts: ResponseParts,
    requested: BlockValue | undefined,
    req: CoapMessage,
    key: string,
  ): ResponseParts;
  /** Sends a notification (through the seam and the message layer); `drop` on RST or CON failure. */
  send(peerKey: string, fallback: Peer, msg: CoapMessage, confirmable: boolean, drop: () => void): void;
  isClosed(): boolean;
  now(): number;
}

/** RFC 7641 section 4 on the server: registration with a GET/FETCH and the notifications that follow. */
export class ObserveServer {
  readonly registry: ObserverRegistry;

  constructor(
    maxObservers: number,
    private readonly conNotificationInterval: number,
    private readonly ctx: ObserveServerContext,
  ) {
    this.registry = new ObserverRegistry(maxObservers);
  }

  /** Before the handler: Observe=1 deregisters (RFC 7641 section 3.6). */
  beforeHandler(req: IncomingRequest, msg: CoapMessage): void {
    if (isObservable(msg) && req.observe === 1) this.registry.remove(observerKey(req.peerKey, msg.token));
  }

  /**
   * After the handler: Observe=0 with a 2.xx registers (adds the Observe option to `parts`), an error
   * response ends an existing observation (RFC 7641 sections 4.1 and 4.2).
   */
  afterHandler(
    req: IncomingRequest,
    msg: CoapMessage,
    out: OutgoingResponse,
    parts: ResponseParts,
    block2: BlockValue | undefined,
  ): void {
    if (!isObservable(msg) || req.observe !== 0 || (block2 !== undefined && block2.num !== 0)) return;
    const key = observerKey(req.peerKey, msg.token);
    if (codeClass(parts.code) !== 2 || out.observable === false) {
      this.registry.remove(key);
      return;
    }
    const obs: Observer = {
      key,
      peerKey: req.peerKey,
      token: Buffer.from(msg.token),
      resource: resourceKey(req.path),
      request: req,
      seq: 0,
      lastConAt: this.ctx.now(),
      szx: block2?.szx,
    };
    if (this.registry.add(obs)) {
      parts.options.push({ number: OptionNumber.OBSERVE, value: encodeUint(this.registry.nextSeq(obs)) });
    }
  }

  /** RFC 7641 section 4.2: a notification to every observer of `resource`; how many. */
  async notify(resource: string | string[], opts: NotifyOptions): Promise<number> {
    const key = resourceKey(typeof resource === 'string' ? splitPath(resource) : resource);
    const list = this.registry.forResource(key);
    await Promise.all(list.map((o) => this.sendNotification(o, opts)));
    return list.length;
  }

  private async sendNotification(obs: Observer, opts: NotifyOptions): Promise<void> {
    const out = opts.response ?? (await this.ctx.runHandler(obs.request));
    if (this.ctx.isClosed() || this.registry.get(obs.key) !== obs) return;
    const parts = toParts(out);
    if (codeClass(parts.code) === 2) {
      parts.options.push({ number: OptionNumber.OBSERVE, value: encodeUint(this.registry.nextSeq(obs)) });
    } else {
      // RFC 7641 section 4.2: a non-2.xx notification removes the observer.
      this.registry.remove(obs.key);
    }
    const req = obs.request.message;
    const tkey = transferKey(obs.peerKey, req.code, obs.request.path, obs.request.query);
    const requested = obs.szx !== undefined ? { num: 0, more: false, szx: obs.szx } : undefined;
    const shaped = this.ctx.applyBlock2(parts, requested, req, tkey);
    const now = this.ctx.now();
    const con = opts.confirmable ?? now - obs.lastConAt >= this.conNotificationInterval;
    if (con) obs.lastConAt = now;
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
      if (this.registry.get(obs.key) === obs) this.registry.remove(obs.key);
    };
    this.ctx.send(obs.peerKey, obs.request.peer, msg, con, drop);
  }
}

function isObservable(msg: CoapMessage): boolean {
  return msg.code === CoapCode.GET || msg.code === CoapCode.FETCH;
}
