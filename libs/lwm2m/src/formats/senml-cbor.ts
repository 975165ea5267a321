// RFC 8428 section 6 (CBOR representation, integer labels) with TS 1.1 Core 7.4.5 (SenML CBOR,
// Content-Format 112): opaque as a byte string, objlnk under the text label "vlo".
import { DecodeError } from '@lwm2m/bytes';
import { cborInteger, decodeCbor, encodeCbor, ownBytes } from './cbor';
import { ContentFormat } from './codec';
import {
  createSenmlCodec,
  patchRecordFromFields,
  type SenmlFieldReader,
  type SenmlCodec,
  type SenmlOptions,
  type SenmlRecord,
} from './senml';
import { normalizeInteger } from './values';

const CODEC = 'senml-cbor';

/** RFC 8428 Table 6 (CBOR labels). */
export const SenmlLabel = {
  bver: -1,
  bn: -2,
  bt: -3,
  bu: -4,
  bv: -5,
  bs: -6,
  n: 0,
  u: 1,
  v: 2,
  vs: 3,
  vb: 4,
  s: 5,
  t: 6,
  ut: 7,
  vd: 8,
} as const;

const LABEL_NAME = new Map<number, string>(Object.entries(SenmlLabel).map(([k, v]) => [v, k]));

function bad(label: string): never {
  throw new DecodeError('bad-record', `"${label}" has the wrong CBOR type`, CODEC);
}

/**
 * A number. cbor-x has already turned tag 4 (decimal fraction, which Leshan uses for bt) into a
 * number and 64-bit integers into bigint. A float with an integral value (1.0) reads as an integer:
 * the model type decides for known resources.
 */
function numberOf(v: unknown, label: string): { value: number | bigint; float: boolean } {
  if (typeof v === 'bigint') return { value: normalizeInteger(v), float: false };
  if (typeof v === 'number') return { value: v, float: !Number.isInteger(v) };
  return bad(label);
}

const plain = (v: unknown, label: string): number => Number(numberOf(v, label).value);

function str(v: unknown, label: string): string {
  return typeof v === 'string' ? v : bad(label);
}

const cborFields: SenmlFieldReader<unknown> = {
  number: plain,
  value: numberOf,
  text: str,
  boolean: (v, label) => (typeof v === 'boolean' ? v : bad(label)),
  data: (v, label) => (v instanceof Uint8Array ? ownBytes(v) : bad(label)),
};

/**
 * Map entries under their RFC 8428 names: integer labels per Table 6, text labels as written.
 * Unknown integer labels are left out; unknown text ones go on, to be checked for must-understand.
 * A label given twice has already collapsed in the decoded Map (the last one wins).
 */
function* labelled(item: Map<unknown, unknown>): Generator<[string, unknown]> {
  for (const [key, v] of item) {
    const label = typeof key === 'number' ? LABEL_NAME.get(key) : typeof key === 'string' ? key : undefined;
    if (label !== undefined) yield [label, v];
  }
}

function toRecords(payload: Buffer, codec = CODEC, nullRemoves = false): SenmlRecord[] {
  const pack = decodeCbor(payload, codec);
  if (!Array.isArray(pack)) throw new DecodeError('bad-pack', 'a SenML pack is a CBOR array', codec);
  return pack.map((item: unknown) => {
    if (!(item instanceof Map)) throw new DecodeError('bad-record', 'a SenML record is a CBOR map', codec);
    // RFC 8790 section 5: in a Patch Pack a value field of null (CBOR simple value 22) removes the records.
    return patchRecordFromFields(
      [...labelled(item as Map<unknown, unknown>)],
      cborFields,
      codec,
      nullRemoves,
    );
  });
}

/** RFC 8790 Patch Pack in CBOR (application/senml-etch+cbor): records, null values as `remove`. */
export function senmlEtchCborRecords(payload: Buffer): SenmlRecord[] {
  return toRecords(payload, 'senml-etch-cbor', true);
}

/** Integers as CBOR integers, other numbers as floats (binary64); keys in label order bn, bt, n, value. */
function fromRecords(records: SenmlRecord[]): Buffer {
  const pack = records.map((r) => {
    const m = new Map<number | string, unknown>();
    if (r.bver !== undefined) m.set(SenmlLabel.bver, cborInteger(r.bver));
    if (r.bn !== undefined) m.set(SenmlLabel.bn, r.bn);
    if (r.bt !== undefined) m.set(SenmlLabel.bt, cborInteger(r.bt));
    if (r.bu !== undefined) m.set(SenmlLabel.bu, r.bu);
    if (r.bv !== undefined) m.set(SenmlLabel.bv, cborInteger(r.bv));
    if (r.bs !== undefined) m.set(SenmlLabel.bs, cborInteger(r.bs));
    if (r.n !== undefined) m.set(SenmlLabel.n, r.n);
    if (r.u !== undefined) m.set(SenmlLabel.u, r.u);
    // a float keeps its number form: cbor-x writes it as a float unless it is integral and 32-bit
    if (r.v !== undefined) m.set(SenmlLabel.v, r.vFloat && typeof r.v === 'number' ? r.v : cborInteger(r.v));
    if (r.vs !== undefined) m.set(SenmlLabel.vs, r.vs);
    if (r.vb !== undefined) m.set(SenmlLabel.vb, r.vb);
    if (r.vd !== undefined) m.set(SenmlLabel.vd, r.vd);
    if (r.vlo !== undefined) m.set('vlo', r.vlo);
    if (r.remove === true) m.set(SenmlLabel.v, null);
    if (r.s !== undefined) m.set(SenmlLabel.s, cborInteger(r.s));
    if (r.t !== undefined) m.set(SenmlLabel.t, cborInteger(r.t));
    if (r.ut !== undefined) m.set(SenmlLabel.ut, cborInteger(r.ut));
    return m;
  });
  return encodeCbor(pack);
}

/** SenML records <-> CBOR, exported for tests and tools. */
export const senmlCbor = { toRecords: (payload: Buffer) => toRecords(payload), fromRecords };

export type SenmlCborCodecType = SenmlCodec;

export function createSenmlCborCodec(options: SenmlOptions = {}): SenmlCborCodecType {
  return createSenmlCodec(ContentFormat.SENML_CBOR, CODEC, { toRecords, fromRecords }, options);
}

/** SenML CBOR (application/senml+cbor, Content-Format 112). */
export const SenmlCborCodec: SenmlCborCodecType = createSenmlCborCodec();
