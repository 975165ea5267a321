// OSCORE (RFC 8613) as libs/coap's MessageSeam: between the exchange layer and the message layer, so the
// outer header, Message ID and token stay the layers below's (sections 4 and 8). Inbound: a request with the
// OSCORE option is verified into its inner request (section 8.2), or answered with the section 8.2 error
// (unprotected, Outer Max-Age 0) or the protected Echo challenge of Appendix B.1.2; a response to one of our
// protected requests is verified with that request's binding (8.4). Outbound: our requests to a peer with a
// context are protected (8.1), and so are the responses and notifications to a protected request (8.3).
// Where contexts come from (a credential store, one provisioned context) is the caller's.
import {
  CoapCode,
  type CoapMessage,
  codeClass,
  encodeUint,
  isRequestCode,
  type MessageSeam,
  OptionNumber,
  type Peer,
  type SeamInbound,
  type SeamPeer,
} from '@lwm2m/coap';
import type { SecurityContext } from './context';
import { decodeOscoreOption } from './option';
import {
  type OscoreFailureReason,
  protectRequest,
  protectResponse,
  type RequestBinding,
  verifyRequest,
  verifyResponse,
} from './protect';

/** A Recipient Context found for a request's kid, and whom it belongs to (an endpoint name). */
export interface ResolvedContext {
  context: SecurityContext;
  owner?: string;
}

export interface OscoreSeamOptions {
  /**
   * The context of a request's 'kid' (and 'kid context' when sent): at once from memory, or a promise (a
   * store read on a cache miss). Undefined: 4.01 "Security context not found".
   */
  lookup(
    kid: Buffer,
    kidContext: Buffer | undefined,
  ): ResolvedContext | undefined | Promise<ResolvedContext | undefined>;
  /**
   * The context to protect a request to `to` with; undefined sends it as is. Throws when the peer must only
   * be reached with OSCORE and no context is at hand (the request fails; nothing goes out in the clear).
   */
  contextFor(to: SeamPeer): SecurityContext | undefined;
  /** The peer the layers above see for a verified request (e.g. with an `oscore` identity). */
  authenticated?(from: Peer, kid: Buffer, resolved: ResolvedContext): Peer;
  /**
   * Unprotected requests: passed up (a server with NoSec devices too; the registration binding refuses
   * those of OSCORE endpoints) or, when false, answered 4.01 (a device that speaks OSCORE only).
   */
  acceptUnprotected: boolean;
  /** Bindings kept for responses and observations, per direction (oldest dropped beyond). Default 20000. */
  maxBindings?: number;
}

/** oscore_requests_total{result}: verified requests and every failure reason, plus unprotected ones. */
export type OscoreRequestResult = 'ok' | 'unprotected' | OscoreFailureReason;
/** Responses to our protected requests. */
export type OscoreResponseResult = 'ok' | 'unmatched' | 'unprotected' | OscoreFailureReason;

export interface OscoreSeamCounters {
  requests: Partial<Record<OscoreRequestResult, number>>;
  responses: Partial<Record<OscoreResponseResult, number>>;
  /** Outbound messages protected (requests, responses, notifications). */
  protected: number;
}

const O = OptionNumber;
const EMPTY = Buffer.alloc(0);

/** Bounded map in insertion order: the oldest binding goes first. */
class Bindings {
  private readonly map = new Map<string, RequestBinding>();
  constructor(private readonly max: number) {}
  get(k: string): RequestBinding | undefined {
    return this.map.get(k);
  }
  set(k: string, b: RequestBinding): void {
    this.map.delete(k);
    this.map.set(k, b);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  delete(k: string): void {
    this.map.delete(k);
  }
  get size(): number {
    return this.map.size;
  }
}

function bindingKey(peerKey: string, token: Buffer): string {
  return `${peerKey}|${token.toString('hex')}`;
}

function hasOscore(msg: CoapMessage): boolean {
  return msg.options.some((o) => o.number === O.OSCORE);
}

function hasObserve(msg: CoapMessage): boolean {
  return msg.options.some((o) => o.number === O.OBSERVE);
}

/** Section 8.2: an unprotected error with Outer Max-Age 0 (so no proxy caches it) and the diagnostic. */
function errorResponse(code: number, diagnostic: string | undefined): CoapMessage {
  return {
    type: 0,
    messageId: 0,
    token: EMPTY,
    code,
    options: [{ number: O.MAX_AGE, value: encodeUint(0) }],
    payload: diagnostic ? Buffer.from(diagnostic, 'utf8') : EMPTY,
  };
}

export class OscoreSeam implements MessageSeam {
  readonly counters: OscoreSeamCounters = { requests: {}, responses: {}, protected: 0 };
  /** Their requests: the binding our response(s) and notifications are protected with. */
  private readonly served: Bindings;
  /** Our requests: the binding their response(s) and notifications are verified with. */
  private readonly sent: Bindings;

  constructor(private readonly opts: OscoreSeamOptions) {
    this.served = new Bindings(opts.maxBindings ?? 20_000);
    this.sent = new Bindings(opts.maxBindings ?? 20_000);
  }

  private countRequest(r: OscoreRequestResult): void {
    this.counters.requests[r] = (this.counters.requests[r] ?? 0) + 1;
  }

  private countResponse(r: OscoreResponseResult): void {
    this.counters.responses[r] = (this.counters.responses[r] ?? 0) + 1;
  }

  outbound(msg: CoapMessage, to: SeamPeer): CoapMessage {
    // Every message of every peer passes here: the (peer, token) key is built only when OSCORE may apply.
    if (isRequestCode(msg.code)) {
      const ctx = this.opts.contextFor(to);
      if (ctx === undefined) return msg;
      const r = protectRequest(ctx, msg);
      if (!r.ok) throw new Error(`OSCORE: the request could not be protected (${r.reason})`);
      this.counters.protected++;
      this.sent.set(bindingKey(to.key, msg.token), r.binding);
      return r.message;
    }
    if (this.served.size === 0) return msg;
    const key = bindingKey(to.key, msg.token);
    const binding = this.served.get(key);
    if (binding === undefined) return msg;
    // An observation lives on while responses carry Observe (RFC 7641 3.2); any other response ends it.
    if (!(binding.observe && hasObserve(msg))) this.served.delete(key);
    const r = protectResponse(binding, msg);
    if (!r.ok) throw new Error(`OSCORE: the response could not be protected (${r.reason})`);
    this.counters.protected++;
    return r.message;
  }

  inbound(
    msg: CoapMessage,
    from: SeamPeer,
    reply: (res: CoapMessage) => void,
  ): SeamInbound | Promise<SeamInbound> {
    return isRequestCode(msg.code) ? this.inboundRequest(msg, from, reply) : this.inboundResponse(msg, from);
  }

  private inboundRequest(
    msg: CoapMessage,
    from: SeamPeer,
    reply: (res: CoapMessage) => void,
  ): SeamInbound | Promise<SeamInbound> {
    if (!hasOscore(msg)) {
      if (this.opts.acceptUnprotected) return msg;
      this.countRequest('unprotected');
      reply(errorResponse(CoapCode.UNAUTHORIZED, 'OSCORE required'));
      return undefined;
    }
    // The kid first (section 8.2 step 2): the lookup may have to read a store.
    let kid: Buffer | undefined;
    let kidContext: Buffer | undefined;
    try {
      const value = decodeOscoreOption(msg.options.find((o) => o.number === O.OSCORE)!.value);
      kid = value.kid;
      kidContext = value.kidContext;
    } catch {
      // verifyRequest below answers the same input with its typed 'decode' failure.
    }
    const found = kid === undefined ? undefined : this.opts.lookup(kid, kidContext);
    if (found instanceof Promise) return found.then((r) => this.verified(msg, from, reply, r));
    return this.verified(msg, from, reply, found);
  }

  private verified(
    msg: CoapMessage,
    from: SeamPeer,
    reply: (res: CoapMessage) => void,
    resolved: ResolvedContext | undefined,
  ): SeamInbound {
    const v = verifyRequest(msg, (_kid, kidContext) => {
      const ctx = resolved?.context;
      // A 'kid context' sent must be the context's ID Context (section 5.1).
      if (ctx === undefined || (kidContext !== undefined && !kidContext.equals(ctx.idContext ?? EMPTY)))
        return undefined;
      return ctx;
    });
    if (!v.ok) {
      this.countRequest(v.reason);
      if (v.challenge !== undefined) reply(v.challenge);
      else if (v.code !== undefined) reply(errorResponse(v.code, v.diagnostic));
      return undefined;
    }
    this.countRequest('ok');
    this.served.set(bindingKey(from.key, msg.token), v.binding);
    if (this.opts.authenticated && resolved !== undefined)
      from.peer = this.opts.authenticated(from.peer, v.binding.kid, resolved);
    return v.message;
  }

  private inboundResponse(msg: CoapMessage, from: SeamPeer): SeamInbound {
    // No OSCORE request in flight: a plain response passes without building a key.
    if (this.sent.size === 0 && !hasOscore(msg)) return msg;
    const key = bindingKey(from.key, msg.token);
    const binding = this.sent.get(key);
    if (binding === undefined) {
      if (!hasOscore(msg)) return msg;
      this.countResponse('unmatched');
      return undefined;
    }
    if (!hasOscore(msg)) {
      // Section 8.2: the peer answers a request it could not verify with an unprotected error; passed up so
      // the request fails with it. A success without protection is never accepted.
      this.countResponse('unprotected');
      if (codeClass(msg.code) >= 4) {
        this.sent.delete(key);
        return msg;
      }
      return undefined;
    }
    const v = verifyResponse(binding, msg);
    if (!v.ok) {
      this.countResponse(v.reason);
      return undefined;
    }
    this.countResponse('ok');
    if (!(binding.observe && hasObserve(v.message))) this.sent.delete(key);
    return v.message;
  }

  /** Bindings held (for tests and gauges). */
  get bindings(): { served: number; sent: number } {
    return { served: this.served.size, sent: this.sent.size };
  }
}
