// LwM2M TS 1.2 Core section 6.1 / 7.4: node trees <-> flat (path, value) lists, the shape of SenML and JSON.
import { DecodeError } from '@lwm2m/bytes';
import { EncodeError } from './formats/values';
import type { ObjectModelRegistry } from './model/object-model';
import {
  type CompositeNodes,
  type Lwm2mMultipleResource,
  type Lwm2mNode,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  type PathValue,
} from './node';
import { Lwm2mPath } from './path';
import { isObjectLink, type Lwm2mValue } from './value';

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

/** Every leaf of `node` (which sits at `path`) as a PathValue, in ascending path order. */
export function flatten(node: Lwm2mNode, path: Lwm2mPath): PathValue[] {
  const out: PathValue[] = [];
  const byId = <T>(m: Map<number, T>): Array<[number, T]> => [...m.entries()].sort((a, b) => a[0] - b[0]);
  const resource = (r: Lwm2mResource, p: Lwm2mPath): void => {
    if (r.kind === 'singleResource') out.push({ path: p, type: r.type, value: r.value });
    else for (const [ri, value] of byId(r.instances)) out.push({ path: p.child(ri), type: r.type, value });
  };
  const instance = (i: Lwm2mObjectInstance, p: Lwm2mPath): void => {
    for (const [rid, r] of byId(i.resources)) resource(r, p.child(rid));
  };
  switch (node.kind) {
    case 'object':
      for (const [iid, i] of byId(node.instances)) instance(i, path.child(iid));
      break;
    case 'instance':
      instance(node, path);
      break;
    case 'singleResource':
    case 'multipleResource':
      resource(node, path);
      break;
    case 'resourceInstance':
      out.push({ path, type: node.type, value: node.value });
      break;
  }
  return out;
}

function fail(reason: string, message: string, codec: string): never {
  throw new DecodeError(reason, message, codec);
}

function buildResource(
  values: PathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mResource | undefined {
  const rid = path.resourceId!;
  if (values.length === 0) {
    const rm = model.getResource(path.objectId!, rid);
    return rm?.multiple
      ? { kind: 'multipleResource', id: rid, type: rm.type, instances: new Map() }
      : undefined;
  }
  const single = values.filter((v) => v.path.depth === 3);
  if (single.length > 0) {
    if (values.length > 1) fail('duplicate-path', `resource ${path} given more than once`, codec);
    return { kind: 'singleResource', id: rid, type: single[0].type, value: single[0].value };
  }
  const res: Lwm2mMultipleResource = {
    kind: 'multipleResource',
    id: rid,
    type: values[0].type,
    instances: new Map(),
  };
  for (const v of values) {
    const ri = v.path.resourceInstanceId!;
    if (res.instances.has(ri))
      fail('duplicate-path', `resource instance ${v.path} given more than once`, codec);
    if (v.type !== res.type) fail('mixed-types', `resource ${path} holds values of two types`, codec);
    res.instances.set(ri, v.value);
  }
  return res;
}

function groupBy(values: PathValue[], level: 'instanceId' | 'resourceId'): Map<number, PathValue[]> {
  const groups = new Map<number, PathValue[]>();
  for (const v of values) {
    const id = v.path[level]!;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = []));
    g.push(v);
  }
  return groups;
}

function buildInstance(
  values: PathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mObjectInstance {
  const inst: Lwm2mObjectInstance = { kind: 'instance', id: path.instanceId!, resources: new Map() };
  for (const [rid, group] of groupBy(values, 'resourceId')) {
    const r = buildResource(group, path.child(rid), model, codec);
    if (r) inst.resources.set(rid, r);
  }
  return inst;
}

function buildObject(
  values: PathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec: string,
): Lwm2mObject {
  const obj: Lwm2mObject = { kind: 'object', id: path.objectId!, instances: new Map() };
  for (const [iid, group] of groupBy(values, 'instanceId')) {
    obj.instances.set(iid, buildInstance(group, path.child(iid), model, codec));
  }
  return obj;
}

/**
 * The node at `path` holding `values` (leaves at resource or resource-instance level under `path`).
 * A resource is multiple when its leaves are resource instances; an empty payload gives an empty
 * object, instance, or multiple resource (when the model says so). Throws DecodeError on leaves
 * outside `path`, duplicates, or a single resource/resource instance with no value.
 */
export function buildNode(
  values: PathValue[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  codec = 'tree',
): Lwm2mNode {
  for (const v of values) {
    if (v.path.depth < 3) fail('not-a-leaf', `${v.path} is not a resource or resource instance`, codec);
    if (!v.path.startsWith(path)) fail('path-outside-request', `${v.path} is not under ${path}`, codec);
  }
  switch (path.depth) {
    case 0:
      return fail('unsupported-path', 'a single node cannot sit at the root path', codec);
    case 1:
      return buildObject(values, path, model, codec);
    case 2:
      return buildInstance(values, path, model, codec);
    case 3: {
      const r = buildResource(values, path, model, codec);
      return r ?? fail('empty', `no value for resource ${path}`, codec);
    }
    case 4: {
      if (values.length !== 1)
        fail(values.length ? 'duplicate-path' : 'empty', `one value expected at ${path}`, codec);
      return {
        kind: 'resourceInstance',
        id: path.resourceInstanceId!,
        type: values[0].type,
        value: values[0].value,
      };
    }
  }
}

/** Leaves from anywhere (composite payloads) grouped into one object node per object id. */
export function buildObjects(values: PathValue[], model: ObjectModelRegistry, codec = 'tree'): Lwm2mObject[] {
  const byObject = new Map<number, PathValue[]>();
  for (const v of values) {
    if (v.path.depth < 3) fail('not-a-leaf', `${v.path} is not a resource or resource instance`, codec);
    const id = v.path.objectId!;
    let g = byObject.get(id);
    if (!g) byObject.set(id, (g = []));
    g.push(v);
  }
  return [...byObject.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, group]) => buildObject(group, new Lwm2mPath(id), model, codec));
}

/**
 * Leaves (typed, from anywhere) to composite nodes. Without `paths`, one node per leaf (a single
 * resource, or a resource instance: Write-Composite may target one instance). With `paths` (a
 * Read-Composite request's), leaves are gathered under the longest requested path holding them.
 */
export function buildComposite(
  values: PathValue[],
  model: ObjectModelRegistry,
  codec = 'tree',
  paths?: Lwm2mPath[],
): CompositeNodes {
  if (!paths) {
    const seen = new Set<string>();
    return values.map((v) => {
      const key = v.path.toString();
      if (seen.has(key)) fail('duplicate-path', `${key} appears twice`, codec);
      seen.add(key);
      return { path: v.path, node: buildNode([v], v.path, model, codec) };
    });
  }
  const groups = new Map<string, { path: Lwm2mPath; values: PathValue[] }>();
  for (const v of values) {
    let best: Lwm2mPath | undefined;
    for (const p of paths) if (v.path.startsWith(p) && (!best || p.depth > best.depth)) best = p;
    if (!best) return fail('path-mismatch', `${v.path.toString()} was not requested`, codec);
    const key = best.toString();
    const g = groups.get(key) ?? { path: best, values: [] };
    g.values.push(v);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ path: g.path, node: buildNode(g.values, g.path, model, codec) }));
}

/** Value equality per the value.ts mapping: bytes, instants, links; NaN equals NaN. */
export function valuesEqual(a: Lwm2mValue, b: Lwm2mValue): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime());
  }
  if (isObjectLink(a) || isObjectLink(b)) {
    return isObjectLink(a) && isObjectLink(b) && a.objectId === b.objectId && a.instanceId === b.instanceId;
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  return a === b;
}

function mapsEqual<T>(a: Map<number, T>, b: Map<number, T>, eq: (x: T, y: T) => boolean): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !eq(v, w)) return false;
  }
  return true;
}

/** Deep equality of two nodes, ignoring map insertion order. */
export function nodesEqual(a: Lwm2mNode, b: Lwm2mNode): boolean {
  if (a.kind !== b.kind || a.id !== b.id) return false;
  switch (a.kind) {
    case 'object':
      return mapsEqual(a.instances, (b as Lwm2mObject).instances, nodesEqual);
    case 'instance':
      return mapsEqual(a.resources, (b as Lwm2mObjectInstance).resources, nodesEqual);
    case 'multipleResource': {
      const m = b as Lwm2mMultipleResource;
      return a.type === m.type && mapsEqual(a.instances, m.instances, valuesEqual);
    }
    case 'singleResource':
    case 'resourceInstance': {
      const s = b as typeof a;
      return a.type === s.type && valuesEqual(a.value, s.value);
    }
  }
}
