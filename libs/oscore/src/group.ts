// draft-ietf-core-oscore-groupcomm (Group OSCORE): the group Security Context (section 2: Common Context with
// the Signature Encryption Key, Sender Context, one Recipient Context per Sender ID), the group mode
// (section 7: Group Encryption Algorithm, countersignature (RFC 9338) encrypted with a keystream, section
// 4.2) and the pairwise mode (section 8: keys from static-static ECDH, section 2.5), with the external_aad
// of section 3.4. Key update: a new context from the Group Manager's configuration (section 11) replaces
// the old one; its sequence and replay windows start afresh.
import { DecodeError } from '@lwm2m/bytes';
import { CoapCode, isRequestCode, isResponseCode } from '@lwm2m/coap';
import type { CoapMessage, CoapOption } from '@lwm2m/coap';
import { encodeUint, OptionNumber } from '@lwm2m/coap';
import { encStructure } from './aad';
import { type AeadAlgorithm, aeadAlgorithm, aeadOpen, aeadSeal, hkdf, type HkdfHash } from './algorithms';
import { aeadNonce, cbor, encodePartialIv, hkdfInfo, partialIvNumber } from './context';
import { encodeOscoreOption, type OscoreOptionValue } from './option';
import { decodePlaintext, encodePlaintext } from './plaintext';
import {
  failure,
  first,
  keptOuter,
  readOscoreOption,
  type OscoreFailure,
  sorted,
  splitOptions,
  splitProxyUri,
} from './protect';
import { RecipientReplay } from './replay';
import { SenderSequence } from './sequence';
import { type SignatureAlgorithm, SignatureAlgorithms } from './signature';

const O = OptionNumber;
const EMPTY = Buffer.alloc(0);

/** A group member as the Group Manager describes it: its Sender ID and authentication credential. */
export interface GroupMember {
  senderId: Buffer;
  /** The credential exactly as distributed (opaque bytes: a CCS, a certificate, ...), section 2.4. */
  credential: Buffer;
  /** The public key the credential carries (Ed25519 32 bytes, or an uncompressed P-256 point). */
  publicKey: Uint8Array;
}

/** This endpoint in the group: its member entry and private key. */
export interface GroupSelf extends GroupMember {
  privateKey: Uint8Array;
}

export interface GroupContextInput {
  masterSecret: Buffer;
  masterSalt?: Buffer;
  /** ID Context: the Group Identifier (section 2.1.3). */
  gid: Buffer;
  hkdf?: HkdfHash;
  /** Group mode: the Group Encryption Algorithm (an AEAD here) ... */
  groupEncryption?: AeadAlgorithm;
  /** ... and the Signature Algorithm, whose curve the pairwise key agreement uses too. */
  signature: SignatureAlgorithm;
  /** Pairwise mode: the AEAD Algorithm (section 2.1.1); the key agreement is ECDH-SS + HKDF (2.1.7). */
  aead?: AeadAlgorithm;
  /** The Group Manager's authentication credential (gm_cred of the external_aad). */
  gmCredential: Buffer;
  self: GroupSelf;
  members: GroupMember[];
}

/** The parameters a Group Manager hands out (JSON-friendly: ids for algorithms, hex for bytes). */
export interface GroupManagerConfig {
  gid: string;
  masterSecret: string;
  masterSalt?: string;
  hkdf?: HkdfHash;
  groupEncryptionAlg?: number;
  signatureAlg: number;
  aeadAlg?: number;
  gmCredential: string;
  members: Array<{ senderId: string; credential: string; publicKey: string }>;
}

export interface GroupRecipient extends GroupMember {
  recipientKey: Buffer;
  replay: RecipientReplay;
  pairwiseSenderKey?: Buffer;
  pairwiseRecipientKey?: Buffer;
}

const hex = (b: Buffer): string => b.toString('hex');

function signatureAlgorithm(id: number): SignatureAlgorithm | undefined {
  return Object.values(SignatureAlgorithms).find((a) => a.id === id);
}

export class GroupSecurityContext {
  readonly gid: Buffer;
  readonly hkdf: HkdfHash;
  readonly groupEncryption: AeadAlgorithm | undefined;
  readonly signature: SignatureAlgorithm;
  readonly aead: AeadAlgorithm | undefined;
  readonly commonIv: Buffer;
  readonly signatureEncryptionKey: Buffer | undefined;
  readonly gmCredential: Buffer;
  readonly self: GroupSelf;
  readonly senderKey: Buffer;
  readonly sequence: SenderSequence;
  private readonly recipients = new Map<string, GroupRecipient>();
  private readonly input: GroupContextInput;

  constructor(input: GroupContextInput, opts: { sequence?: SenderSequence } = {}) {
    const keyAlg = input.groupEncryption ?? input.aead;
    if (keyAlg === undefined)
      throw new RangeError('Group OSCORE needs a Group Encryption Algorithm or an AEAD Algorithm');
    const nonces = [input.groupEncryption, input.aead]
      .filter((a) => a !== undefined)
      .map((a) => a.nonceLength);
    const maxId = Math.min(...nonces) - 6;
    for (const m of [input.self, ...input.members])
      if (m.senderId.length > maxId)
        throw new RangeError(`Group OSCORE Sender IDs are at most ${maxId} bytes`);
    this.input = input;
    this.gid = input.gid;
    this.hkdf = input.hkdf ?? 'sha256';
    this.groupEncryption = input.groupEncryption;
    this.signature = input.signature;
    this.aead = input.aead;
    this.gmCredential = input.gmCredential;
    this.self = input.self;
    // Section 2.3: keys derived as in RFC 8613 with alg_aead = the Group Encryption Algorithm when set.
    this.senderKey = this.derive(input.self.senderId, keyAlg.id, 'Key', keyAlg.keyLength);
    // Section 2.1.4: the Common IV is as long as the longest nonce of the two algorithms.
    this.commonIv = this.derive(EMPTY, keyAlg.id, 'IV', Math.max(...nonces));
    // Section 2.1.6.
    this.signatureEncryptionKey =
      input.groupEncryption &&
      this.derive(EMPTY, input.groupEncryption.id, 'SEKey', input.groupEncryption.keyLength);
    this.sequence = opts.sequence ?? new SenderSequence();
    for (const m of input.members) this.addMember(m);
  }

  /** Key update (section 11): the context the Group Manager's new configuration defines for `self`. */
  static fromConfig(config: GroupManagerConfig, self: GroupSelf, opts: { sequence?: SenderSequence } = {}) {
    const b = (s: string): Buffer => Buffer.from(s, 'hex');
    const alg = (id: number | undefined): AeadAlgorithm | undefined => {
      if (id === undefined) return undefined;
      const a = aeadAlgorithm(id);
      if (a === undefined) throw new RangeError(`AEAD algorithm ${id} not supported`);
      return a;
    };
    const signature = signatureAlgorithm(config.signatureAlg);
    if (signature === undefined)
      throw new RangeError(`signature algorithm ${config.signatureAlg} not supported`);
    return new GroupSecurityContext(
      {
        masterSecret: b(config.masterSecret),
        ...(config.masterSalt !== undefined ? { masterSalt: b(config.masterSalt) } : {}),
        gid: b(config.gid),
        ...(config.hkdf !== undefined ? { hkdf: config.hkdf } : {}),
        ...(config.groupEncryptionAlg !== undefined
          ? { groupEncryption: alg(config.groupEncryptionAlg) }
          : {}),
        signature,
        ...(config.aeadAlg !== undefined ? { aead: alg(config.aeadAlg) } : {}),
        gmCredential: b(config.gmCredential),
        self,
        members: config.members
          .filter((m) => !b(m.senderId).equals(self.senderId))
          .map((m) => ({ senderId: b(m.senderId), credential: b(m.credential), publicKey: b(m.publicKey) })),
      },
      opts,
    );
  }

  /** Section 2.1.7: ECDH-SS + HKDF-256 (-27) or -512 (-28), when the pairwise mode is set. */
  get pairwiseAlgId(): number | undefined {
    if (this.aead === undefined) return undefined;
    return this.hkdf === 'sha512' ? -28 : -27;
  }

  /** A Recipient Context for a member (joining, or learnt from the Group Manager later). */
  addMember(m: GroupMember): GroupRecipient {
    if (m.senderId.equals(this.self.senderId)) throw new RangeError('a member cannot have our own Sender ID');
    const keyAlg = (this.groupEncryption ?? this.aead)!;
    const r: GroupRecipient = {
      ...m,
      recipientKey: this.derive(m.senderId, keyAlg.id, 'Key', keyAlg.keyLength),
      replay: RecipientReplay.fresh(),
    };
    if (this.aead !== undefined) {
      // Section 2.5.1: IKM = own credential | peer credential | shared secret (each way round).
      const shared = this.signature.sharedSecret(this.self.privateKey, m.publicKey);
      if (shared === undefined) throw new RangeError('member public key gives no ECDH shared secret');
      const aead = this.aead;
      const pairwise = (salt: Buffer, ikm: Buffer, id: Buffer): Buffer =>
        hkdf(this.hkdf, salt, ikm, hkdfInfo(id, this.gid, aead.id, 'Key', aead.keyLength), aead.keyLength);
      r.pairwiseSenderKey = pairwise(
        this.senderKey,
        Buffer.concat([this.self.credential, m.credential, shared]),
        this.self.senderId,
      );
      r.pairwiseRecipientKey = pairwise(
        r.recipientKey,
        Buffer.concat([m.credential, this.self.credential, shared]),
        m.senderId,
      );
    }
    this.recipients.set(hex(m.senderId), r);
    return r;
  }

  recipient(senderId: Buffer): GroupRecipient | undefined {
    return this.recipients.get(hex(senderId));
  }

  /** For tests of key update: the inputs this context was made from. */
  get members(): GroupMember[] {
    return this.input.members;
  }

  private derive(id: Buffer, algId: number, type: 'Key' | 'IV' | 'SEKey', length: number): Buffer {
    return hkdf(
      this.hkdf,
      this.input.masterSalt ?? EMPTY,
      this.input.masterSecret,
      hkdfInfo(id, this.gid, algId, type, length),
      length,
    );
  }
}

/** Section 3.4: aad_array (the external_aad is its encoding). */
function groupAadArray(
  ctx: GroupSecurityContext,
  requestKid: Buffer,
  requestPiv: Buffer,
  requestKidContext: Buffer,
  oscoreOption: Buffer,
  senderCredential: Buffer,
): Buffer {
  const algorithms = [
    ctx.aead?.id ?? null,
    ctx.groupEncryption?.id ?? null,
    ctx.groupEncryption !== undefined ? ctx.signature.id : null,
    ctx.pairwiseAlgId ?? null,
  ];
  return Buffer.from(
    cbor.encode([
      1,
      algorithms,
      requestKid,
      requestPiv,
      EMPTY,
      requestKidContext,
      oscoreOption,
      senderCredential,
      ctx.gmCredential,
    ]),
  );
}

/** Section 4.2: KEYSTREAM = HKDF(PIV, Signature Encryption Key, [id, id_context, is-request, L], L). */
function keystream(ctx: GroupSecurityContext, piv: Buffer, idPiv: Buffer, request: boolean): Buffer {
  const L = ctx.signature.signatureLength;
  const info = Buffer.from(cbor.encode([idPiv, ctx.gid, request, L]));
  return hkdf(ctx.hkdf, piv, ctx.signatureEncryptionKey!, info, L);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** RFC 9338 section 3.3 for COSE_Encrypt0 (section 3.1): [ "CounterSignature0", h'', external_aad, ciphertext ]. */
function countersignStructure(aadArr: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(cbor.encode(['CounterSignature0', EMPTY, aadArr, ciphertext]));
}

/** Section 3.3: the nonce XORs only the first nonce-length bytes of the Common IV. */
function nonceFor(ctx: GroupSecurityContext, alg: AeadAlgorithm, idPiv: Buffer, piv: Buffer): Buffer {
  return aeadNonce(ctx.commonIv.subarray(0, alg.nonceLength), idPiv, piv);
}

export type GroupMode = 'group' | 'pairwise';

export interface GroupRequestBinding {
  context: GroupSecurityContext;
  mode: GroupMode;
  kid: Buffer;
  piv: Buffer;
  kidContext: Buffer;
  /** Pairwise: the Sender ID of the one recipient; server side: the client's. */
  peer?: Buffer;
  observe: boolean;
  /** Server: whether a response used the request's nonce already. */
  nonceUsed: boolean;
  /** Client: per responding server (Sender ID hex), the highest Partial IV accepted (-1: one without). */
  responses: Map<string, number>;
}

export type GroupProtectResult =
  { ok: true; message: CoapMessage; binding: GroupRequestBinding } | OscoreFailure;
export type GroupVerifyRequestResult =
  { ok: true; message: CoapMessage; binding: GroupRequestBinding; sender: GroupRecipient } | OscoreFailure;
export type GroupVerifyResponseResult =
  { ok: true; message: CoapMessage; sender: GroupRecipient; partialIv?: Buffer } | OscoreFailure;

interface SealParams {
  ctx: GroupSecurityContext;
  mode: GroupMode;
  /** Pairwise: the recipient. */
  peer?: GroupRecipient;
  request: boolean;
  code: number;
  inner: CoapOption[];
  payload: Buffer;
  option: OscoreOptionValue;
  /** The Partial IV and its generator of the nonce (and of the keystream). */
  piv: Buffer;
  idPiv: Buffer;
  requestKid: Buffer;
  requestPiv: Buffer;
  requestKidContext: Buffer;
}

function sealGroup(p: SealParams): { option: Buffer; payload: Buffer } | OscoreFailure {
  const { ctx } = p;
  const option = encodeOscoreOption({ ...p.option, ...(p.mode === 'group' ? { group: true } : {}) });
  const aadArr = groupAadArray(
    ctx,
    p.requestKid,
    p.requestPiv,
    p.requestKidContext,
    option,
    ctx.self.credential,
  );
  const plaintext = encodePlaintext({ code: p.code, options: sorted(p.inner), payload: p.payload });
  if (p.mode === 'pairwise') {
    const key = p.peer?.pairwiseSenderKey;
    if (ctx.aead === undefined || key === undefined) return failure('context-not-found');
    const nonce = nonceFor(ctx, ctx.aead, p.idPiv, p.piv);
    return { option, payload: aeadSeal(ctx.aead, key, nonce, encStructure(aadArr), plaintext) };
  }
  const alg = ctx.groupEncryption;
  if (alg === undefined) return failure('context-not-found');
  const ciphertext = aeadSeal(
    alg,
    ctx.senderKey,
    nonceFor(ctx, alg, p.idPiv, p.piv),
    encStructure(aadArr),
    plaintext,
  );
  const signature = ctx.signature.sign(ctx.self.privateKey, countersignStructure(aadArr, ciphertext));
  return {
    option,
    payload: Buffer.concat([ciphertext, xor(signature, keystream(ctx, p.piv, p.idPiv, p.request))]),
  };
}

interface OpenParams {
  ctx: GroupSecurityContext;
  mode: GroupMode;
  sender: GroupRecipient;
  request: boolean;
  option: Buffer;
  payload: Buffer;
  piv: Buffer;
  idPiv: Buffer;
  requestKid: Buffer;
  requestPiv: Buffer;
  requestKidContext: Buffer;
}

/** The plaintext; the countersignature is verified before anything is decrypted (section 7.2). */
function openGroup(p: OpenParams): Buffer | OscoreFailure {
  const { ctx } = p;
  const aadArr = groupAadArray(
    ctx,
    p.requestKid,
    p.requestPiv,
    p.requestKidContext,
    p.option,
    p.sender.credential,
  );
  if (p.mode === 'pairwise') {
    const key = p.sender.pairwiseRecipientKey;
    if (ctx.aead === undefined || key === undefined)
      return failure('decode', CoapCode.BAD_OPTION, 'Pairwise mode not supported');
    const plain = aeadOpen(
      ctx.aead,
      key,
      nonceFor(ctx, ctx.aead, p.idPiv, p.piv),
      encStructure(aadArr),
      p.payload,
    );
    return plain ?? failure('decrypt', CoapCode.BAD_REQUEST, 'Decryption failed');
  }
  const alg = ctx.groupEncryption;
  if (alg === undefined) return failure('decode', CoapCode.BAD_OPTION, 'Group mode not supported');
  const L = ctx.signature.signatureLength;
  if (p.payload.length < L + alg.tagLength + 1)
    return failure('decode', CoapCode.BAD_OPTION, 'Failed to decode COSE', {
      error: new DecodeError('short-payload', 'payload shorter than tag and countersignature', 'oscore'),
    });
  const ciphertext = p.payload.subarray(0, p.payload.length - L);
  const signature = xor(p.payload.subarray(p.payload.length - L), keystream(ctx, p.piv, p.idPiv, p.request));
  // Section 7.2: a failed signature answers like a failed decryption.
  if (!ctx.signature.verify(p.sender.publicKey, countersignStructure(aadArr, ciphertext), signature))
    return failure('decrypt', CoapCode.BAD_REQUEST, 'Decryption failed');
  const plain = aeadOpen(
    alg,
    p.sender.recipientKey,
    nonceFor(ctx, alg, p.idPiv, p.piv),
    encStructure(aadArr),
    ciphertext,
  );
  return plain ?? failure('decrypt', CoapCode.BAD_REQUEST, 'Decryption failed');
}

/**
 * Section 7.1 (group mode) or 8.1 (pairwise mode, to the member with Sender ID `to`): the Group OSCORE
 * request and its binding. Requests always carry 'kid context' = Gid (section 3.2).
 */
export function groupProtectRequest(
  ctx: GroupSecurityContext,
  request: CoapMessage,
  opts: { pairwiseTo?: Buffer } = {},
): GroupProtectResult {
  if (first(request.options, O.OSCORE) !== undefined) return failure('nested-oscore');
  const mode: GroupMode = opts.pairwiseTo === undefined ? 'group' : 'pairwise';
  const peer = opts.pairwiseTo === undefined ? undefined : ctx.recipient(opts.pairwiseTo);
  if (mode === 'pairwise' && peer === undefined) return failure('context-not-found');
  const seq = ctx.sequence.take();
  if (seq === undefined) return failure('sequence-exhausted');
  const piv = encodePartialIv(seq);
  const kid = ctx.self.senderId;
  const { outer, inner } = splitOptions(splitProxyUri(request.options));
  const observe = first(request.options, O.OBSERVE);
  if (observe !== undefined) outer.push({ number: O.OBSERVE, value: observe.value });
  const sealed = sealGroup({
    ctx,
    mode,
    ...(peer ? { peer } : {}),
    request: true,
    code: request.code,
    inner,
    payload: request.payload,
    option: { partialIv: piv, kidContext: ctx.gid, kid },
    piv,
    idPiv: kid,
    requestKid: kid,
    requestPiv: piv,
    requestKidContext: ctx.gid,
  });
  if ('ok' in sealed) return sealed;
  outer.push({ number: O.OSCORE, value: sealed.option });
  return {
    ok: true,
    message: {
      type: request.type,
      messageId: request.messageId,
      token: request.token,
      code: observe !== undefined ? CoapCode.FETCH : CoapCode.POST,
      options: sorted(outer),
      payload: sealed.payload,
    },
    binding: {
      context: ctx,
      mode,
      kid,
      piv,
      kidContext: ctx.gid,
      ...(opts.pairwiseTo ? { peer: opts.pairwiseTo } : {}),
      observe: observe !== undefined && observe.value.length === 0,
      nonceUsed: false,
      responses: new Map(),
    },
  };
}

/**
 * Sections 7.2 and 8.2: `lookup` finds the group's context by the request's 'kid context' (the Gid).
 * `replay: false` skips the replay check and leaves the window as it is: the phantom request of
 * draft-tiloca-core-observe-multicast-notifications section 6.3.1, rebuilt by every client that joins.
 */
export function groupVerifyRequest(
  request: CoapMessage,
  lookup: (gid: Buffer) => GroupSecurityContext | undefined,
  opts: { replay?: boolean } = {},
): GroupVerifyRequestResult {
  const replay = opts.replay ?? true;
  const read = readOscoreOption(request);
  if ('ok' in read) return read;
  const { partialIv: piv, kid, kidContext, group } = read.value;
  if (piv === undefined || kid === undefined || kidContext === undefined)
    return failure('decode', CoapCode.BAD_OPTION, 'Failed to decode COSE', {
      error: new DecodeError(
        'missing-kid-piv-or-gid',
        'group request without kid, Partial IV or kid context',
        'oscore',
      ),
    });
  const ctx = lookup(kidContext);
  const sender = ctx?.recipient(kid);
  if (ctx === undefined || sender === undefined)
    return failure('context-not-found', CoapCode.UNAUTHORIZED, 'Security context not found');
  const seq = partialIvNumber(piv);
  if (replay && !sender.replay.check(seq)) return failure('replay', CoapCode.UNAUTHORIZED, 'Replay detected');
  const mode: GroupMode = group ? 'group' : 'pairwise';
  const plain = openGroup({
    ctx,
    mode,
    sender,
    request: true,
    option: read.option,
    payload: request.payload,
    piv,
    idPiv: kid,
    requestKid: kid,
    requestPiv: piv,
    requestKidContext: kidContext,
  });
  if (!Buffer.isBuffer(plain)) return plain;
  if (replay) sender.replay.accept(seq);
  let inner;
  try {
    inner = decodePlaintext(plain);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return failure('bad-plaintext', CoapCode.BAD_REQUEST, 'Decryption failed', { error: err });
  }
  if (!isRequestCode(inner.code) || first(inner.options, O.OSCORE) !== undefined)
    return failure('bad-plaintext', CoapCode.BAD_REQUEST, 'Decryption failed');
  const observe = first(inner.options, O.OBSERVE);
  return {
    ok: true,
    message: {
      type: request.type,
      messageId: request.messageId,
      token: request.token,
      code: inner.code,
      options: sorted([...keptOuter(request), ...inner.options]),
      payload: inner.payload,
    },
    binding: {
      context: ctx,
      mode,
      kid,
      piv,
      kidContext,
      peer: kid,
      observe: observe !== undefined && observe.value.length === 0,
      nonceUsed: false,
      responses: new Map(),
    },
    sender,
  };
}

/**
 * Sections 7.3 and 8.3: the response, in the request's mode, under `context` (default: the binding's;
 * after a key update the new one, which then always takes a Partial IV and sends its Gid).
 */
export function groupProtectResponse(
  binding: GroupRequestBinding,
  response: CoapMessage,
  opts: { partialIv?: boolean; context?: GroupSecurityContext } = {},
): { ok: true; message: CoapMessage } | OscoreFailure {
  if (first(response.options, O.OSCORE) !== undefined) return failure('nested-oscore');
  const ctx = opts.context ?? binding.context;
  const rekeyed = ctx !== binding.context;
  const observe = first(response.options, O.OBSERVE);
  const notification = observe !== undefined && binding.observe;
  const peer = binding.peer === undefined ? undefined : ctx.recipient(binding.peer);
  if (binding.mode === 'pairwise' && peer === undefined) return failure('context-not-found');
  let piv = binding.piv;
  let idPiv = binding.kid;
  let fresh = false;
  if ((opts.partialIv ?? notification) || binding.nonceUsed || rekeyed) {
    const seq = ctx.sequence.take();
    if (seq === undefined) return failure('sequence-exhausted');
    piv = encodePartialIv(seq);
    idPiv = ctx.self.senderId;
    fresh = true;
  } else binding.nonceUsed = true;
  const { outer, inner } = splitOptions(response.options);
  let innerOptions = inner;
  if (observe !== undefined) {
    innerOptions = inner.map((o) => (o.number === O.OBSERVE ? { number: O.OBSERVE, value: EMPTY } : o));
    outer.push({ number: O.OBSERVE, value: observe.value });
  }
  const value: OscoreOptionValue = {
    ...(fresh ? { partialIv: piv } : {}),
    ...(rekeyed ? { kidContext: ctx.gid } : {}),
    // Section 3.2: responses in group mode always carry the server's Sender ID.
    ...(binding.mode === 'group' ? { kid: ctx.self.senderId } : {}),
  };
  const sealed = sealGroup({
    ctx,
    mode: binding.mode,
    ...(peer ? { peer } : {}),
    request: false,
    code: response.code,
    inner: innerOptions,
    payload: response.payload,
    option: value,
    piv,
    idPiv,
    requestKid: binding.kid,
    requestPiv: binding.piv,
    requestKidContext: binding.kidContext,
  });
  if ('ok' in sealed) return sealed;
  outer.push({ number: O.OSCORE, value: sealed.option });
  return {
    ok: true,
    message: {
      type: response.type,
      messageId: response.messageId,
      token: response.token,
      code: observe !== undefined ? CoapCode.CONTENT : CoapCode.CHANGED,
      options: sorted(outer),
      payload: sealed.payload,
    },
  };
}

/**
 * Sections 7.4 and 8.4: a response from one of the group's servers. Each server's responses are ordered
 * and replay-checked by their Partial IV (section 6.4.1); one without Partial IV is accepted once per server.
 * `context` replaces the binding's after a key update (a response carrying the new Gid).
 */
export function groupVerifyResponse(
  binding: GroupRequestBinding,
  response: CoapMessage,
  opts: { context?: GroupSecurityContext } = {},
): GroupVerifyResponseResult {
  const read = readOscoreOption(response);
  if ('ok' in read) return { ok: false, reason: read.reason, ...(read.error ? { error: read.error } : {}) };
  const { partialIv: piv, kid, kidContext, group } = read.value;
  const ctx = opts.context ?? binding.context;
  if (kidContext !== undefined && !kidContext.equals(ctx.gid)) return failure('context-not-found');
  const mode: GroupMode = group ? 'group' : 'pairwise';
  // A pairwise response may omit 'kid': it comes from the server the request was for (section 7.4).
  const senderId = kid ?? (binding.mode === 'pairwise' ? binding.peer : undefined);
  if (senderId === undefined) return failure('decode');
  if (binding.mode === 'pairwise' && binding.peer !== undefined && !senderId.equals(binding.peer))
    return failure('context-not-found');
  const sender = ctx.recipient(senderId);
  if (sender === undefined) return failure('context-not-found');
  const key = hex(senderId);
  const last = binding.responses.get(key);
  const n = piv === undefined ? -1 : partialIvNumber(piv);
  if (last !== undefined && (!binding.observe || n <= last)) return failure('replay');
  const plain = openGroup({
    ctx,
    mode,
    sender,
    request: false,
    option: read.option,
    payload: response.payload,
    piv: piv ?? binding.piv,
    idPiv: piv === undefined ? binding.kid : senderId,
    requestKid: binding.kid,
    requestPiv: binding.piv,
    requestKidContext: binding.kidContext,
  });
  if (!Buffer.isBuffer(plain)) return { ok: false, reason: plain.reason };
  let inner;
  try {
    inner = decodePlaintext(plain);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return failure('bad-plaintext', undefined, undefined, { error: err });
  }
  if (!isResponseCode(inner.code)) return failure('bad-plaintext');
  const observe = first(inner.options, O.OBSERVE);
  if (observe !== undefined && !binding.observe) return failure('unexpected-observe');
  binding.responses.set(key, n);
  const options =
    observe === undefined
      ? inner.options
      : inner.options.map((o) =>
          o.number === O.OBSERVE ? { number: O.OBSERVE, value: encodeUint(Math.max(0, n) % 0x1000000) } : o,
        );
  return {
    ok: true,
    message: {
      type: response.type,
      messageId: response.messageId,
      token: response.token,
      code: inner.code,
      options: sorted([...keptOuter(response), ...options]),
      payload: inner.payload,
    },
    sender,
    ...(piv !== undefined ? { partialIv: piv } : {}),
  };
}
