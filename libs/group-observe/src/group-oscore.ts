// draft-tiloca-core-observe-multicast-notifications-04 sections 6 and 7: group observation protected
// end-to-end with Group OSCORE (draft-ietf-core-oscore-groupcomm, group mode). The server protects the
// phantom request with its own Sender Context "as if it was the actual sender" (6.2.1) and every
// multicast notification bound to it (6.2.3); the client verifies the phantom request rebuilt from the
// informative response without a replay check (6.3.1) and each notification with the phantom request's
// kid, Partial IV and kid context as request_kid / request_piv / request_kid_context (6.3.2).
import { DecodeError } from '@lwm2m/bytes';
import { CoapCode, encodeUint, getObserve, OptionNumber, type CoapMessage } from '@lwm2m/coap';
import {
  decodeOscoreOption,
  groupProtectRequest,
  groupProtectResponse,
  type GroupRequestBinding,
  type GroupSecurityContext,
  groupVerifyRequest,
  groupVerifyResponse,
  type OscoreOptionValue,
  partialIvNumber,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import type { OscoreGroupInfo } from './informative-response';
import type { GroupProtectionClient, GroupProtectionServer } from './protection';

/** The server could not protect a message (its sequence numbers are exhausted or not leased yet). */
export class GroupProtectionError extends Error {
  override readonly name = 'GroupProtectionError';
  constructor(readonly reason: string) {
    super(`Group OSCORE protection failed: ${reason}`);
  }
}

const OBSERVE_MODULO = 0x1000000;
const hex = (b: Buffer): string => b.toString('hex');

/** RFC 9053 / IANA COSE registries: what the section 6.1 parameters announce for our algorithms. */
function announced(ctx: GroupSecurityContext): Omit<OscoreGroupInfo, 'joinUri' | 'secGp'> {
  const ed = ctx.signature.id === SignatureAlgorithms.EdDSA_Ed25519.id;
  return {
    csAlg: ctx.signature.id,
    // cs_alg_crv / cs_key_kty: Ed25519 = 6 (key type OKP = 1), P-256 = 1 (key type EC2 = 2).
    csCrv: ed ? 6 : 1,
    csKty: ed ? 1 : 2,
    ...(ctx.groupEncryption ? { alg: ctx.groupEncryption.id } : {}),
    // HKDF SHA-256 = -10, SHA-512 = -11.
    hkdf: ctx.hkdf === 'sha512' ? -11 : -10,
  };
}

function oscoreOption(m: CoapMessage): OscoreOptionValue | undefined {
  const o = m.options.find((x) => x.number === OptionNumber.OSCORE);
  if (o === undefined) return undefined;
  try {
    return decodeOscoreOption(o.value);
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

export interface GroupOscoreServerOptions {
  /** The server's Group OSCORE Security Context (its Sender Context signs every notification). */
  context: GroupSecurityContext;
  /** Section 6.1: join_uri and sec_gp (both or nothing); the algorithm fields are filled in. */
  join?: { joinUri: string; secGp: string; asUri?: string };
}

/**
 * Section 6.2: Group OSCORE for the server. The binding of each phantom request (its kid, Partial IV and
 * kid context) is read back from its OSCORE option, so a group observation restored from the store keeps
 * protecting its notifications for the same phantom request.
 */
export class GroupOscoreServer implements GroupProtectionServer {
  readonly stats = { phantomRequests: 0, notifications: 0 };
  private ctx: GroupSecurityContext;
  /** The contexts before key updates, by Gid (a phantom request protected under one still binds). */
  private readonly previous = new Map<string, GroupSecurityContext>();
  private readonly join: GroupOscoreServerOptions['join'];

  constructor(opts: GroupOscoreServerOptions) {
    this.ctx = opts.context;
    this.join = opts.join;
  }

  get context(): GroupSecurityContext {
    return this.ctx;
  }

  /**
   * Key update (Group OSCORE section 11): notifications go out under `next` from now on, still bound to
   * the phantom requests already signaled (Group OSCORE 7.3: they then carry the new Gid as kid context).
   */
  rekey(next: GroupSecurityContext): void {
    this.previous.set(hex(this.ctx.gid), this.ctx);
    this.ctx = next;
  }

  /** Section 6.2.1 / 6.2.4: group mode, the server's kid, a fresh Partial IV (SN consumed). */
  protectPhantomRequest(phantom: CoapMessage): CoapMessage {
    const r = groupProtectRequest(this.ctx, phantom);
    if (!r.ok) throw new GroupProtectionError(r.reason);
    this.stats.phantomRequests++;
    return r.message;
  }

  /**
   * Section 6.2.3: group mode, bound to the phantom registration request. Always with a Partial IV of its
   * own: a notification sealed with the phantom request's nonce would reuse it under the same Sender Key.
   * The multicast 5.03 of a cancellation is bound to the registration too (see README: 6.2.4 pairs it
   * with the phantom cancellation request, which no client ever sees).
   */
  protectNotification(notification: CoapMessage, phantom: CoapMessage): CoapMessage {
    const value = oscoreOption(phantom);
    if (value?.kid === undefined || value.partialIv === undefined || value.kidContext === undefined)
      throw new GroupProtectionError('phantom request without kid, Partial IV or kid context');
    const requestContext = this.previous.get(hex(value.kidContext)) ?? this.ctx;
    const binding: GroupRequestBinding = {
      context: requestContext,
      mode: 'group',
      kid: value.kid,
      piv: value.partialIv,
      kidContext: value.kidContext,
      observe: true,
      nonceUsed: true,
      responses: new Map(),
    };
    const r = groupProtectResponse(binding, notification, { partialIv: true, context: this.ctx });
    if (!r.ok) throw new GroupProtectionError(r.reason);
    this.stats.notifications++;
    return r.message;
  }

  groupInfo(): OscoreGroupInfo | undefined {
    if (this.join === undefined) return undefined;
    return { ...this.join, ...announced(this.ctx) };
  }
}

/** Why the client refused a phantom request or a notification (each one counted in `stats.rejected`). */
export type GroupOscoreRejection =
  | 'wrong-group'
  | 'algorithm'
  | 'no-binding'
  | 'decode'
  | 'not-a-registration'
  | 'wrong-resource'
  | 'wrong-sender'
  | 'unknown-context'
  | 'replay'
  | 'decrypt'
  | 'bad-plaintext';

export interface GroupOscoreClientOptions {
  /** This client's Group OSCORE Security Context (with the server as a member). */
  context: GroupSecurityContext;
  /** Contexts from before key updates: a phantom request signaled before a rekey verifies with them. */
  previous?: GroupSecurityContext[];
  /** The server's Sender ID: a phantom request with another kid is refused. Default: any member. */
  serverId?: Buffer;
  /** Section 6.1: the OSCORE group this client is in; an informative response naming another is refused. */
  secGp?: string;
}

interface PhantomState {
  /** request_kid, request_piv, request_kid_context (section 6.3.1: stored from the phantom's option). */
  kid: Buffer;
  piv: Buffer;
  kidContext: Buffer;
  context: GroupSecurityContext;
  /** The binding under the current context: its per-server notification order (RFC 8613 4.1.3.5.2). */
  binding?: GroupRequestBinding;
  bindingGid?: string;
  /** Observe handed up = offset + Partial IV: continues upwards across a key update (see README). */
  offset: number;
  lastObserve: number;
}

/**
 * Section 6.3: Group OSCORE for the client. `verifyPhantomRequest` returns the protected phantom request
 * itself (its Code is FETCH) once it verified; the kid / Partial IV / kid context it carries bind the
 * notifications. A notification from any member other than the phantom request's sender is refused.
 */
export class GroupOscoreClient implements GroupProtectionClient {
  readonly stats: {
    phantomRequests: number;
    notifications: number;
    rejected: Record<GroupOscoreRejection, number>;
  } = {
    phantomRequests: 0,
    notifications: 0,
    rejected: {
      'wrong-group': 0,
      algorithm: 0,
      'no-binding': 0,
      decode: 0,
      'not-a-registration': 0,
      'wrong-resource': 0,
      'wrong-sender': 0,
      'unknown-context': 0,
      replay: 0,
      decrypt: 0,
      'bad-plaintext': 0,
    },
  };
  private ctx: GroupSecurityContext;
  private readonly previous = new Map<string, GroupSecurityContext>();
  private readonly phantoms = new WeakMap<CoapMessage, PhantomState>();

  constructor(private readonly opts: GroupOscoreClientOptions) {
    this.ctx = opts.context;
    for (const p of opts.previous ?? []) this.previous.set(hex(p.gid), p);
  }

  get context(): GroupSecurityContext {
    return this.ctx;
  }

  /** Key update: notifications verify under `next` only; the old context stays for phantom requests. */
  rekey(next: GroupSecurityContext): void {
    this.previous.set(hex(this.ctx.gid), this.ctx);
    this.ctx = next;
  }

  private reject(reason: GroupOscoreRejection): undefined {
    this.stats.rejected[reason]++;
    return undefined;
  }

  private contextFor(gid: Buffer): GroupSecurityContext | undefined {
    return gid.equals(this.ctx.gid) ? this.ctx : this.previous.get(hex(gid));
  }

  /** Section 6.3.1: decrypt and verify, no replay check, no window update, nothing delivered. */
  verifyPhantomRequest(
    phantom: CoapMessage,
    group?: OscoreGroupInfo,
    path?: readonly string[],
  ): CoapMessage | undefined {
    if (group !== undefined) {
      if (this.opts.secGp !== undefined && group.secGp !== this.opts.secGp) return this.reject('wrong-group');
      if (group.csAlg !== undefined && group.csAlg !== this.ctx.signature.id) return this.reject('algorithm');
      if (group.alg !== undefined && group.alg !== this.ctx.groupEncryption?.id)
        return this.reject('algorithm');
    }
    const value = oscoreOption(phantom);
    // Section 6.2.1: group mode only.
    if (value === undefined || value.group !== true) return this.reject('decode');
    if (value.kid !== undefined && this.opts.serverId !== undefined && !value.kid.equals(this.opts.serverId))
      return this.reject('wrong-sender');
    const v = groupVerifyRequest(phantom, (gid) => this.contextFor(gid), { replay: false });
    if (!v.ok) return this.reject(rejection(v.reason));
    // Section 2.1 step 1: a GET with Observe 0 (register), protected as FETCH.
    if (v.message.code !== CoapCode.GET || getObserve(v.message) !== 0)
      return this.reject('not-a-registration');
    // The informative response travels outside this protection: a genuine phantom request of another
    // resource of the same server would otherwise pass (and bind the client to that resource's notifications).
    if (path !== undefined) {
      const inner = v.message.options.filter((o) => o.number === OptionNumber.URI_PATH);
      const same =
        inner.length === path.length && inner.every((o, i) => o.value.toString('utf8') === path[i]);
      if (!same) return this.reject('wrong-resource');
    }
    this.phantoms.set(phantom, {
      kid: v.binding.kid,
      piv: v.binding.piv,
      kidContext: v.binding.kidContext,
      context: v.binding.context,
      offset: 0,
      lastObserve: -1,
    });
    this.stats.phantomRequests++;
    return phantom;
  }

  /** Section 6.3.2: group mode, from the phantom request's sender, in order (RFC 8613 4.1.3.5.2). */
  unprotectNotification(notification: CoapMessage, phantom: CoapMessage): CoapMessage | undefined {
    const state = this.phantoms.get(phantom);
    if (state === undefined) return this.reject('no-binding');
    const value = oscoreOption(notification);
    if (value === undefined || value.group !== true || value.partialIv === undefined)
      return this.reject('decode');
    if (value.kid === undefined || !value.kid.equals(state.kid)) return this.reject('wrong-sender');
    if (value.kidContext !== undefined && !value.kidContext.equals(this.ctx.gid))
      return this.reject('unknown-context');
    const gid = hex(this.ctx.gid);
    if (state.binding === undefined || state.bindingGid !== gid) {
      // A key update: a fresh order under the new context; Observe continues above the last one.
      if (state.binding !== undefined) state.offset = (state.lastObserve + 1) % OBSERVE_MODULO;
      state.binding = {
        context: state.context,
        mode: 'group',
        kid: state.kid,
        piv: state.piv,
        kidContext: state.kidContext,
        observe: true,
        nonceUsed: true,
        responses: new Map(),
      };
      state.bindingGid = gid;
    }
    const r = groupVerifyResponse(
      state.binding,
      notification,
      this.ctx !== state.context ? { context: this.ctx } : {},
    );
    if (!r.ok) return this.reject(rejection(r.reason));
    this.stats.notifications++;
    if (getObserve(r.message) === undefined) return r.message;
    const observe = (state.offset + partialIvNumber(value.partialIv)) % OBSERVE_MODULO;
    state.lastObserve = observe;
    return {
      ...r.message,
      options: r.message.options.map((o) =>
        o.number === OptionNumber.OBSERVE ? { number: o.number, value: encodeUint(observe) } : o,
      ),
    };
  }
}

function rejection(reason: string): GroupOscoreRejection {
  switch (reason) {
    case 'replay':
      return 'replay';
    case 'context-not-found':
      return 'unknown-context';
    case 'bad-plaintext':
    case 'unexpected-observe':
      return 'bad-plaintext';
    case 'decrypt':
      return 'decrypt';
    default:
      return 'decode';
  }
}
