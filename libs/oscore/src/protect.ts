// RFC 8613 section 8: protecting and verifying requests and responses, with Observe (sections 4.1.3.5,
// 7.4.1, 8.3.1, 8.4.2) and the Echo recovery of a lost replay window (Appendix B.1.2). Nothing here throws
// on network input: failures are typed results the CoAP layer answers (or drops) by their `code`.
import { DecodeError } from '@lwm2m/bytes';
import { CoapCode, isRequestCode, isResponseCode } from '@lwm2m/coap';
import { type CoapMessage, type CoapOption, CoapType } from '@lwm2m/coap';
import { encodeUint, OptionNumber } from '@lwm2m/coap';
import { aadArray, encStructure } from './aad';
import { aeadOpen, aeadSeal } from './algorithms';
import { aeadNonce, encodePartialIv, partialIvNumber, type SecurityContext } from './context';
import { decodeOscoreOption, encodeOscoreOption, type OscoreOptionValue } from './option';
import { decodePlaintext, encodePlaintext, isOuterOnly } from './plaintext';

const O = OptionNumber;
const EMPTY = Buffer.alloc(0);

/** What protecting or verifying a request leaves for its response(s) (section 8: Token -> context, PIV). */
export interface RequestBinding {
  context: SecurityContext;
  /** request_kid and request_piv of the external_aad (section 5.4). */
  kid: Buffer;
  piv: Buffer;
  /** The request's AEAD nonce, which a response without Partial IV uses (section 5.2). */
  nonce: Buffer;
  /** The request was an Observe registration (Observe 0). */
  observe: boolean;
  /** Whether some response already used the request's nonce (it must never be used twice). */
  nonceUsed: boolean;
  /** Client, Observe: the Notification Number (section 4.1.3.5.2), -1 before the first one with a PIV. */
  notificationNumber: number;
  /** Client, not Observe: a response was accepted (only one is, section 7.4). */
  answered: boolean;
}

/** Why a message was not protected or did not verify; `code` is the unprotected answer (section 8.2). */
export type OscoreFailureReason =
  | 'nested-oscore' // 4.1.3.7: the message to protect already has an OSCORE option
  | 'sequence-exhausted' // 7.2.1: no Sender Sequence Number may be used now (lease, or 2^40)
  | 'decode' // 8.2 step 2: the OSCORE option or COSE object does not decode
  | 'context-not-found' // 8.2 step 2
  | 'replay' // 7.4
  | 'decrypt' // 8.2 step 6, 8.4 step 5
  | 'bad-plaintext' // authenticated, but the inner message is malformed
  | 'echo-required' // B.1.2: replay window unknown; answer with the protected 4.01 in `challenge`
  | 'unexpected-observe'; // 4.1.3.5.2: an Inner Observe in a response to a non-Observe request

export interface OscoreFailure {
  ok: false;
  reason: OscoreFailureReason;
  /** For a server: the code of the unprotected error response (with Outer Max-Age 0), if one is sent. */
  code?: number;
  /** Section 8.2's diagnostic payload. */
  diagnostic?: string;
  /** echo-required: the OSCORE-protected 4.01 with Echo to send back instead of an unprotected error. */
  challenge?: CoapMessage;
  /** The decode error behind a 'decode' or 'bad-plaintext' failure. */
  error?: DecodeError;
}

export type ProtectResult = { ok: true; message: CoapMessage; binding: RequestBinding } | OscoreFailure;

export type VerifyRequestResult =
  { ok: true; message: CoapMessage; binding: RequestBinding; kidContext?: Buffer } | OscoreFailure;

export type VerifyResponseResult =
  { ok: true; message: CoapMessage; partialIv?: Buffer; kidContext?: Buffer } | OscoreFailure;

/** Finds the Recipient Context of a request's 'kid' (and 'kid context' when sent), section 8.2 step 2. */
export type ContextLookup = (kid: Buffer, kidContext: Buffer | undefined) => SecurityContext | undefined;

export function failure(
  reason: OscoreFailureReason,
  code?: number,
  diagnostic?: string,
  extra: Partial<OscoreFailure> = {},
): OscoreFailure {
  return {
    ok: false,
    reason,
    ...(code !== undefined ? { code } : {}),
    ...(diagnostic ? { diagnostic } : {}),
    ...extra,
  };
}

export function sorted(options: CoapOption[]): CoapOption[] {
  return options.sort((a, b) => a.number - b.number);
}

export function first(options: CoapOption[], n: number): CoapOption | undefined {
  return options.find((o) => o.number === n);
}

/**
 * Section 4.1.3.3: a Proxy-Uri is split; Uri-Path and Uri-Query become Inner, the Proxy-Uri keeps only the
 * scheme and authority. Undefined when it is not a URI we can split (the message is then protected as is).
 */
export function splitProxyUri(options: CoapOption[]): CoapOption[] {
  const proxy = first(options, O.PROXY_URI);
  if (proxy === undefined) return options;
  let url: URL;
  try {
    url = new URL(proxy.value.toString('utf8'));
  } catch {
    return options;
  }
  const rest = options.filter((o) => o.number !== O.PROXY_URI);
  const outer = Buffer.from(`${url.protocol}//${url.host}`, 'utf8');
  const path = url.pathname
    .split('/')
    .slice(1)
    .filter((s, i, all) => !(i === all.length - 1 && s === ''))
    .map((s) => ({ number: O.URI_PATH, value: Buffer.from(decodeURIComponent(s), 'utf8') }));
  const query = url.search
    .slice(1)
    .split('&')
    .filter((s) => s.length > 0)
    .map((s) => ({ number: O.URI_QUERY, value: Buffer.from(decodeURIComponent(s), 'utf8') }));
  return [...rest, { number: O.PROXY_URI, value: outer }, ...path, ...query];
}

/** Splits the original message's options into Outer (with the OSCORE option added) and Inner. */
export function splitOptions(options: CoapOption[]): { outer: CoapOption[]; inner: CoapOption[] } {
  const outer: CoapOption[] = [];
  const inner: CoapOption[] = [];
  for (const o of options) {
    if (isOuterOnly(o.number)) outer.push(o);
    else inner.push(o);
  }
  return { outer, inner };
}

function seal(
  ctx: SecurityContext,
  nonce: Buffer,
  kid: Buffer,
  piv: Buffer,
  code: number,
  inner: CoapOption[],
  payload: Buffer,
): Buffer {
  const aad = encStructure(aadArray(ctx.aead.id, kid, piv));
  return aeadSeal(ctx.aead, ctx.senderKey, nonce, aad, encodePlaintext({ code, options: inner, payload }));
}

function takePartialIv(ctx: SecurityContext): Buffer | undefined {
  const seq = ctx.sequence.take();
  return seq === undefined ? undefined : encodePartialIv(seq);
}

export interface ProtectRequestOptions {
  /** Send the ID Context as 'kid context' (section 5.1; Appendix B.2). */
  kidContext?: boolean;
}

/** Section 8.1: the OSCORE request for `request`, and the binding to verify its response(s) with. */
export function protectRequest(
  ctx: SecurityContext,
  request: CoapMessage,
  opts: ProtectRequestOptions = {},
): ProtectResult {
  if (first(request.options, O.OSCORE) !== undefined) return failure('nested-oscore');
  const piv = takePartialIv(ctx);
  if (piv === undefined) return failure('sequence-exhausted');
  const { outer, inner } = splitOptions(splitProxyUri(request.options));
  const observe = first(request.options, O.OBSERVE);
  // Section 4.1.3.5.1: the Outer Observe repeats the Inner one, so that proxies forward notifications.
  if (observe !== undefined) outer.push({ number: O.OBSERVE, value: observe.value });
  const nonce = aeadNonce(ctx.commonIv, ctx.senderId, piv);
  const ciphertext = seal(ctx, nonce, ctx.senderId, piv, request.code, sorted(inner), request.payload);
  const value: OscoreOptionValue = { partialIv: piv, kid: ctx.senderId };
  if (opts.kidContext && ctx.idContext !== undefined) value.kidContext = ctx.idContext;
  outer.push({ number: O.OSCORE, value: encodeOscoreOption(value) });
  return {
    ok: true,
    message: {
      type: request.type,
      messageId: request.messageId,
      token: request.token,
      // Section 4.2: POST, or FETCH with Observe (4.1.3.5).
      code: observe !== undefined ? CoapCode.FETCH : CoapCode.POST,
      options: sorted(outer),
      payload: ciphertext,
    },
    binding: newBinding(ctx, ctx.senderId, piv, nonce, observe !== undefined && observe.value.length === 0),
  };
}

function newBinding(
  ctx: SecurityContext,
  kid: Buffer,
  piv: Buffer,
  nonce: Buffer,
  observe: boolean,
): RequestBinding {
  return {
    context: ctx,
    kid,
    piv,
    nonce,
    observe,
    nonceUsed: false,
    notificationNumber: -1,
    answered: false,
  };
}

/**
 * The OSCORE option of a message and its decoding, or the failure (section 8.2 step 2): shared by OSCORE and
 * Group OSCORE (group.ts), which each decide what the Group Flag means for them.
 */
export function readOscoreOption(
  msg: CoapMessage,
): { option: Buffer; value: OscoreOptionValue } | OscoreFailure {
  const bad = (error: DecodeError) =>
    failure('decode', CoapCode.BAD_OPTION, 'Failed to decode COSE', { error });
  const option = first(msg.options, O.OSCORE);
  if (option === undefined) return bad(new DecodeError('missing-option', 'no OSCORE option', 'oscore'));
  // Section 2: an OSCORE message without payload is malformed.
  if (msg.payload.length === 0)
    return bad(new DecodeError('no-payload', 'OSCORE message without payload', 'oscore'));
  try {
    return { option: option.value, value: decodeOscoreOption(option.value) };
  } catch (err) {
    if (err instanceof DecodeError) return bad(err);
    throw err;
  }
}

/** readOscoreOption for a pairwise OSCORE message: one in group mode is not ours (group.ts verifies it). */
function readOption(msg: CoapMessage): { value: OscoreOptionValue } | OscoreFailure {
  const read = readOscoreOption(msg);
  if (!('value' in read) || !read.value.group) return read;
  return failure('decode', CoapCode.BAD_OPTION, 'Failed to decode COSE', {
    error: new DecodeError('group-flag', 'Group Flag set in an OSCORE message', 'oscore'),
  });
}

/** Outer options kept on reception: Class U only (section 8.2 step 1 discards Code and Class E ones). */
export function keptOuter(msg: CoapMessage): CoapOption[] {
  return msg.options.filter((o) => isOuterOnly(o.number) && o.number !== O.OSCORE);
}

/** Section 8.2: the decrypted request, or why not (with the code of the unprotected error to answer). */
export function verifyRequest(request: CoapMessage, lookup: ContextLookup): VerifyRequestResult {
  const read = readOption(request);
  if ('ok' in read) return read;
  const { partialIv: piv, kid, kidContext } = read.value;
  // Section 5: requests carry both 'kid' and 'Partial IV'.
  if (piv === undefined || kid === undefined)
    return failure('decode', CoapCode.BAD_OPTION, 'Failed to decode COSE', {
      error: new DecodeError('missing-kid-or-piv', 'request without kid or Partial IV', 'oscore'),
    });
  const ctx = lookup(kid, kidContext);
  if (ctx === undefined)
    return failure('context-not-found', CoapCode.UNAUTHORIZED, 'Security context not found');
  const seq = partialIvNumber(piv);
  if (!ctx.replay.check(seq)) return failure('replay', CoapCode.UNAUTHORIZED, 'Replay detected');
  const nonce = aeadNonce(ctx.commonIv, ctx.recipientId, piv);
  const aad = encStructure(aadArray(ctx.aead.id, kid, piv));
  const plain = aeadOpen(ctx.aead, ctx.recipientKey, nonce, aad, request.payload);
  if (plain === undefined) return failure('decrypt', CoapCode.BAD_REQUEST, 'Decryption failed');
  const binding = newBinding(ctx, kid, piv, nonce, false);
  let inner;
  try {
    inner = decodePlaintext(plain);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    ctx.replay.accept(seq);
    return failure('bad-plaintext', CoapCode.BAD_REQUEST, 'Decryption failed', { error: err });
  }
  if (!isRequestCode(inner.code) || first(inner.options, O.OSCORE) !== undefined) {
    ctx.replay.accept(seq);
    return failure('bad-plaintext', CoapCode.BAD_REQUEST, 'Decryption failed');
  }
  if (ctx.replay.needsEcho) {
    // Appendix B.1.2: fresh only when it returns the Echo value of our protected 4.01.
    if (!ctx.replay.answer(first(inner.options, O.ECHO)?.value, seq)) {
      const challenge = protectResponse(
        binding,
        {
          type: request.type === CoapType.CON ? CoapType.ACK : CoapType.NON,
          messageId: request.messageId,
          token: request.token,
          code: CoapCode.UNAUTHORIZED,
          options: [{ number: O.ECHO, value: ctx.replay.challenge() }],
          payload: EMPTY,
        },
        { partialIv: true },
      );
      return failure(
        'echo-required',
        undefined,
        undefined,
        challenge.ok ? { challenge: challenge.message } : {},
      );
    }
  } else {
    ctx.replay.accept(seq);
  }
  const observe = first(inner.options, O.OBSERVE);
  binding.observe = observe !== undefined && observe.value.length === 0;
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
    binding,
    ...(kidContext !== undefined ? { kidContext } : {}),
  };
}

export interface ProtectResponseOptions {
  /**
   * Whether to use a new Partial IV. Default: only for notifications (4.1.3.5.2); true for a single
   * response too (Appendix B.1.2, B.2); false lets the first notification use the request's nonce. A
   * second use of the request's nonce always gets a Partial IV instead.
   */
  partialIv?: boolean;
  /** Send a 'kid context': the context's ID Context (true), or this value (Appendix B.2 response #1: R2). */
  kidContext?: boolean | Buffer;
}

export type ProtectResponseResult = { ok: true; message: CoapMessage } | OscoreFailure;

/** Section 8.3 (and 8.3.1): the OSCORE response to the request of `binding`. */
export function protectResponse(
  binding: RequestBinding,
  response: CoapMessage,
  opts: ProtectResponseOptions = {},
): ProtectResponseResult {
  if (first(response.options, O.OSCORE) !== undefined) return failure('nested-oscore');
  const ctx = binding.context;
  const observe = first(response.options, O.OBSERVE);
  const notification = observe !== undefined && binding.observe;
  // A notification gets a Partial IV (4.1.3.5.2); so does any second use of the request's nonce (D.4).
  let piv: Buffer | undefined;
  let nonce = binding.nonce;
  if ((opts.partialIv ?? notification) || binding.nonceUsed) {
    piv = takePartialIv(ctx);
    if (piv === undefined) return failure('sequence-exhausted');
    nonce = aeadNonce(ctx.commonIv, ctx.senderId, piv);
  } else {
    binding.nonceUsed = true;
  }
  const { outer, inner } = splitOptions(response.options);
  let innerOptions = inner;
  if (observe !== undefined) {
    // Section 4.1.3.5.2: the Inner Observe of a notification is empty; the Outer one carries the value.
    innerOptions = inner.map((o) => (o.number === O.OBSERVE ? { number: O.OBSERVE, value: EMPTY } : o));
    outer.push({ number: O.OBSERVE, value: observe.value });
  }
  const ciphertext = seal(
    ctx,
    nonce,
    binding.kid,
    binding.piv,
    response.code,
    sorted(innerOptions),
    response.payload,
  );
  const value: OscoreOptionValue = piv !== undefined ? { partialIv: piv } : {};
  if (Buffer.isBuffer(opts.kidContext)) value.kidContext = opts.kidContext;
  else if (opts.kidContext && ctx.idContext !== undefined) value.kidContext = ctx.idContext;
  outer.push({ number: O.OSCORE, value: encodeOscoreOption(value) });
  return {
    ok: true,
    message: {
      type: response.type,
      messageId: response.messageId,
      token: response.token,
      // Section 4.2 and 4.1.3.5: 2.04 (Changed), or 2.05 (Content) with Observe.
      code: observe !== undefined ? CoapCode.CONTENT : CoapCode.CHANGED,
      options: sorted(outer),
      payload: ciphertext,
    },
  };
}

export interface VerifyResponseOptions {
  /** Verify with another context than the binding's (Appendix B.2 response #1, under the new ID Context). */
  context?: SecurityContext;
}

/** Section 8.4 (and 8.4.2): the decrypted response, or why it is dropped (a client answers nothing). */
export function verifyResponse(
  binding: RequestBinding,
  response: CoapMessage,
  opts: VerifyResponseOptions = {},
): VerifyResponseResult {
  const read = readOption(response);
  if ('ok' in read) return { ok: false, reason: read.reason, ...(read.error ? { error: read.error } : {}) };
  const { partialIv: piv, kidContext } = read.value;
  const ctx = opts.context ?? binding.context;
  if (!binding.observe && binding.answered) return failure('replay');
  let nonce = binding.nonce;
  if (piv !== undefined) nonce = aeadNonce(ctx.commonIv, ctx.recipientId, piv);
  // 8.4.2 A: the request's nonce serves one response only.
  else if (binding.nonceUsed) return failure('replay');
  const aad = encStructure(aadArray(ctx.aead.id, binding.kid, binding.piv));
  const plain = aeadOpen(ctx.aead, ctx.recipientKey, nonce, aad, response.payload);
  if (plain === undefined) return failure('decrypt');
  let inner;
  try {
    inner = decodePlaintext(plain);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return failure('bad-plaintext', undefined, undefined, { error: err });
  }
  if (!isResponseCode(inner.code) || first(inner.options, O.OSCORE) !== undefined)
    return failure('bad-plaintext');
  const observe = first(inner.options, O.OBSERVE);
  let options = inner.options;
  if (observe !== undefined) {
    if (!binding.observe) return failure('unexpected-observe');
    // Section 7.4.1: only notifications newer than the Notification Number; one without PIV is the oldest.
    const n = piv === undefined ? -1 : partialIvNumber(piv);
    if (piv === undefined ? binding.notificationNumber >= 0 : n <= binding.notificationNumber)
      return failure('replay');
    binding.notificationNumber = Math.max(binding.notificationNumber, n);
    // Section 4.1.3.5.2: the Observe value given to the CoAP layer is the PIV's three low bytes.
    options = options.map((o) =>
      o.number === O.OBSERVE ? { number: O.OBSERVE, value: encodeUint(n < 0 ? 0 : n % 0x1000000) } : o,
    );
  } else {
    binding.answered = true;
  }
  if (piv === undefined) binding.nonceUsed = true;
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
    ...(piv !== undefined ? { partialIv: piv } : {}),
    ...(kidContext !== undefined ? { kidContext } : {}),
  };
}
