// RFC 8428 sections 4-4.6 (SenML records, base fields, resolution) with the LwM2M rules of TS 1.1 Core
// 7.4.4/7.4.5: names are paths (bn + n), vlo carries objlnk, time values are numbers of seconds.
// Shared by the SenML JSON (110) and SenML CBOR (112) codecs; only the serialization differs.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, PathValue, TimestampedNodes } from '../node';
import { Lwm2mPath } from '../path';
import { flatten, nodePath } from '../tree';
import type { CompositeCodec } from './codec';
import { leavesToComposite, leavesToNode, type RawLeaf, type RawValue } from './typed-leaves';
import { EncodeError, normalizeInteger, wireValueOf } from './values';

/** One SenML record (RFC 8428 section 4). Fields LwM2M never sends (bu, bs, u, s, ut) are kept as read. */
export interface SenmlRecord {
  bver?: number;
  bn?: string;
  bt?: number;
  bu?: string;
  bv?: number;
  bs?: number;
  n?: string;
  u?: string;
  v?: number | bigint;
  /** The wire form of v was a float (JSON fraction or exponent, CBOR major type 7). */
  vFloat?: boolean;
  vs?: string;
  vb?: boolean;
  vd?: Buffer;
  /** LwM2M Objlnk "ObjectID:InstanceID" (TS 1.1 Core 7.4.4, key "vlo" in JSON and CBOR). */
  vlo?: string;
  s?: number;
  t?: number;
  ut?: number;
  /** RFC 8790 section 5: a Patch Record whose value is null removes the records it names. */
  remove?: boolean;
}

/** A record after RFC 8428 4.6 resolution: full name, absolute time, one value (or none). */
export interface ResolvedRecord {
  name: string;
  time?: number;
  value?: RawValue;
}

/** RFC 8428 4.5.3: times below 2**28 are relative to now. */
const RELATIVE_TIME_LIMIT = 2 ** 28;
/** The SenML version this implementation understands (RFC 8428 4.4). */
const SENML_VERSION = 10;

export interface SenmlOptions {
  /** Seconds since the epoch, for relative times (RFC 8428 4.5.3). Defaults to the clock. */
  now?: () => number;
}

const defaultNow = (): number => Date.now() / 1000;

/** RFC 8428 4.6: resolve base name, base time, base value and relative times into plain records. */
export function resolveRecords(
  records: SenmlRecord[],
  codec: string,
  now: () => number = defaultNow,
): ResolvedRecord[] {
  let bn = '';
  let bt: number | undefined;
  let bv: number | undefined;
  const out: ResolvedRecord[] = [];
  for (const r of records) {
    if (r.bver !== undefined && r.bver > SENML_VERSION) {
      throw new DecodeError('unsupported-version', `SenML version ${r.bver}`, codec);
    }
    if (r.bn !== undefined) bn = r.bn;
    if (r.bt !== undefined) bt = r.bt;
    if (r.bv !== undefined) bv = r.bv;
    const name = bn + (r.n ?? '');
    if (name === '') throw new DecodeError('no-name', 'record without a name', codec);
    let time: number | undefined;
    if (bt !== undefined || r.t !== undefined) {
      time = (bt ?? 0) + (r.t ?? 0);
      if (time < RELATIVE_TIME_LIMIT) time = now() + time;
    }
    out.push({ name, time, value: recordValue(r, bv, codec) });
  }
  return out;
}

function recordValue(r: SenmlRecord, bv: number | undefined, codec: string): RawValue | undefined {
  const values: RawValue[] = [];
  if (r.v !== undefined) values.push({ kind: 'number', value: addBase(r.v, bv), float: r.vFloat === true });
  else if (
    bv !== undefined &&
    r.vs === undefined &&
    r.vb === undefined &&
    r.vd === undefined &&
    r.vlo === undefined
  ) {
    // RFC 8428 4.6: a base value alone gives the record its value
    values.push({ kind: 'number', value: bv, float: !Number.isInteger(bv) });
  }
  if (r.vs !== undefined) values.push({ kind: 'string', value: r.vs });
  if (r.vb !== undefined) values.push({ kind: 'boolean', value: r.vb });
  if (r.vd !== undefined) values.push({ kind: 'opaque', value: r.vd });
  if (r.vlo !== undefined) values.push({ kind: 'objlnk', value: r.vlo });
  if (values.length > 1) throw new DecodeError('bad-record', 'a record carries more than one value', codec);
  return values[0];
}

function addBase(v: number | bigint, bv: number | undefined): number | bigint {
  if (bv === undefined || bv === 0) return v;
  if (typeof v === 'bigint' && Number.isInteger(bv)) return normalizeInteger(v + BigInt(bv));
  return Number(v) + bv;
}

// ---- nodes -> records ----

/** Puts a typed value into the record field its type uses (TS 1.1 Core 7.4.4 and Appendix C). */
export function setRecordValue(rec: SenmlRecord, leaf: PathValue, codec: string): void {
  const w = wireValueOf(leaf.type, leaf.value, codec);
  switch (w.kind) {
    case 'string':
      rec.vs = w.value;
      return;
    case 'integer':
      rec.v = normalizeInteger(w.value);
      return;
    case 'float':
      if (!Number.isFinite(w.value))
        throw new EncodeError('bad-value', `SenML cannot carry ${w.value}`, codec);
      rec.v = w.value;
      rec.vFloat = true;
      return;
    case 'boolean':
      rec.vb = w.value;
      return;
    case 'opaque':
      rec.vd = w.value;
      return;
    case 'time':
      rec.v = w.value;
      return;
    case 'objlnk':
      rec.vlo = w.value;
      return;
  }
}

/**
 * Records for one node: the first carries bn (the node path, with a trailing "/" when the node has
 * children) and the others only n, relative to it - the shape of the TS 1.1 Core 7.4.4 examples.
 */
function nodeRecords(node: Lwm2mNode, path: Lwm2mPath, codec: string): SenmlRecord[] {
  const at = nodePath(node, path, codec);
  const leaves = flatten(node, at);
  const isLeaf = node.kind === 'singleResource' || node.kind === 'resourceInstance';
  const base = isLeaf ? at.toString() : at.toString() + '/';
  const skip = at.depth;
  return leaves.map((leaf, i) => {
    const rec: SenmlRecord = {};
    if (i === 0) rec.bn = base;
    if (!isLeaf) rec.n = leaf.path.ids().slice(skip).join('/');
    setRecordValue(rec, leaf, codec);
    return rec;
  });
}

export function nodeToRecords(node: Lwm2mNode, path: Lwm2mPath, codec: string): SenmlRecord[] {
  return nodeRecords(node, path, codec);
}

export function compositeToRecords(nodes: CompositeNodes, codec: string): SenmlRecord[] {
  return nodes.flatMap(({ path, node }) => nodeRecords(node, path, codec));
}

/**
 * Timestamped groups: the first record of each group carries bt. Base time persists (RFC 8428 4.6),
 * so groups without a time go first, before any bt is set.
 */
export function timestampedToRecords(data: TimestampedNodes, codec: string): SenmlRecord[] {
  const ordered = [...data.filter((g) => g.time === undefined), ...data.filter((g) => g.time !== undefined)];
  const out: SenmlRecord[] = [];
  for (const group of ordered) {
    const recs = compositeToRecords(group.nodes, codec);
    if (group.time !== undefined && recs.length) {
      // key order bn, bt, n, value as in the Leshan-verified examples
      const { bn, ...rest } = recs[0];
      recs[0] = bn === undefined ? { bt: group.time, ...rest } : { bn, bt: group.time, ...rest };
    }
    out.push(...recs);
  }
  return out;
}

export function pathsToRecords(paths: Lwm2mPath[]): SenmlRecord[] {
  return paths.map((p) => ({ n: p.toString() }));
}

// ---- records -> nodes ----

/** Parses a record name into a path, with the codec's name on the error. */
function parsePath(text: string, codec: string): Lwm2mPath {
  try {
    return Lwm2mPath.parse(text);
  } catch (e) {
    if (e instanceof DecodeError) throw new DecodeError('bad-path', e.message, codec);
    throw e;
  }
}

function leavesOf(resolved: ResolvedRecord[], codec: string): RawLeaf[] {
  return resolved.map((r) => {
    if (!r.value) throw new DecodeError('no-value', `record ${r.name.slice(0, 40)} has no value`, codec);
    return { path: parsePath(r.name, codec), raw: r.value, time: r.time };
  });
}

export function recordsToNode(
  records: SenmlRecord[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
  now?: () => number,
): Lwm2mNode {
  return leavesToNode(leavesOf(resolveRecords(records, codec, now), codec), path, model, codec);
}

export function recordsToComposite(
  records: SenmlRecord[],
  model: ObjectModelRegistry,
  codec: string,
  paths?: Lwm2mPath[],
  now?: () => number,
): CompositeNodes {
  return leavesToComposite(leavesOf(resolveRecords(records, codec, now), codec), model, codec, paths);
}

/** Groups leaves by their resolved time, in order of first appearance; one node per leaf. */
export function recordsToTimestamped(
  records: SenmlRecord[],
  model: ObjectModelRegistry,
  codec: string,
  now?: () => number,
): TimestampedNodes {
  const groups = new Map<number | undefined, RawLeaf[]>();
  for (const leaf of leavesOf(resolveRecords(records, codec, now), codec)) {
    const g = groups.get(leaf.time);
    if (g) g.push(leaf);
    else groups.set(leaf.time, [leaf]);
  }
  return [...groups.entries()].map(([time, leaves]) => {
    const nodes = leavesToComposite(
      leaves.map((l) => ({ path: l.path, raw: l.raw })),
      model,
      codec,
    );
    return time === undefined ? { nodes } : { time, nodes };
  });
}

/** Read-Composite / Observe-Composite request bodies: names only (values, if any, are ignored). */
export function recordsToPaths(records: SenmlRecord[], codec: string): Lwm2mPath[] {
  return resolveRecords(records, codec, () => 0).map((r) => parsePath(r.name, codec));
}

/** How one serialization reads each kind of SenML field; each throws DecodeError on a wrong type. */
export interface SenmlFieldReader<V> {
  /** bver, bt, bv, bs, s, t, ut. */
  number(v: V, label: string): number;
  /** v: exact integers (bigint past 2**53) and whether the wire form was a float. */
  value(v: V, label: string): { value: number | bigint; float: boolean };
  /** bn, bu, n, u, vs, vlo. */
  text(v: V, label: string): string;
  boolean(v: V, label: string): boolean;
  data(v: V, label: string): Buffer;
}

/** One record from its (label, value) fields, RFC 8428 4 / Table 4 (names; CBOR maps its labels first). */
export function recordFromFields<V>(
  fields: Iterable<[string, V]>,
  read: SenmlFieldReader<V>,
  codec: string,
): SenmlRecord {
  const rec: SenmlRecord = {};
  for (const [label, v] of fields) {
    switch (label) {
      case 'bver':
      case 'bt':
      case 'bv':
      case 'bs':
      case 's':
      case 't':
      case 'ut':
        rec[label] = read.number(v, label);
        break;
      case 'bn':
      case 'bu':
      case 'n':
      case 'u':
      case 'vs':
      case 'vlo':
        rec[label] = read.text(v, label);
        break;
      case 'v': {
        const n = read.value(v, label);
        rec.v = n.value;
        if (n.float) rec.vFloat = true;
        break;
      }
      case 'vb':
        rec.vb = read.boolean(v, label);
        break;
      case 'vd':
        rec.vd = read.data(v, label);
        break;
      default:
        checkUnknownLabel(label, codec);
    }
  }
  return rec;
}

/** The SenML value fields (RFC 8428 Table 1, with LwM2M's vlo): a null one removes in a Patch Pack (RFC 8790). */
export const SENML_VALUE_LABELS: ReadonlySet<string> = new Set(['v', 'vs', 'vb', 'vd', 'vlo']);

/**
 * A record of a pack that may be a Patch Pack (`nullRemoves`, RFC 8790 section 5): a value field of null marks
 * the record `remove` (its value fields dropped); otherwise as recordFromFields.
 */
export function patchRecordFromFields<V>(
  fields: Array<[string, V]>,
  read: SenmlFieldReader<V>,
  codec: string,
  nullRemoves: boolean,
): SenmlRecord {
  const remove = nullRemoves && fields.some(([k, v]) => v === null && SENML_VALUE_LABELS.has(k));
  if (!remove) return recordFromFields(fields, read, codec);
  const rec = recordFromFields(
    fields.filter(([k]) => !SENML_VALUE_LABELS.has(k)),
    read,
    codec,
  );
  rec.remove = true;
  return rec;
}

/** RFC 8428 4.4: labels ending in "_" must be understood; an unknown one rejects the pack. */
export function checkUnknownLabel(label: string, codec: string): void {
  if (label.endsWith('_'))
    throw new DecodeError('must-understand', `unknown label "${label.slice(0, 20)}"`, codec);
}

/** SenML records <-> bytes: the only part the JSON (RFC 8428 section 5) and CBOR (section 6) forms differ in. */
export interface SenmlSerializer {
  toRecords(payload: Buffer): SenmlRecord[];
  fromRecords(records: SenmlRecord[]): Buffer;
}

export interface SenmlCodec extends CompositeCodec {
  decodeComposite(payload: Buffer, model: ObjectModelRegistry, paths?: Lwm2mPath[]): CompositeNodes;
}

/** A SenML codec (Content-Format 110 or 112) over one serialization. */
export function createSenmlCodec(
  contentFormat: number,
  codec: string,
  { toRecords, fromRecords }: SenmlSerializer,
  options: SenmlOptions = {},
): SenmlCodec {
  const now = options.now;
  return {
    contentFormat,
    name: codec,
    encode: (node: Lwm2mNode, path: Lwm2mPath) => fromRecords(nodeToRecords(node, path, codec)),
    decode: (payload, path, model) => recordsToNode(toRecords(payload), path, model, codec, now),
    encodeComposite: (nodes: CompositeNodes) => fromRecords(compositeToRecords(nodes, codec)),
    decodeComposite: (payload, model, paths) =>
      recordsToComposite(toRecords(payload), model, codec, paths, now),
    encodePaths: (paths) => fromRecords(pathsToRecords(paths)),
    decodePaths: (payload) => recordsToPaths(toRecords(payload), codec),
    encodeTimestamped: (data: TimestampedNodes) => fromRecords(timestampedToRecords(data, codec)),
    decodeTimestamped: (payload, model) => recordsToTimestamped(toRecords(payload), model, codec, now),
  };
}
