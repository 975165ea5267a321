// LwM2M TS 1.2 Core Appendix C (Data Types) as JSON: the one place values cross between the codecs' node
// trees and process boundaries (Redis, REST). opaque <-> base64, time <-> epoch seconds, 64-bit integers
// past 2^53 <-> decimal strings, objlnk <-> "3:0".
import {
  buildNode,
  flatten,
  isObjectLink,
  type Lwm2mNode,
  Lwm2mPath,
  type Lwm2mValue,
  type ObjectModelRegistry,
  type PathValue,
  rangeProblem,
  type ResourceType,
} from '@lwm2m/lwm2m';
import type { JsonPathValue } from './events';

/** A value an operator sent that does not fit its resource: the api answers 400. */
export class InvalidValueError extends Error {
  override readonly name = 'InvalidValueError';
}

const TYPES = new Set<ResourceType>([
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
  'none',
]);

function jsonValue(type: ResourceType, v: Lwm2mValue): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === 'bigint') return v.toString();
  if (isObjectLink(v)) return `${v.objectId}:${v.instanceId}`;
  if (type === 'time' && typeof v === 'number') return v;
  return v;
}

export function pathValueToJson(pv: PathValue): JsonPathValue {
  const out: JsonPathValue = { path: pv.path.toString(), type: pv.type, value: jsonValue(pv.type, pv.value) };
  if (pv.time !== undefined) out.time = pv.time;
  return out;
}

/** Every leaf of `node` (sitting at `path`) as JSON values, in path order. */
export function toJsonValues(node: Lwm2mNode, path: Lwm2mPath): JsonPathValue[] {
  return flatten(node, path).map(pathValueToJson);
}

function fail(path: string, message: string): never {
  throw new InvalidValueError(`${path}: ${message}`);
}

const INTEGER = /^[-+]?[0-9]{1,20}$/;

function parseInteger(path: string, type: 'integer' | 'unsigned', raw: unknown): number | bigint {
  let b: bigint;
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) b = BigInt(raw);
  else if (typeof raw === 'string' && INTEGER.test(raw)) b = BigInt(raw);
  else return fail(path, `${type} value must be an integer (or a decimal string)`);
  const ok = type === 'integer' ? b >= -(2n ** 63n) && b < 2n ** 63n : b >= 0n && b < 2n ** 64n;
  if (!ok) fail(path, `${String(raw)} does not fit a 64-bit ${type}`);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** The Lwm2mValue of one JSON value of `type`; InvalidValueError when it does not fit. */
export function fromJsonValue(path: string, type: ResourceType, raw: unknown): Lwm2mValue {
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof raw !== 'string') fail(path, `${type} value must be a string`);
      return raw;
    case 'integer':
    case 'unsigned':
      return parseInteger(path, type, raw);
    case 'float':
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
      return fail(path, 'float value must be a finite number');
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      return fail(path, 'boolean value must be true or false');
    case 'opaque':
      if (typeof raw !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4 === 1) {
        fail(path, 'opaque value must be base64');
      }
      return Buffer.from(raw, 'base64');
    case 'time': {
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return new Date(raw * 1000);
      if (typeof raw === 'string') {
        const ms = Date.parse(raw);
        if (!Number.isNaN(ms)) return new Date(Math.floor(ms / 1000) * 1000);
      }
      return fail(path, 'time value must be epoch seconds or an ISO 8601 date');
    }
    case 'objlnk': {
      const m = typeof raw === 'string' ? /^([0-9]{1,5}):([0-9]{1,5})$/.exec(raw) : null;
      if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) fail(path, 'objlnk value must be "o:i"');
      return { objectId: Number(m[1]), instanceId: Number(m[2]) };
    }
    case 'none':
      return fail(path, 'an executable resource has no value');
  }
}

function inferType(raw: unknown): ResourceType | undefined {
  if (typeof raw === 'string') return 'string';
  if (typeof raw === 'boolean') return 'boolean';
  if (typeof raw === 'number') return Number.isInteger(raw) ? 'integer' : 'float';
  return undefined;
}

/**
 * Typed leaves from JSON values. The type comes from the model when it knows the resource, else from
 * the value's `type`, else from the JSON value itself. Paths must be resources or resource instances.
 */
export function fromJsonValues(values: JsonPathValue[], model: ObjectModelRegistry): PathValue[] {
  return values.map((v) => {
    let path: Lwm2mPath;
    try {
      path = Lwm2mPath.parse(String(v.path));
    } catch {
      return fail(String(v.path).slice(0, 40), 'not an LwM2M path');
    }
    if (path.depth < 3) fail(v.path, 'values go to a resource or resource instance path');
    const declared = TYPES.has(v.type as ResourceType) ? (v.type as ResourceType) : undefined;
    const type = model.getResource(path.objectId!, path.resourceId!)?.type ?? declared ?? inferType(v.value);
    if (type === undefined) fail(v.path, 'cannot tell the value type');
    return { path, type, value: fromJsonValue(v.path, type, v.value) };
  });
}

/** The node at `path` holding `values`; InvalidValueError when they do not form one. */
export function nodeFromJsonValues(
  values: JsonPathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
): Lwm2mNode {
  const leaves = fromJsonValues(values, model);
  try {
    return buildNode(leaves, path, model, 'json-values');
  } catch (err) {
    throw new InvalidValueError(err instanceof Error ? err.message : String(err));
  }
}

/** A value or operation the object model refuses: the resource path and why. */
export interface ModelProblem {
  path: string;
  reason: string;
}

const operationsText = (ops: string) => (ops === '' ? 'none' : ops);

/**
 * Why these leaves do not fit the object model (TS 1.2 Core Appendix D.1: the resource's Operations and its
 * Range or Enumeration), or undefined; resources the model does not know pass. `create`: the values of a new
 * instance, where read-only resources are set too (TS 1.2 Core 6.3.6), so only the ranges apply.
 */
export function writeProblem(
  leaves: PathValue[],
  model: ObjectModelRegistry,
  op: 'write' | 'create' = 'write',
): ModelProblem | undefined {
  for (const leaf of leaves) {
    const path = leaf.path.toString();
    const r = model.getResource(leaf.path.objectId!, leaf.path.resourceId!);
    if (r === undefined) continue;
    if (op === 'write' && r.operations !== 'W' && r.operations !== 'RW') {
      return { path, reason: `"${r.name}" is not writable (operations ${operationsText(r.operations)})` };
    }
    const outside = rangeProblem(r.range, leaf.value);
    if (outside !== undefined) {
      return { path, reason: `"${r.name}": ${outside} (RangeEnumeration "${r.rangeEnumeration}")` };
    }
  }
  return undefined;
}

/** Why `path` cannot be executed by the model (Operations without E), or undefined (also when unknown). */
export function executeProblem(path: Lwm2mPath, model: ObjectModelRegistry): ModelProblem | undefined {
  if (path.resourceId === undefined) return undefined;
  const r = model.getResource(path.objectId!, path.resourceId);
  if (r === undefined || r.operations === 'E') return undefined;
  return {
    path: path.toString(),
    reason: `"${r.name}" is not executable (operations ${operationsText(r.operations)})`,
  };
}
