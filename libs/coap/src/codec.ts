// RFC 7252 section 3: Message Format (header, token, options with delta/length encoding, payload marker).
import { ByteReader, DecodeError } from '@lwm2m/bytes';
import { COAP_VERSION, type CoapMessage, type CoapOption, type CoapType } from './message';

/** RFC 7252 section 3.1: the largest option length / delta the extended forms can carry (14 -> 269 + 0xffff). */
export const MAX_OPTION_VALUE_LENGTH = 65804;
/** Option numbers are 16-bit (IANA registry range 0..65535). */
export const MAX_OPTION_NUMBER = 0xffff;
export const MAX_TOKEN_LENGTH = 8;
export const PAYLOAD_MARKER = 0xff;

const EMPTY = Buffer.alloc(0);

export interface CoapHeader {
  type: CoapType;
  code: number;
  messageId: number;
  /** The raw TKL nibble (may be 9..15 in a malformed message). */
  tokenLength: number;
}

/**
 * Reads only the fixed 4-byte header, so a malformed CON can still be answered with a matching
 * RST (RFC 7252 sections 4.2/4.3). Undefined when there is no header or Ver is not 1 (such
 * messages are silently ignored, section 3).
 */
export function peekHeader(buf: Buffer): CoapHeader | undefined {
  if (buf.length < 4 || buf[0] >> 6 !== COAP_VERSION) return undefined;
  return {
    type: ((buf[0] >> 4) & 3) as CoapType,
    code: buf[1],
    messageId: (buf[2] << 8) | buf[3],
    tokenLength: buf[0] & 0x0f,
  };
}

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, 'coap');
}

/** Extended delta/length (section 3.1): nibble 13 -> 1 more byte + 13, 14 -> 2 more bytes + 269. */
function extended(r: ByteReader, nibble: number, what: string): number {
  if (nibble < 13) return nibble;
  if (nibble === 13) return r.u8(what) + 13;
  if (nibble === 14) return r.u16(what) + 269;
  return fail(
    what === 'option delta' ? 'bad-option-delta' : 'bad-option-length',
    `${what} nibble 15 is reserved`,
  );
}

/**
 * Decodes one CoAP message. Option values, token and payload are views of `buf`. Throws only
 * DecodeError (codec 'coap') for any message format error.
 */
export function decodeMessage(buf: Buffer): CoapMessage {
  const r = new ByteReader(buf, 'coap');
  if (buf.length < 4) fail('truncated', `message of ${buf.length} bytes is shorter than the 4-byte header`);
  const b0 = r.u8();
  if (b0 >> 6 !== COAP_VERSION) fail('bad-version', `version ${b0 >> 6}, expected 1`);
  const type = ((b0 >> 4) & 3) as CoapType;
  const tkl = b0 & 0x0f;
  // Section 3: lengths 9..15 are reserved and MUST be processed as a message format error.
  if (tkl > MAX_TOKEN_LENGTH) fail('bad-token-length', `token length ${tkl} is reserved`);
  const code = r.u8();
  const messageId = r.u16();
  // Section 4.1: an Empty message is exactly the 4-byte header.
  if (code === 0 && buf.length !== 4) {
    fail('bad-empty-message', `Empty message has ${buf.length - 4} bytes after the Message ID`);
  }
  const token = r.bytes(tkl, 'token');
  const options: CoapOption[] = [];
  let payload: Buffer = EMPTY;
  let number = 0;
  while (!r.done) {
    const b = r.u8();
    if (b === PAYLOAD_MARKER) {
      // Section 3: a marker followed by a zero-length payload is a message format error.
      if (r.done) fail('empty-payload', 'payload marker without payload');
      payload = r.rest();
      break;
    }
    const delta = extended(r, b >> 4, 'option delta');
    const length = extended(r, b & 0x0f, 'option length');
    number += delta;
    if (number > MAX_OPTION_NUMBER) fail('bad-option-number', `option number ${number} exceeds 65535`);
    options.push({ number, value: r.bytes(length, 'option value') });
  }
  return { type, code, messageId, token, options, payload };
}

function nibbleFor(v: number): number {
  return v < 13 ? v : v < 269 ? 13 : 14;
}

function extraBytes(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

function writeExtended(out: Buffer, at: number, v: number): number {
  if (v < 13) return at;
  if (v < 269) {
    out[at] = v - 13;
    return at + 1;
  }
  out.writeUInt16BE(v - 269, at);
  return at + 2;
}

function isSorted(options: CoapOption[]): boolean {
  for (let i = 1; i < options.length; i++) if (options[i].number < options[i - 1].number) return false;
  return true;
}

/**
 * Encodes one CoAP message. Options are sorted stably by number (so repeated options keep their
 * order). Throws TypeError/RangeError for values no valid message can carry (programmer errors).
 */
export function encodeMessage(msg: CoapMessage): Buffer {
  const { type, code, messageId, token, payload } = msg;
  if (!Number.isInteger(type) || type < 0 || type > 3) throw new RangeError(`type ${type} not in 0..3`);
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new RangeError(`code ${code} not in 0..255`);
  if (!Number.isInteger(messageId) || messageId < 0 || messageId > 0xffff) {
    throw new RangeError(`messageId ${messageId} not in 0..65535`);
  }
  if (!Buffer.isBuffer(token)) throw new TypeError('token must be a Buffer');
  if (token.length > MAX_TOKEN_LENGTH) throw new RangeError(`token of ${token.length} bytes exceeds 8`);
  if (!Buffer.isBuffer(payload)) throw new TypeError('payload must be a Buffer');
  const options = isSorted(msg.options) ? msg.options : [...msg.options].sort((a, b) => a.number - b.number);
  if (code === 0 && (token.length > 0 || options.length > 0 || payload.length > 0)) {
    throw new RangeError('an Empty message (0.00) carries no token, options or payload (RFC 7252 4.1)');
  }

  let size = 4 + token.length;
  let prev = 0;
  for (const o of options) {
    if (!Number.isInteger(o.number) || o.number < 0 || o.number > MAX_OPTION_NUMBER) {
      throw new RangeError(`option number ${o.number} not in 0..65535`);
    }
    if (!Buffer.isBuffer(o.value)) throw new TypeError(`option ${o.number} value must be a Buffer`);
    const len = o.value.length;
    if (len > MAX_OPTION_VALUE_LENGTH)
      throw new RangeError(`option ${o.number} value of ${len} bytes exceeds 65804`);
    size += 1 + extraBytes(o.number - prev) + extraBytes(len) + len;
    prev = o.number;
  }
  if (payload.length > 0) size += 1 + payload.length;

  const out = Buffer.allocUnsafe(size);
  out[0] = (COAP_VERSION << 6) | (type << 4) | token.length;
  out[1] = code;
  out[2] = messageId >> 8;
  out[3] = messageId & 0xff;
  let at = 4;
  at += token.copy(out, at);
  prev = 0;
  for (const o of options) {
    const delta = o.number - prev;
    const len = o.value.length;
    out[at++] = (nibbleFor(delta) << 4) | nibbleFor(len);
    at = writeExtended(out, at, delta);
    at = writeExtended(out, at, len);
    at += o.value.copy(out, at);
    prev = o.number;
  }
  if (payload.length > 0) {
    out[at++] = PAYLOAD_MARKER;
    payload.copy(out, at);
  }
  return out;
}

/** A message with no token, options or payload unless given: handy for building requests and tests. */
export function createMessage(
  fields: Partial<CoapMessage> & Pick<CoapMessage, 'type' | 'code'>,
): CoapMessage {
  return {
    messageId: 0,
    token: EMPTY,
    options: [],
    payload: EMPTY,
    ...fields,
  };
}
