// RFC 8428 section 5 (JSON representation) with TS 1.1 Core 7.4.4 (SenML JSON, Content-Format 110).
// Parsed with lossless-json so that integers stay exact past 2**53 (bigint) and 1.0 is told from 1,
// which JSON.parse cannot do; size and nesting are bounded before parsing.
import { DecodeError } from '@lwm2m/bytes';
import { parse } from 'lossless-json';
import { ContentFormat } from './codec';
import {
  createSenmlCodec,
  patchRecordFromFields,
  type SenmlFieldReader,
  type SenmlCodec,
  type SenmlOptions,
  type SenmlRecord,
} from './senml';
import { EncodeError, normalizeInteger } from './values';

const CODEC = 'senml-json';

// ---- parsing ----

/** A JSON number as written: exact integer (bigint past 2**53) or float (fraction or exponent). */
class JsonNumber {
  constructor(
    readonly value: number | bigint,
    readonly float: boolean,
  ) {}
}

/** What lossless-json gives back with our number parser: plain objects, arrays and JsonNumber. */
type JsonValue = string | boolean | null | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

/**
 * Larger than any LwM2M payload, even one reassembled from Block2 transfers: a bound on the work
 * a single pack can cause.
 */
export const MAX_SENML_JSON_BYTES = 1024 * 1024;
/** A pack is an array of flat objects (RFC 8428 5): two levels of nesting. */
const MAX_DEPTH = 2;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function parseNumber(text: string): JsonNumber {
  if (/[.eE]/.test(text)) return new JsonNumber(Number(text), true);
  // LwM2M integers are 64-bit: bigint past 2**53
  if (text.length <= 15) return new JsonNumber(Number(text), false);
  return new JsonNumber(normalizeInteger(BigInt(text)), false);
}

/**
 * Refuses nesting deeper than MAX_DEPTH in one pass over the text, skipping strings, so the
 * recursive parser never sees a deeply nested input.
 */
function checkDepth(text: string, codec: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string, escapes included; an unterminated one is left to the parser
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c) i++;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) throw new DecodeError('too-deep', 'SenML JSON nests deeper than 2', codec);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

function parseJson(payload: Buffer, codec = CODEC): JsonValue {
  if (payload.length > MAX_SENML_JSON_BYTES) {
    throw new DecodeError('too-large', `${payload.length} bytes of SenML JSON`, codec);
  }
  let text: string;
  try {
    text = utf8Decoder.decode(payload);
  } catch {
    throw new DecodeError('bad-utf8', 'payload is not valid UTF-8', codec);
  }
  checkDepth(text, codec);
  try {
    return parse(text, null, {
      parseNumber,
      onDuplicateKey: ({ key }) => {
        throw new DecodeError('bad-json', `duplicate member "${key.slice(0, 20)}"`, codec);
      },
    }) as JsonValue;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    // lossless-json throws SyntaxError on malformed text
    throw new DecodeError('bad-json', e instanceof Error ? e.message : String(e), codec);
  }
}

// ---- JSON <-> records ----

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** RFC 8428 5: vd is base64url without padding; standard base64 (with padding) is accepted too. */
function decodeData(s: string): Buffer {
  if (!(BASE64URL.test(s) || BASE64.test(s)) || s.replace(/=+$/, '').length % 4 === 1) {
    throw new DecodeError('bad-base64', 'vd is not base64url', CODEC);
  }
  return Buffer.from(s, s.includes('+') || s.includes('/') ? 'base64' : 'base64url');
}

function field<T>(v: JsonValue, ok: (x: JsonValue) => x is JsonValue & T, label: string): T {
  if (!ok(v)) throw new DecodeError('bad-record', `"${label}" has the wrong JSON type`, CODEC);
  return v as T;
}
const isString = (x: JsonValue): x is string => typeof x === 'string';
const isBoolean = (x: JsonValue): x is boolean => typeof x === 'boolean';
const isNumber = (x: JsonValue): x is JsonNumber => x instanceof JsonNumber;

const jsonFields: SenmlFieldReader<JsonValue> = {
  number: (v, label) => Number(field(v, isNumber, label).value),
  value: (v, label) => field(v, isNumber, label),
  text: (v, label) => field(v, isString, label),
  boolean: (v, label) => field(v, isBoolean, label),
  data: (v, label) => decodeData(field(v, isString, label)),
};

function toRecords(payload: Buffer, codec = CODEC, nullRemoves = false): SenmlRecord[] {
  const pack = parseJson(payload, codec);
  if (!Array.isArray(pack)) throw new DecodeError('bad-pack', 'a SenML pack is a JSON array', codec);
  return pack.map((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof JsonNumber) {
      throw new DecodeError('bad-record', 'a SenML record is a JSON object', codec);
    }
    // RFC 8790 section 5: in a Patch Pack a value field of null removes the matched records.
    return patchRecordFromFields(Object.entries(item), jsonFields, codec, nullRemoves);
  });
}

/** RFC 8790 Patch Pack in JSON (application/senml-etch+json): records, null values as `remove`. */
export function senmlEtchJsonRecords(payload: Buffer): SenmlRecord[] {
  return toRecords(payload, 'senml-etch-json', true);
}

/** Floats keep a fraction or exponent on the wire, so an integral float still reads back as a float. */
function formatNumber(v: number | bigint, float: boolean): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw new EncodeError('bad-value', `JSON cannot carry ${v}`, CODEC);
  const s = Object.is(v, -0) ? '-0.0' : String(v);
  return float && !/[.e]/.test(s) ? s + '.0' : s;
}

/** Serializes records with keys in the order of the TS 1.1 examples: bn, bt, n, then the value. */
function fromRecords(records: SenmlRecord[]): Buffer {
  const parts = records.map((r) => {
    const kv: string[] = [];
    const str = (k: string, s: string): number => kv.push(`"${k}":${JSON.stringify(s)}`);
    const n = (k: string, x: number | bigint, float = false): number =>
      kv.push(`"${k}":${formatNumber(x, float)}`);
    if (r.bver !== undefined) n('bver', r.bver);
    if (r.bn !== undefined) str('bn', r.bn);
    if (r.bt !== undefined) n('bt', r.bt);
    if (r.bu !== undefined) str('bu', r.bu);
    if (r.bv !== undefined) n('bv', r.bv);
    if (r.bs !== undefined) n('bs', r.bs);
    if (r.n !== undefined) str('n', r.n);
    if (r.u !== undefined) str('u', r.u);
    if (r.v !== undefined) n('v', r.v, r.vFloat === true);
    if (r.vs !== undefined) str('vs', r.vs);
    if (r.vb !== undefined) kv.push(`"vb":${r.vb}`);
    if (r.vd !== undefined) str('vd', r.vd.toString('base64url'));
    if (r.vlo !== undefined) str('vlo', r.vlo);
    if (r.remove === true) kv.push('"v":null');
    if (r.s !== undefined) n('s', r.s);
    if (r.t !== undefined) n('t', r.t);
    if (r.ut !== undefined) n('ut', r.ut);
    return `{${kv.join(',')}}`;
  });
  return Buffer.from(`[${parts.join(',')}]`, 'utf8');
}

/** SenML records <-> JSON, exported for tests and tools. */
export const senmlJson = { toRecords: (payload: Buffer) => toRecords(payload), fromRecords };

export type SenmlJsonCodecType = SenmlCodec;

export function createSenmlJsonCodec(options: SenmlOptions = {}): SenmlJsonCodecType {
  return createSenmlCodec(ContentFormat.SENML_JSON, CODEC, { toRecords, fromRecords }, options);
}

/** SenML JSON (application/senml+json, Content-Format 110). */
export const SenmlJsonCodec: SenmlJsonCodecType = createSenmlJsonCodec();
