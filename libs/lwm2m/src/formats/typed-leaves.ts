// LwM2M TS 1.2 Core 7.4.5-7.4.6: SenML and LwM2M CBOR carry untyped leaves (a CBOR/JSON number, text,
// bytes); this file gives each decoded value its LwM2M type (model first, then the wire) and hands the
// typed leaves to tree.ts, the one place that turns leaves into nodes.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, PathValue } from '../node';
import type { Lwm2mPath } from '../path';
import { buildComposite, buildNode } from '../tree';
import type { Lwm2mValue, ResourceType } from '../value';
import { normalizeInteger, parseObjectLink, secondsToTime } from './values';

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
 * The node at `path` from raw leaves that all lie under it (tree.ts buildNode after typing).
 * Resources with values at /o/i/r/ri become multiple resources; a known multiple resource with no
 * values decodes empty.
 */
export function leavesToNode(
  leaves: RawLeaf[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mNode {
  const typed = leaves.map((l) => typedLeaf(l, model, codec));
  for (const l of typed) {
    if (!l.path.startsWith(path)) {
      throw new DecodeError('path-mismatch', `${l.path.toString()} is outside ${path.toString()}`, codec);
    }
  }
  return buildNode(typed, path, model, codec);
}

/** Raw leaves to composite nodes (tree.ts buildComposite after typing). */
export function leavesToComposite(
  leaves: RawLeaf[],
  model: ObjectModelRegistry,
  codec: string,
  paths?: Lwm2mPath[],
): CompositeNodes {
  return buildComposite(
    leaves.map((l) => typedLeaf(l, model, codec)),
    model,
    codec,
    paths,
  );
}
