// LwM2M TS 1.2 Core 7.4.5-7.4.6: SenML and LwM2M CBOR carry flat (path, value) leaves; this file turns
// node trees into leaves and back, and gives each decoded value its type (model first, then the wire).
// Private to the SenML / LwM2M CBOR codecs until tree.ts and these are merged.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, Lwm2mObjectInstance, Lwm2mResource, PathValue } from '../node';
import { Lwm2mPath } from '../path';
import type { Lwm2mValue, ResourceType } from '../value';
import { EncodeError, normalizeInteger, parseObjectLink, secondsToTime } from './values';

/** A value as the wire carried it, before the model gives it an LwM2M type. */
export type RawValue =
  | { kind: 'number'; value: number | bigint; float: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'opaque'; value: Buffer }
  | { kind: 'objlnk'; value: string }
  /** An explicitly tagged time (CBOR tag 1), seconds since the epoch. */
  | { kind: 'time'; value: number };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function mismatch(raw: RawValue, type: ResourceType, codec: string): never {
  throw new DecodeError('type-mismatch', `a ${raw.kind} value cannot be a ${type} resource`, codec);
}

function integerFrom(raw: RawValue, type: 'integer' | 'unsigned', codec: string): number | bigint {
  if (raw.kind !== 'number') return mismatch(raw, type, codec);
  const v = raw.value;
  if (typeof v === 'number' && !Number.isInteger(v)) {
    throw new DecodeError('bad-number', `${v} is not an integer`, codec);
  }
  const b = BigInt(v);
  const ok = type === 'integer' ? b >= INT64_MIN && b <= INT64_MAX : b >= 0n && b <= UINT64_MAX;
  if (!ok) throw new DecodeError('out-of-range', `${b} does not fit a 64-bit ${type}`, codec);
  return normalizeInteger(b);
}

/**
 * Types a wire value. `type` comes from the model when the resource is known; unknown resources
 * take the type the value carries (Core 7.4: the generic fallback): integral non-float numbers are
 * integers (unsigned past int64), other numbers floats.
 */
export function typeValue(
  raw: RawValue,
  type: ResourceType | undefined,
  codec: string,
): { type: ResourceType; value: Lwm2mValue } {
  if (type === undefined || type === 'none') return inferValue(raw, codec);
  switch (type) {
    case 'string':
    case 'corelnk':
      if (raw.kind !== 'string') return mismatch(raw, type, codec);
      return { type, value: raw.value };
    case 'integer':
    case 'unsigned':
      return { type, value: integerFrom(raw, type, codec) };
    case 'float':
      if (raw.kind !== 'number') return mismatch(raw, type, codec);
      return { type, value: Number(raw.value) };
    case 'boolean':
      if (raw.kind !== 'boolean') return mismatch(raw, type, codec);
      return { type, value: raw.value };
    case 'opaque':
      if (raw.kind !== 'opaque') return mismatch(raw, type, codec);
      return { type, value: raw.value };
    case 'time':
      if (raw.kind === 'time') return { type, value: secondsToTime(raw.value, codec) };
      return { type, value: secondsToTime(integerFrom(raw, 'integer', codec), codec) };
    case 'objlnk':
      if (raw.kind !== 'objlnk' && raw.kind !== 'string') return mismatch(raw, type, codec);
      return { type, value: parseObjectLink(raw.value, codec) };
  }
}

function inferValue(raw: RawValue, codec: string): { type: ResourceType; value: Lwm2mValue } {
  switch (raw.kind) {
    case 'number': {
      const v = raw.value;
      if (raw.float || (typeof v === 'number' && !Number.isInteger(v)))
        return { type: 'float', value: Number(v) };
      const b = BigInt(v);
      if (b >= INT64_MIN && b <= INT64_MAX) return { type: 'integer', value: normalizeInteger(b) };
      if (b >= 0n && b <= UINT64_MAX) return { type: 'unsigned', value: b };
      return { type: 'float', value: Number(v) };
    }
    case 'string':
      return { type: 'string', value: raw.value };
    case 'boolean':
      return { type: 'boolean', value: raw.value };
    case 'opaque':
      return { type: 'opaque', value: raw.value };
    case 'objlnk':
      return { type: 'objlnk', value: parseObjectLink(raw.value, codec) };
    case 'time':
      return { type: 'time', value: secondsToTime(raw.value, codec) };
  }
}

/** The model's type of the resource a leaf path belongs to, if known. */
export function modelType(path: Lwm2mPath, model: ObjectModelRegistry): ResourceType | undefined {
  if (path.objectId === undefined || path.resourceId === undefined) return undefined;
  return model.getResource(path.objectId, path.resourceId)?.type;
}

// ---- nodes -> leaves ----

const KIND_DEPTH = {
  object: 1,
  instance: 2,
  singleResource: 3,
  multipleResource: 3,
  resourceInstance: 4,
} as const;

/**
 * The path of `node` given the request path: the path itself when its depth fits the node kind, or
 * the path one level up plus the node's id (an instance encoded "at /3"), as Leshan allows.
 */
export function nodePath(node: Lwm2mNode, path: Lwm2mPath, codec: string): Lwm2mPath {
  const depth = KIND_DEPTH[node.kind];
  if (path.depth === depth) {
    if (path.ids()[depth - 1] !== node.id) {
      throw new EncodeError(
        'path-mismatch',
        `${node.kind} ${node.id} does not sit at ${path.toString()}`,
        codec,
      );
    }
    return path;
  }
  if (path.depth === depth - 1) return path.child(node.id);
  throw new EncodeError('path-mismatch', `a ${node.kind} cannot be encoded at ${path.toString()}`, codec);
}

/** Leaves of a node in ascending path order (Core 7.4: encoders emit ids in ascending order). */
export function flattenNode(node: Lwm2mNode, path: Lwm2mPath, codec: string): PathValue[] {
  const at = nodePath(node, path, codec);
  const out: PathValue[] = [];
  const sorted = <T>(m: Map<number, T>): Array<[number, T]> => [...m.entries()].sort((a, b) => a[0] - b[0]);
  const resource = (r: Lwm2mResource, p: Lwm2mPath): void => {
    if (r.kind === 'singleResource') out.push({ path: p, type: r.type, value: r.value });
    else for (const [id, v] of sorted(r.instances)) out.push({ path: p.child(id), type: r.type, value: v });
  };
  const instance = (i: Lwm2mObjectInstance, p: Lwm2mPath): void => {
    for (const [id, r] of sorted(i.resources)) resource(r, p.child(id));
  };
  switch (node.kind) {
    case 'object':
      for (const [id, i] of sorted(node.instances)) instance(i, at.child(id));
      break;
    case 'instance':
      instance(node, at);
      break;
    case 'singleResource':
    case 'multipleResource':
      resource(node, at);
      break;
    case 'resourceInstance':
      out.push({ path: at, type: node.type, value: node.value });
  }
  return out;
}

// ---- leaves -> nodes ----

/** A decoded leaf: its full path and its wire value. */
export interface RawLeaf {
  path: Lwm2mPath;
  raw: RawValue;
  time?: number;
}

function typedLeaf(leaf: RawLeaf, model: ObjectModelRegistry, codec: string): PathValue {
  if (leaf.path.depth < 3) {
    throw new DecodeError('bad-path', `a value needs a resource path, got ${leaf.path.toString()}`, codec);
  }
  const { type, value } = typeValue(leaf.raw, modelType(leaf.path, model), codec);
  return leaf.time === undefined
    ? { path: leaf.path, type, value }
    : { path: leaf.path, type, value, time: leaf.time };
}

/**
 * Builds the node at `path` from leaves that all lie under it. Resources with values at
 * /o/i/r/ri become multiple resources; a known multiple resource with no values decodes empty.
 */
export function buildNode(
  leaves: RawLeaf[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mNode {
  const typed = leaves.map((l) => typedLeaf(l, model, codec));
  const seen = new Set<string>();
  for (const l of typed) {
    if (!l.path.startsWith(path)) {
      throw new DecodeError('path-mismatch', `${l.path.toString()} is outside ${path.toString()}`, codec);
    }
    const key = l.path.toString();
    if (seen.has(key)) throw new DecodeError('duplicate-path', `${key} appears twice`, codec);
    seen.add(key);
  }
  return assemble(typed, path, model, codec);
}

function groupBy(leaves: PathValue[], depth: number): Map<number, PathValue[]> {
  const m = new Map<number, PathValue[]>();
  for (const l of leaves) {
    const id = l.path.ids()[depth];
    const list = m.get(id);
    if (list) list.push(l);
    else m.set(id, [l]);
  }
  return m;
}

function assemble(
  leaves: PathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mNode {
  const ids = path.ids();
  switch (path.depth) {
    case 4: {
      if (leaves.length !== 1) throw new DecodeError('no-value', `no value for ${path.toString()}`, codec);
      return { kind: 'resourceInstance', id: ids[3], type: leaves[0].type, value: leaves[0].value };
    }
    case 3: {
      const own = leaves.filter((l) => l.path.depth === 3);
      const inst = leaves.filter((l) => l.path.depth === 4);
      if (own.length && inst.length) {
        throw new DecodeError('conflict', `${path.toString()} is both single and multiple`, codec);
      }
      if (own.length) return { kind: 'singleResource', id: ids[2], type: own[0].type, value: own[0].value };
      const m = path.objectId !== undefined ? model.getResource(path.objectId, ids[2]) : undefined;
      if (!inst.length && !m?.multiple)
        throw new DecodeError('no-value', `no value for ${path.toString()}`, codec);
      const type = inst[0]?.type ?? m?.type ?? 'opaque';
      for (const l of inst) {
        if (l.type !== type)
          throw new DecodeError('type-mismatch', `mixed types in ${path.toString()}`, codec);
      }
      return {
        kind: 'multipleResource',
        id: ids[2],
        type,
        instances: new Map(inst.map((l) => [l.path.resourceInstanceId as number, l.value])),
      };
    }
    case 2: {
      const resources = new Map<number, Lwm2mResource>();
      for (const [id, group] of groupBy(leaves, 2)) {
        resources.set(id, assemble(group, path.child(id), model, codec) as Lwm2mResource);
      }
      return { kind: 'instance', id: ids[1], resources };
    }
    case 1: {
      const instances = new Map<number, Lwm2mObjectInstance>();
      for (const [id, group] of groupBy(leaves, 1)) {
        instances.set(id, assemble(group, path.child(id), model, codec) as Lwm2mObjectInstance);
      }
      return { kind: 'object', id: ids[0], instances };
    }
    default:
      throw new DecodeError('bad-path', 'the root is not a node; use the composite operations', codec);
  }
}

/**
 * Leaves to composite nodes. Without `paths`, one node per leaf (a single resource, or a resource
 * instance: Write-Composite may target one instance). With `paths` (a Read-Composite request's),
 * leaves are gathered under the longest requested path holding them.
 */
export function leavesToComposite(
  leaves: RawLeaf[],
  model: ObjectModelRegistry,
  codec: string,
  paths?: Lwm2mPath[],
): CompositeNodes {
  if (!paths) {
    const seen = new Set<string>();
    return leaves.map((l) => {
      const key = l.path.toString();
      if (seen.has(key)) throw new DecodeError('duplicate-path', `${key} appears twice`, codec);
      seen.add(key);
      return { path: l.path, node: buildNode([l], l.path, model, codec) };
    });
  }
  const groups = new Map<string, { path: Lwm2mPath; leaves: RawLeaf[] }>();
  for (const l of leaves) {
    let best: Lwm2mPath | undefined;
    for (const p of paths) if (l.path.startsWith(p) && (!best || p.depth > best.depth)) best = p;
    if (!best) throw new DecodeError('path-mismatch', `${l.path.toString()} was not requested`, codec);
    const key = best.toString();
    const g = groups.get(key) ?? { path: best, leaves: [] };
    g.leaves.push(l);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ path: g.path, node: buildNode(g.leaves, g.path, model, codec) }));
}

/** Parses a record name / path text into a path, with the codec's name on the error. */
export function parsePath(text: string, codec: string): Lwm2mPath {
  try {
    return Lwm2mPath.parse(text);
  } catch (e) {
    if (e instanceof DecodeError) throw new DecodeError('bad-path', e.message, codec);
    throw e;
  }
}
