// RFC 8428 section 6 (CBOR representation, integer labels) with TS 1.1 Core 7.4.5 (SenML CBOR,
// Content-Format 112): opaque as a byte string, objlnk under the text label "vlo".
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, TimestampedNodes } from '../node';
import type { Lwm2mPath } from '../path';
import { cborInteger, decodeCbor, encodeCbor, ownBytes } from './cbor';
import type { CompositeCodec } from './codec';
import { ContentFormat } from './codec';
import {
  checkUnknownLabel,
  compositeToRecords,
  nodeToRecords,
  pathsToRecords,
  recordsToComposite,
  recordsToNode,
  recordsToPaths,
  recordsToTimestamped,
  timestampedToRecords,
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

function toRecords(payload: Buffer): SenmlRecord[] {
  const pack = decodeCbor(payload, CODEC);
  if (!Array.isArray(pack)) throw new DecodeError('bad-pack', 'a SenML pack is a CBOR array', CODEC);
  return pack.map((item: unknown) => {
    if (!(item instanceof Map)) throw new DecodeError('bad-record', 'a SenML record is a CBOR map', CODEC);
    const rec: SenmlRecord = {};
    // a label given twice collapses in the decoded Map (the last one wins)
    for (const [key, v] of item as Map<unknown, unknown>) {
      const label = typeof key === 'number' ? LABEL_NAME.get(key) : typeof key === 'string' ? key : undefined;
      if (label === undefined) {
        // unknown integer labels are ignored; unknown text labels ending in "_" are must-understand
        if (typeof key === 'string') checkUnknownLabel(key, CODEC);
        continue;
      }
      switch (label) {
        case 'bver':
          rec.bver = plain(v, label);
          break;
        case 'bn':
          rec.bn = str(v, label);
          break;
        case 'bt':
          rec.bt = plain(v, label);
          break;
        case 'bu':
          rec.bu = str(v, label);
          break;
        case 'bv':
          rec.bv = plain(v, label);
          break;
        case 'bs':
          rec.bs = plain(v, label);
          break;
        case 'n':
          rec.n = str(v, label);
          break;
        case 'u':
          rec.u = str(v, label);
          break;
        case 'v': {
          const n = numberOf(v, label);
          rec.v = n.value;
          if (n.float) rec.vFloat = true;
          break;
        }
        case 'vs':
          rec.vs = str(v, label);
          break;
        case 'vb':
          rec.vb = typeof v === 'boolean' ? v : bad(label);
          break;
        case 'vd':
          rec.vd = v instanceof Uint8Array ? ownBytes(v) : bad(label);
          break;
        case 'vlo':
          rec.vlo = str(v, label);
          break;
        case 's':
          rec.s = plain(v, label);
          break;
        case 't':
          rec.t = plain(v, label);
          break;
        case 'ut':
          rec.ut = plain(v, label);
          break;
        default:
          checkUnknownLabel(label, CODEC);
      }
    }
    return rec;
  });
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
    if (r.s !== undefined) m.set(SenmlLabel.s, cborInteger(r.s));
    if (r.t !== undefined) m.set(SenmlLabel.t, cborInteger(r.t));
    if (r.ut !== undefined) m.set(SenmlLabel.ut, cborInteger(r.ut));
    return m;
  });
  return encodeCbor(pack);
}

/** SenML records <-> CBOR, exported for tests and tools. */
export const senmlCbor = { toRecords, fromRecords };

export interface SenmlCborCodecType extends CompositeCodec {
  decodeComposite(payload: Buffer, model: ObjectModelRegistry, paths?: Lwm2mPath[]): CompositeNodes;
}

export function createSenmlCborCodec(options: SenmlOptions = {}): SenmlCborCodecType {
  const now = options.now;
  return {
    contentFormat: ContentFormat.SENML_CBOR,
    name: CODEC,
    encode: (node: Lwm2mNode, path: Lwm2mPath) => fromRecords(nodeToRecords(node, path, CODEC)),
    decode: (payload, path, model) => recordsToNode(toRecords(payload), path, model, CODEC, now),
    encodeComposite: (nodes: CompositeNodes) => fromRecords(compositeToRecords(nodes, CODEC)),
    decodeComposite: (payload, model, paths) =>
      recordsToComposite(toRecords(payload), model, CODEC, paths, now),
    encodePaths: (paths) => fromRecords(pathsToRecords(paths)),
    decodePaths: (payload) => recordsToPaths(toRecords(payload), CODEC),
    encodeTimestamped: (data: TimestampedNodes) => fromRecords(timestampedToRecords(data, CODEC)),
    decodeTimestamped: (payload, model) => recordsToTimestamped(toRecords(payload), model, CODEC, now),
  };
}

/** SenML CBOR (application/senml+cbor, Content-Format 112). */
export const SenmlCborCodec: SenmlCborCodecType = createSenmlCborCodec();
