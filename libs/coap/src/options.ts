// RFC 7252 section 5.4 and 5.10: option numbers, formats, the option registry and typed option access.
import { DecodeError } from '@lwm2m/bytes';
import type { CoapMessage, CoapOption } from './message';

/** Registered option numbers (IANA "CoAP Option Numbers"). */
export const OptionNumber = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6, // RFC 7641
  URI_PORT: 7,
  LOCATION_PATH: 8,
  OSCORE: 9, // RFC 8613
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  HOP_LIMIT: 16, // RFC 8768
  ACCEPT: 17,
  Q_BLOCK1: 19, // RFC 9177
  LOCATION_QUERY: 20,
  EDHOC: 21, // RFC 9668
  BLOCK2: 23, // RFC 7959
  BLOCK1: 27, // RFC 7959
  SIZE2: 28, // RFC 7959
  Q_BLOCK2: 31, // RFC 9177
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252, // RFC 9175
  NO_RESPONSE: 258, // RFC 7967
  REQUEST_TAG: 292, // RFC 9175
} as const;

/** RFC 7252 section 3.2 option value formats. */
export type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string';

export interface OptionDefinition {
  number: number;
  name: string;
  format: OptionFormat;
  repeatable: boolean;
  /** Value length bounds in bytes (RFC 7252 section 5.10 "Length" column). */
  minLength: number;
  maxLength: number;
  /** Value assumed when absent (e.g. Max-Age 60); uint options only. */
  defaultValue?: number;
  /** Repeatable only in requests (ETag, RFC 7252 section 5.10.6). */
  repeatableInRequestOnly?: boolean;
}

const registry = new Map<number, OptionDefinition>();

/** Registers (or replaces) an option definition: the extension point for options of other specs. */
export function defineOption(def: OptionDefinition): void {
  if (!Number.isInteger(def.number) || def.number < 0 || def.number > 0xffff) {
    throw new RangeError(`option number ${def.number} not in 0..65535`);
  }
  if (def.minLength < 0 || def.maxLength < def.minLength || def.maxLength > 65804) {
    throw new RangeError(`option ${def.name}: bad length bounds ${def.minLength}..${def.maxLength}`);
  }
  registry.set(def.number, { ...def });
}

export function optionDefinition(n: number): OptionDefinition | undefined {
  return registry.get(n);
}

const O = OptionNumber;
const builtin: OptionDefinition[] = [
  // RFC 7252 section 5.10 Table 4
  { number: O.IF_MATCH, name: 'If-Match', format: 'opaque', repeatable: true, minLength: 0, maxLength: 8 },
  { number: O.URI_HOST, name: 'Uri-Host', format: 'string', repeatable: false, minLength: 1, maxLength: 255 },
  {
    number: O.ETAG,
    name: 'ETag',
    format: 'opaque',
    repeatable: true,
    repeatableInRequestOnly: true,
    minLength: 1,
    maxLength: 8,
  },
  {
    number: O.IF_NONE_MATCH,
    name: 'If-None-Match',
    format: 'empty',
    repeatable: false,
    minLength: 0,
    maxLength: 0,
  },
  // RFC 7641 section 2
  { number: O.OBSERVE, name: 'Observe', format: 'uint', repeatable: false, minLength: 0, maxLength: 3 },
  { number: O.URI_PORT, name: 'Uri-Port', format: 'uint', repeatable: false, minLength: 0, maxLength: 2 },
  {
    number: O.LOCATION_PATH,
    name: 'Location-Path',
    format: 'string',
    repeatable: true,
    minLength: 0,
    maxLength: 255,
  },
  // RFC 8613 section 2
  { number: O.OSCORE, name: 'OSCORE', format: 'opaque', repeatable: false, minLength: 0, maxLength: 255 },
  { number: O.URI_PATH, name: 'Uri-Path', format: 'string', repeatable: true, minLength: 0, maxLength: 255 },
  {
    number: O.CONTENT_FORMAT,
    name: 'Content-Format',
    format: 'uint',
    repeatable: false,
    minLength: 0,
    maxLength: 2,
  },
  {
    number: O.MAX_AGE,
    name: 'Max-Age',
    format: 'uint',
    repeatable: false,
    minLength: 0,
    maxLength: 4,
    defaultValue: 60,
  },
  {
    number: O.URI_QUERY,
    name: 'Uri-Query',
    format: 'string',
    repeatable: true,
    minLength: 0,
    maxLength: 255,
  },
  // RFC 8768 section 3
  {
    number: O.HOP_LIMIT,
    name: 'Hop-Limit',
    format: 'uint',
    repeatable: false,
    minLength: 1,
    maxLength: 1,
    defaultValue: 16,
  },
  { number: O.ACCEPT, name: 'Accept', format: 'uint', repeatable: false, minLength: 0, maxLength: 2 },
  // RFC 9177 section 4 (Q-Block2 may repeat in requests for missing blocks)
  { number: O.Q_BLOCK1, name: 'Q-Block1', format: 'uint', repeatable: false, minLength: 0, maxLength: 3 },
  {
    number: O.LOCATION_QUERY,
    name: 'Location-Query',
    format: 'string',
    repeatable: true,
    minLength: 0,
    maxLength: 255,
  },
  // RFC 9668 section 3.1
  { number: O.EDHOC, name: 'EDHOC', format: 'empty', repeatable: false, minLength: 0, maxLength: 0 },
  // RFC 7959 section 2.1
  { number: O.BLOCK2, name: 'Block2', format: 'uint', repeatable: false, minLength: 0, maxLength: 3 },
  { number: O.BLOCK1, name: 'Block1', format: 'uint', repeatable: false, minLength: 0, maxLength: 3 },
  { number: O.SIZE2, name: 'Size2', format: 'uint', repeatable: false, minLength: 0, maxLength: 4 },
  { number: O.Q_BLOCK2, name: 'Q-Block2', format: 'uint', repeatable: true, minLength: 0, maxLength: 3 },
  {
    number: O.PROXY_URI,
    name: 'Proxy-Uri',
    format: 'string',
    repeatable: false,
    minLength: 1,
    maxLength: 1034,
  },
  {
    number: O.PROXY_SCHEME,
    name: 'Proxy-Scheme',
    format: 'string',
    repeatable: false,
    minLength: 1,
    maxLength: 255,
  },
  { number: O.SIZE1, name: 'Size1', format: 'uint', repeatable: false, minLength: 0, maxLength: 4 },
  // RFC 9175 sections 2.2.1 and 3.2.1
  { number: O.ECHO, name: 'Echo', format: 'opaque', repeatable: false, minLength: 1, maxLength: 40 },
  // RFC 7967 section 2
  {
    number: O.NO_RESPONSE,
    name: 'No-Response',
    format: 'uint',
    repeatable: false,
    minLength: 0,
    maxLength: 1,
  },
  {
    number: O.REQUEST_TAG,
    name: 'Request-Tag',
    format: 'opaque',
    repeatable: true,
    minLength: 0,
    maxLength: 8,
  },
];
for (const def of builtin) defineOption(def);

/** RFC 7252 section 5.4.6: odd numbers are critical. */
export function isCritical(n: number): boolean {
  return (n & 1) === 1;
}

/** RFC 7252 section 5.4.6: bit 1 set means unsafe to forward. */
export function isUnsafe(n: number): boolean {
  return (n & 2) === 2;
}

/** RFC 7252 section 5.4.6: NoCacheKey when bits 2..4 are all set. */
export function isNoCacheKey(n: number): boolean {
  return (n & 0x1e) === 0x1c;
}

/** RFC 7252 section 3.2: uint in the fewest bytes; 0 is the empty value. */
export function encodeUint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`uint option value ${n} not in 0..2^32-1`);
  if (n === 0) return Buffer.alloc(0);
  const len = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const b = Buffer.allocUnsafe(len);
  b.writeUIntBE(n, 0, len);
  return b;
}

/** RFC 7252 section 3.2: big-endian uint; leading zero bytes are tolerated (senders SHOULD NOT send them). */
export function decodeUint(buf: Buffer, maxLength = 4): number {
  if (buf.length > maxLength) {
    throw new DecodeError(
      'bad-option-length',
      `uint option of ${buf.length} bytes exceeds ${maxLength}`,
      'coap',
    );
  }
  let v = 0;
  for (let i = 0; i < buf.length; i++) v = v * 256 + buf[i];
  return v;
}

function toValue(value: Buffer | number | string): Buffer {
  if (typeof value === 'number') return encodeUint(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return value;
}

/** Whether a value's length fits its definition (RFC 7252 5.4.3: otherwise it is treated as unrecognized). */
function lengthOk(def: OptionDefinition | undefined, len: number): boolean {
  return def === undefined || (len >= def.minLength && len <= def.maxLength);
}

/** The first usable value of option n (occurrences with an out-of-range length are skipped, 5.4.3). */
export function getOption(msg: CoapMessage, n: number): Buffer | undefined {
  const def = registry.get(n);
  const opts = msg.options;
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    if (o.number !== n) continue;
    if (lengthOk(def, o.value.length)) return o.value;
    // 5.4.5: later occurrences of a non-repeatable option are supernumerary, never a fallback.
    if (def !== undefined && !def.repeatable) return undefined;
  }
  return undefined;
}

/** All usable values of option n in message order. */
export function getOptions(msg: CoapMessage, n: number): Buffer[] {
  const def = registry.get(n);
  const out: Buffer[] = [];
  for (const o of msg.options) if (o.number === n && lengthOk(def, o.value.length)) out.push(o.value);
  return out;
}

export function getUintOption(msg: CoapMessage, n: number): number | undefined {
  const v = getOption(msg, n);
  if (v === undefined) return undefined;
  // A length check already happened for registered options; unregistered ones are capped at 4 bytes.
  return v.length > 4 ? undefined : decodeUint(v, 4);
}

export function getStringOption(msg: CoapMessage, n: number): string | undefined {
  return getOption(msg, n)?.toString('utf8');
}

export function getStringOptions(msg: CoapMessage, n: number): string[] {
  return getOptions(msg, n).map((b) => b.toString('utf8'));
}

/** Inserts after every option with a number <= n, keeping wire order. */
function insertionIndex(options: CoapOption[], n: number): number {
  let i = options.length;
  while (i > 0 && options[i - 1].number > n) i--;
  return i;
}

/** Appends one occurrence of option n (after any existing occurrences). */
export function addOption(msg: CoapMessage, n: number, value: Buffer | number | string): void {
  msg.options.splice(insertionIndex(msg.options, n), 0, { number: n, value: toValue(value) });
}

export function removeOption(msg: CoapMessage, n: number): void {
  msg.options = msg.options.filter((o) => o.number !== n);
}

/** Replaces every occurrence of option n with one value. */
export function setOption(msg: CoapMessage, n: number, value: Buffer | number | string): void {
  removeOption(msg, n);
  addOption(msg, n, value);
}

/** Replaces every occurrence of option n with the given values, in order. */
export function setOptions(msg: CoapMessage, n: number, values: (Buffer | number | string)[]): void {
  removeOption(msg, n);
  const at = insertionIndex(msg.options, n);
  msg.options.splice(at, 0, ...values.map((v) => ({ number: n, value: toValue(v) })));
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not valid percent-encoding: keep it as written
  }
}

/**
 * RFC 7252 section 6.4 step 8: "" and "/" give no segment; otherwise each "/"-separated segment
 * (percent-decoded) is one value, so "/a/" gives "a" and "".
 */
export function splitPath(path: string): string[] {
  if (path === '' || path === '/') return [];
  const p = path.startsWith('/') ? path.slice(1) : path;
  return p.split('/').map(decodeSegment);
}

export function getUriPath(msg: CoapMessage): string[] {
  return getStringOptions(msg, OptionNumber.URI_PATH);
}

/** Sets Uri-Path from "/rd/abc" (or from ready segments). */
export function setUriPath(msg: CoapMessage, path: string | string[]): void {
  setOptions(msg, OptionNumber.URI_PATH, typeof path === 'string' ? splitPath(path) : path);
}

/** "/"-joined Uri-Path, e.g. "/rd/abc" (segments are not re-encoded). */
export function getUriPathString(msg: CoapMessage): string {
  return '/' + getUriPath(msg).join('/');
}

export function getUriQuery(msg: CoapMessage): string[] {
  return getStringOptions(msg, OptionNumber.URI_QUERY);
}

export function setUriQuery(msg: CoapMessage, query: string[]): void {
  setOptions(msg, OptionNumber.URI_QUERY, query);
}

/** Uri-Query "k=v" options as a map ("k" alone maps to ""); the first occurrence of a key wins. */
export function getUriQueryParams(msg: CoapMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const q of getUriQuery(msg)) {
    const eq = q.indexOf('=');
    const key = eq < 0 ? q : q.slice(0, eq);
    if (!out.has(key)) out.set(key, eq < 0 ? '' : q.slice(eq + 1));
  }
  return out;
}

export function getLocationPath(msg: CoapMessage): string[] {
  return getStringOptions(msg, OptionNumber.LOCATION_PATH);
}

export function setLocationPath(msg: CoapMessage, path: string | string[]): void {
  setOptions(msg, OptionNumber.LOCATION_PATH, typeof path === 'string' ? splitPath(path) : path);
}

export function getLocationQuery(msg: CoapMessage): string[] {
  return getStringOptions(msg, OptionNumber.LOCATION_QUERY);
}

export function getContentFormat(msg: CoapMessage): number | undefined {
  return getUintOption(msg, OptionNumber.CONTENT_FORMAT);
}

export function getAccept(msg: CoapMessage): number | undefined {
  return getUintOption(msg, OptionNumber.ACCEPT);
}

/** RFC 7641 section 2: 0 registers, 1 deregisters (requests); a sequence number in notifications. */
export function getObserve(msg: CoapMessage): number | undefined {
  return getUintOption(msg, OptionNumber.OBSERVE);
}

/** RFC 7252 section 5.10.5: 60 seconds when absent. */
export function getMaxAge(msg: CoapMessage): number {
  return getUintOption(msg, OptionNumber.MAX_AGE) ?? 60;
}

export function getETags(msg: CoapMessage): Buffer[] {
  return getOptions(msg, OptionNumber.ETAG);
}

/** RFC 7967 section 2: the No-Response bitmap, undefined when absent. */
export function getNoResponse(msg: CoapMessage): number | undefined {
  return getUintOption(msg, OptionNumber.NO_RESPONSE);
}

/** RFC 7967 section 2.1 bits of the No-Response value. */
export const NoResponseBits = { SUCCESS_2XX: 2, CLIENT_ERROR_4XX: 8, SERVER_ERROR_5XX: 16 } as const;

/**
 * RFC 7967 section 2.1: whether a response of `code` is suppressed by a No-Response value
 * (0 or absent: interested in every response).
 */
export function suppressesResponse(noResponse: number | undefined, code: number): boolean {
  if (!noResponse) return false;
  switch ((code >> 5) & 7) {
    case 2:
      return (noResponse & NoResponseBits.SUCCESS_2XX) !== 0;
    case 4:
      return (noResponse & NoResponseBits.CLIENT_ERROR_4XX) !== 0;
    case 5:
      return (noResponse & NoResponseBits.SERVER_ERROR_5XX) !== 0;
    default:
      return false;
  }
}

export interface BadOption {
  number: number;
  reason: 'unrecognized' | 'bad-length' | 'repeated';
}

/**
 * RFC 7252 sections 5.4.1, 5.4.3 and 5.4.5: the first critical option the receiver must reject,
 * so the message layer can answer 4.02 (CON request) or reject the message. An unknown critical
 * option, a critical option with an out-of-range length, and a second occurrence of a
 * non-repeatable critical option all count as unrecognized. Elective ones are silently ignored
 * (the accessors skip them).
 */
export function findBadOption(msg: CoapMessage, isRequest: boolean): BadOption | undefined {
  let prev = -1;
  for (const o of msg.options) {
    const n = o.number;
    const repeat = n === prev;
    prev = n;
    if (!isCritical(n)) continue;
    const def = registry.get(n);
    if (def === undefined) return { number: n, reason: 'unrecognized' };
    if (!lengthOk(def, o.value.length)) return { number: n, reason: 'bad-length' };
    if (repeat && !(def.repeatable && (isRequest || !def.repeatableInRequestOnly))) {
      return { number: n, reason: 'repeated' };
    }
  }
  return undefined;
}
