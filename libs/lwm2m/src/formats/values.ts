// LwM2M TS 1.1 Core Appendix C (Data Types): text and binary forms of each resource type, shared by codecs.
import { isUtf8 } from 'node:buffer';
import { DecodeError } from '@lwm2m/bytes';
import { isObjectLink, type Lwm2mValue, type ObjectLink, type ResourceType } from '../value';

/**
 * Thrown by encoders given a node they cannot represent (wrong value type, a node kind the format
 * does not carry). Encoders run on our own data, so this is a caller bug, never bad network input.
 */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly reason: string,
    message: string,
    readonly codec: string,
  ) {
    super(`${codec}: ${message}`);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** Date's own range (ECMA-262 21.4.1.1): +-8.64e15 ms. */
const MAX_TIME_SECONDS = 8.64e12;

/** number when it is a safe integer, bigint beyond (value.ts mapping). */
export function normalizeInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function toBigInt(v: Lwm2mValue, type: ResourceType, codec: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new EncodeError('bad-value', `${type} value must be an integer, got ${String(v)}`, codec);
}

/** Integer value as bigint, checked against the type's range (int64 or uint64). */
export function integerOf(v: Lwm2mValue, type: 'integer' | 'unsigned', codec: string): bigint {
  const b = toBigInt(v, type, codec);
  const ok = type === 'integer' ? b >= INT64_MIN && b <= INT64_MAX : b >= 0n && b <= UINT64_MAX;
  if (!ok) throw new EncodeError('out-of-range', `${String(v)} does not fit a 64-bit ${type}`, codec);
  return b;
}

/** Seconds since the epoch of a time value (Date, or a number of seconds). */
export function timeToSeconds(v: Lwm2mValue, codec: string): number {
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new EncodeError('bad-value', 'invalid Date', codec);
    return Math.floor(ms / 1000);
  }
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new EncodeError('bad-value', `time value must be a Date, got ${String(v)}`, codec);
}

/** Date of a number of seconds; DecodeError when past Date's range. */
export function secondsToTime(s: number | bigint, codec: string): Date {
  const n = Number(s);
  if (!Number.isFinite(n) || Math.abs(n) > MAX_TIME_SECONDS) {
    throw new DecodeError('bad-time', `time ${String(s)} s is out of range`, codec);
  }
  return new Date(n * 1000);
}

export function floatOf(v: Lwm2mValue, codec: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new EncodeError('bad-value', `float value must be a number, got ${String(v)}`, codec);
}

export function objectLinkOf(v: Lwm2mValue, codec: string): ObjectLink {
  if (
    isObjectLink(v) &&
    Number.isInteger(v.objectId) &&
    Number.isInteger(v.instanceId) &&
    v.objectId >= 0 &&
    v.objectId <= 0xffff &&
    v.instanceId >= 0 &&
    v.instanceId <= 0xffff
  ) {
    return v;
  }
  throw new EncodeError('bad-value', 'objlnk value must be {objectId, instanceId} in 0..65535', codec);
}

function stringOf(v: Lwm2mValue, type: ResourceType, codec: string): string {
  if (typeof v === 'string') return v;
  throw new EncodeError('bad-value', `${type} value must be a string`, codec);
}

function bufferOf(v: Lwm2mValue, codec: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  throw new EncodeError('bad-value', 'opaque value must be a Buffer', codec);
}

function booleanOf(v: Lwm2mValue, codec: string): boolean {
  if (typeof v === 'boolean') return v;
  throw new EncodeError('bad-value', 'boolean value must be a boolean', codec);
}

/**
 * A typed value checked and put in the form the data-model formats (LwM2M JSON, SenML JSON/CBOR,
 * LwM2M CBOR) write it, per Appendix C: integers as bigint, time as epoch seconds, objlnk as "o:i".
 * Each format then only picks its field or CBOR item for the kind.
 */
export type WireValue =
  | { kind: 'string'; value: string }
  | { kind: 'integer'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'opaque'; value: Buffer }
  | { kind: 'time'; value: number }
  | { kind: 'objlnk'; value: string };

/** Throws EncodeError when the value does not fit the type (an executable, 'none', has no value). */
export function wireValueOf(type: ResourceType, v: Lwm2mValue, codec: string): WireValue {
  switch (type) {
    case 'string':
    case 'corelnk':
      return { kind: 'string', value: stringOf(v, type, codec) };
    case 'integer':
    case 'unsigned':
      return { kind: 'integer', value: integerOf(v, type, codec) };
    case 'float':
      return { kind: 'float', value: floatOf(v, codec) };
    case 'boolean':
      return { kind: 'boolean', value: booleanOf(v, codec) };
    case 'opaque':
      return { kind: 'opaque', value: bufferOf(v, codec) };
    case 'time':
      return { kind: 'time', value: timeToSeconds(v, codec) };
    case 'objlnk':
      return { kind: 'objlnk', value: objectLinkToText(objectLinkOf(v, codec)) };
    case 'none':
      throw new EncodeError('bad-value', 'an executable resource has no value', codec);
  }
}

// ---- text form (Core 7.4.1 text/plain, also used by JSON/SenML string forms) ----

const INTEGER_TEXT = /^[-+]?[0-9]{1,20}$/;
const UNSIGNED_TEXT = /^\+?[0-9]{1,20}$/;
const FLOAT_TEXT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?$/;
const OBJLNK_TEXT = /^([0-9]{1,5}):([0-9]{1,5})$/;
const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function objectLinkToText(l: ObjectLink): string {
  return `${l.objectId}:${l.instanceId}`;
}

export function parseObjectLink(text: string, codec: string): ObjectLink {
  // The 1.0 JSON example (TS 1.0 section 6.4.4) writes the null link as "FFFF:FFFF".
  if (text.toUpperCase() === 'FFFF:FFFF') return { objectId: 0xffff, instanceId: 0xffff };
  const m = OBJLNK_TEXT.exec(text);
  const objectId = m ? Number(m[1]) : NaN;
  const instanceId = m ? Number(m[2]) : NaN;
  if (!m || objectId > 0xffff || instanceId > 0xffff) {
    throw new DecodeError('bad-objlnk', `"${text.slice(0, 32)}" is not an objlnk "o:i"`, codec);
  }
  return { objectId, instanceId };
}

/** Parses a signed decimal integer into the int64 range. */
export function parseIntegerText(text: string, type: 'integer' | 'unsigned', codec: string): number | bigint {
  if (!(type === 'integer' ? INTEGER_TEXT : UNSIGNED_TEXT).test(text)) {
    throw new DecodeError('bad-number', `"${text.slice(0, 32)}" is not a decimal ${type}`, codec);
  }
  const b = BigInt(text.startsWith('+') ? text.slice(1) : text);
  const ok = type === 'integer' ? b >= INT64_MIN && b <= INT64_MAX : b <= UINT64_MAX;
  if (!ok) throw new DecodeError('out-of-range', `${text} does not fit a 64-bit ${type}`, codec);
  return normalizeInteger(b);
}

export function parseFloatText(text: string, codec: string): number {
  if (!FLOAT_TEXT.test(text)) {
    throw new DecodeError('bad-number', `"${text.slice(0, 32)}" is not a decimal float`, codec);
  }
  return Number(text);
}

/** Strict base64 (RFC 4648 section 4, padded); LwM2M 1.0 text/plain carried opaque this way. */
export function parseBase64(text: string, codec: string): Buffer {
  if (!BASE64_TEXT.test(text)) throw new DecodeError('bad-base64', 'invalid base64', codec);
  return Buffer.from(text, 'base64');
}

/** The Appendix C text form of a value. Opaque has none in 1.1 (callers decide on base64). */
export function valueToText(type: ResourceType, v: Lwm2mValue, codec: string): string {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return stringOf(v, type, codec);
    case 'integer':
    case 'unsigned':
      return integerOf(v, type, codec).toString();
    case 'float': {
      const f = floatOf(v, codec);
      if (!Number.isFinite(f)) throw new EncodeError('bad-value', `float ${f} has no text form`, codec);
      return String(f);
    }
    case 'boolean':
      return booleanOf(v, codec) ? '1' : '0';
    case 'time':
      return String(timeToSeconds(v, codec));
    case 'objlnk':
      return objectLinkToText(objectLinkOf(v, codec));
    case 'opaque':
      return bufferOf(v, codec).toString('base64');
  }
}

/** Parses the Appendix C text form; opaque is read as base64 (LwM2M 1.0 devices). */
export function textToValue(type: ResourceType, text: string, codec: string): Lwm2mValue {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return text;
    case 'integer':
    case 'unsigned':
      return parseIntegerText(text, type, codec);
    case 'float':
      return parseFloatText(text, codec);
    case 'boolean':
      if (text === '1') return true;
      if (text === '0') return false;
      throw new DecodeError('bad-boolean', `"${text.slice(0, 32)}" is not a boolean ("0" or "1")`, codec);
    case 'time':
      return secondsToTime(parseIntegerText(text, 'integer', codec), codec);
    case 'objlnk':
      return parseObjectLink(text, codec);
    case 'opaque':
      return parseBase64(text, codec);
  }
}

/** UTF-8 text of a payload; DecodeError on malformed UTF-8. */
export function utf8(buf: Buffer, codec: string): string {
  if (!isUtf8(buf)) throw new DecodeError('bad-utf8', 'payload is not valid UTF-8', codec);
  return buf.toString('utf8');
}

// ---- binary forms (Core 7.4.3 TLV values; also what CBOR-less formats need) ----

/** Two's complement in the shortest of 1, 2, 4 or 8 bytes (Core 7.4.3.1 "Integer"). */
export function encodeIntegerBytes(v: Lwm2mValue, codec: string): Buffer {
  const b = integerOf(v, 'integer', codec);
  if (b >= -0x80n && b <= 0x7fn) return Buffer.from([Number(b) & 0xff]);
  if (b >= -0x8000n && b <= 0x7fffn) {
    const out = Buffer.alloc(2);
    out.writeInt16BE(Number(b));
    return out;
  }
  if (b >= -0x80000000n && b <= 0x7fffffffn) {
    const out = Buffer.alloc(4);
    out.writeInt32BE(Number(b));
    return out;
  }
  const out = Buffer.alloc(8);
  out.writeBigInt64BE(b);
  return out;
}

export function decodeIntegerBytes(buf: Buffer, codec: string): number | bigint {
  switch (buf.length) {
    case 1:
      return buf.readInt8(0);
    case 2:
      return buf.readInt16BE(0);
    case 4:
      return buf.readInt32BE(0);
    case 8:
      return normalizeInteger(buf.readBigInt64BE(0));
    default:
      throw new DecodeError(
        'bad-integer-length',
        `integer of ${buf.length} bytes (1, 2, 4 or 8 expected)`,
        codec,
      );
  }
}

/** Unsigned integer (LwM2M 1.1) in the shortest of 1, 2, 4 or 8 bytes. */
export function encodeUnsignedBytes(v: Lwm2mValue, codec: string): Buffer {
  const b = integerOf(v, 'unsigned', codec);
  const n = b <= 0xffn ? 1 : b <= 0xffffn ? 2 : b <= 0xffffffffn ? 4 : 8;
  const out = Buffer.alloc(n);
  if (n === 8) out.writeBigUInt64BE(b);
  else out.writeUIntBE(Number(b), 0, n);
  return out;
}

export function decodeUnsignedBytes(buf: Buffer, codec: string): number | bigint {
  switch (buf.length) {
    case 1:
    case 2:
    case 4:
      return buf.readUIntBE(0, buf.length);
    case 8:
      return normalizeInteger(buf.readBigUInt64BE(0));
    default:
      throw new DecodeError(
        'bad-integer-length',
        `unsigned of ${buf.length} bytes (1, 2, 4 or 8 expected)`,
        codec,
      );
  }
}

/** IEEE 754 binary32 when exact, binary64 otherwise (Core 7.4.3.1 "Float": 4 or 8 bytes). */
export function encodeFloatBytes(v: Lwm2mValue, codec: string): Buffer {
  const f = floatOf(v, codec);
  if (Number.isNaN(f) || Math.fround(f) === f) {
    const out = Buffer.alloc(4);
    out.writeFloatBE(f);
    return out;
  }
  const out = Buffer.alloc(8);
  out.writeDoubleBE(f);
  return out;
}

export function decodeFloatBytes(buf: Buffer, codec: string): number {
  if (buf.length === 4) return buf.readFloatBE(0);
  if (buf.length === 8) return buf.readDoubleBE(0);
  throw new DecodeError('bad-float-length', `float of ${buf.length} bytes (4 or 8 expected)`, codec);
}

/** Objlnk: two 16-bit unsigned integers, object id then instance id (Core 7.4.3.1). */
export function encodeObjectLinkBytes(v: Lwm2mValue, codec: string): Buffer {
  const l = objectLinkOf(v, codec);
  const out = Buffer.alloc(4);
  out.writeUInt16BE(l.objectId, 0);
  out.writeUInt16BE(l.instanceId, 2);
  return out;
}

export function decodeObjectLinkBytes(buf: Buffer, codec: string): ObjectLink {
  if (buf.length !== 4)
    throw new DecodeError('bad-objlnk-length', `objlnk of ${buf.length} bytes (4 expected)`, codec);
  return { objectId: buf.readUInt16BE(0), instanceId: buf.readUInt16BE(2) };
}

/** The binary form of a value: TLV value bytes, opaque payload, integer/float widths. */
export function valueToBytes(type: ResourceType, v: Lwm2mValue, codec: string): Buffer {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return Buffer.from(stringOf(v, type, codec), 'utf8');
    case 'integer':
      return encodeIntegerBytes(v, codec);
    case 'unsigned':
      return encodeUnsignedBytes(v, codec);
    case 'float':
      return encodeFloatBytes(v, codec);
    case 'boolean':
      return Buffer.from([booleanOf(v, codec) ? 1 : 0]);
    case 'time':
      return encodeIntegerBytes(timeToSeconds(v, codec), codec);
    case 'objlnk':
      return encodeObjectLinkBytes(v, codec);
    case 'opaque':
      return bufferOf(v, codec);
  }
}

/** Reads the binary form of a value; the result never aliases a larger buffer for opaque. */
export function bytesToValue(type: ResourceType, buf: Buffer, codec: string): Lwm2mValue {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return utf8(buf, codec);
    case 'integer':
      return decodeIntegerBytes(buf, codec);
    case 'unsigned':
      return decodeUnsignedBytes(buf, codec);
    case 'float':
      return decodeFloatBytes(buf, codec);
    case 'boolean':
      if (buf.length === 1 && (buf[0] === 0 || buf[0] === 1)) return buf[0] === 1;
      throw new DecodeError('bad-boolean', 'boolean must be one byte 0 or 1', codec);
    case 'time':
      return secondsToTime(decodeIntegerBytes(buf, codec), codec);
    case 'objlnk':
      return decodeObjectLinkBytes(buf, codec);
    case 'opaque':
      return Buffer.from(buf);
  }
}

/** Checks that a value's JS type fits the resource type (encoders call it before writing). */
export function checkValue(type: ResourceType, v: Lwm2mValue, codec: string): void {
  if (type === 'opaque') bufferOf(v, codec);
  else valueToBytes(type, v, codec);
}
