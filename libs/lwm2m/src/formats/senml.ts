// RFC 8428 sections 4-4.6 (SenML records, base fields, resolution) with the LwM2M rules of TS 1.1 Core
// 7.4.4/7.4.5: names are paths (bn + n), vlo carries objlnk, time values are numbers of seconds.
// Shared by the SenML JSON (110) and SenML CBOR (112) codecs; only the serialization differs.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, PathValue, TimestampedNodes } from '../node';
import type { Lwm2mPath } from '../path';
import {
  buildNode,
  flattenNode,
  leavesToComposite,
  nodePath,
  parsePath,
  type RawLeaf,
  type RawValue,
} from './senml-tree';
import {
  EncodeError,
  floatOf,
  integerOf,
  normalizeInteger,
  objectLinkOf,
  objectLinkToText,
  timeToSeconds,
} from './values';

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
  const v = leaf.value;
  switch (leaf.type) {
    case 'string':
    case 'corelnk':
      if (typeof v !== 'string')
        throw new EncodeError('bad-value', `${leaf.type} value must be a string`, codec);
      rec.vs = v;
      return;
    case 'integer':
    case 'unsigned':
      rec.v = normalizeInteger(integerOf(v, leaf.type, codec));
      return;
    case 'float':
      rec.v = floatOf(v, codec);
      if (!Number.isFinite(rec.v)) throw new EncodeError('bad-value', `SenML cannot carry ${rec.v}`, codec);
      rec.vFloat = true;
      return;
    case 'boolean':
      if (typeof v !== 'boolean')
        throw new EncodeError('bad-value', 'boolean value must be a boolean', codec);
      rec.vb = v;
      return;
    case 'opaque':
      if (!Buffer.isBuffer(v)) throw new EncodeError('bad-value', 'opaque value must be a Buffer', codec);
      rec.vd = v;
      return;
    case 'time':
      rec.v = timeToSeconds(v, codec);
      return;
    case 'objlnk':
      rec.vlo = objectLinkToText(objectLinkOf(v, codec));
      return;
    case 'none':
      throw new EncodeError('bad-value', 'an executable resource has no value', codec);
  }
}

/**
 * Records for one node: the first carries bn (the node path, with a trailing "/" when the node has
 * children) and the others only n, relative to it - the shape of the TS 1.1 Core 7.4.4 examples.
 */
function nodeRecords(node: Lwm2mNode, path: Lwm2mPath, codec: string): SenmlRecord[] {
  const at = nodePath(node, path, codec);
  const leaves = flattenNode(node, at, codec);
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
  return buildNode(leavesOf(resolveRecords(records, codec, now), codec), path, model, codec);
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

/** RFC 8428 4.4: labels ending in "_" must be understood; an unknown one rejects the pack. */
export function checkUnknownLabel(label: string, codec: string): void {
  if (label.endsWith('_'))
    throw new DecodeError('must-understand', `unknown label "${label.slice(0, 20)}"`, codec);
}
