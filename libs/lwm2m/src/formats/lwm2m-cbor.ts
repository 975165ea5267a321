// LwM2M TS 1.2 Core 7.4.6 (LwM2M CBOR, Content-Format 11544): nested CBOR maps keyed by path ids
// from the Object down, where a key may be an array of ids standing for several levels at once.
// Values per Appendix C table C.2: time as tag 1 (epoch seconds), objlnk and corelnk as text.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, Lwm2mResource, TimestampedNodes } from '../node';
import { Lwm2mPath } from '../path';
import type { Lwm2mValue, ResourceType } from '../value';
import { cborInteger, decodeCbor, encodeCbor, ownBytes, Tag } from './cbor';
import type { CompositeCodec } from './codec';
import { ContentFormat } from './codec';
import { nodePath } from '../tree';
import { leavesToComposite, leavesToNode, type RawLeaf, type RawValue } from './typed-leaves';
import { EncodeError, normalizeInteger, wireValueOf } from './values';

const CODEC = 'lwm2m-cbor';

// ---- encoding: a tree of maps keyed by id ----

type Slot = Tree | { leaf: unknown };
interface Tree {
  children: Map<number, Slot>;
}

const isTree = (s: Slot): s is Tree => 'children' in s;

function valueItem(type: ResourceType, v: Lwm2mValue): unknown {
  const w = wireValueOf(type, v, CODEC);
  switch (w.kind) {
    case 'integer':
      return cborInteger(w.value);
    case 'time':
      // RFC 8949 3.4.2: tag 1, epoch-based date/time. Past 32 bits cbor-x writes the number as a
      // binary64 float (exact, and allowed in tag 1); cbor-x cannot read a tag 1 holding a bigint.
      return new Tag(w.value, 1);
    default:
      // floats: cbor-x writes an integral float within 32 bits as an integer; the model type reads it back
      return w.value;
  }
}

function conflict(at: number[]): never {
  throw new EncodeError('overlapping-paths', `/${at.join('/')} is given twice`, CODEC);
}

/** The slot at ids, creating maps on the way; a leaf on the way is a conflict. */
function treeAt(root: Tree, ids: number[]): Tree {
  let t = root;
  ids.forEach((id, i) => {
    const s = t.children.get(id);
    if (s === undefined) {
      const next: Tree = { children: new Map() };
      t.children.set(id, next);
      t = next;
    } else if (isTree(s)) t = s;
    else conflict(ids.slice(0, i + 1));
  });
  return t;
}

function setLeaf(root: Tree, ids: number[], leaf: unknown): void {
  const parent = treeAt(root, ids.slice(0, -1));
  const id = ids[ids.length - 1];
  if (parent.children.has(id)) conflict(ids);
  parent.children.set(id, { leaf });
}

function addResource(root: Tree, ids: number[], r: Lwm2mResource): void {
  if (r.kind === 'singleResource') return setLeaf(root, ids, valueItem(r.type, r.value));
  treeAt(root, ids);
  for (const [ri, v] of r.instances) setLeaf(root, [...ids, ri], valueItem(r.type, v));
}

function addNode(root: Tree, node: Lwm2mNode, path: Lwm2mPath): void {
  const ids = nodePath(node, path, CODEC).ids();
  switch (node.kind) {
    case 'object':
      treeAt(root, ids);
      for (const [iid, inst] of node.instances) addNode(root, inst, new Lwm2mPath(ids[0], iid));
      return;
    case 'instance':
      treeAt(root, ids);
      for (const [rid, r] of node.resources) addResource(root, [...ids, rid], r);
      return;
    case 'singleResource':
    case 'multipleResource':
      return addResource(root, ids, node);
    case 'resourceInstance':
      return setLeaf(root, ids, valueItem(node.type, node.value));
  }
}

function treeToCbor(t: Tree): Map<number, unknown> {
  const keys = [...t.children.keys()].sort((a, b) => a - b);
  return new Map(
    keys.map((k) => {
      const s = t.children.get(k) as Slot;
      return [k, isTree(s) ? treeToCbor(s) : s.leaf];
    }),
  );
}

function encodeNodes(nodes: CompositeNodes): Buffer {
  const root: Tree = { children: new Map() };
  for (const { path, node } of nodes) addNode(root, node, path);
  return encodeCbor(treeToCbor(root));
}

// ---- decoding: walk the maps, expanding array keys (path compression) ----

function keyIds(key: unknown): number[] {
  const ok = (x: unknown): x is number =>
    typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff;
  if (ok(key)) return [key];
  if (Array.isArray(key) && key.length > 0 && key.every(ok)) return key as number[];
  throw new DecodeError('bad-key', 'a map key must be a path id or a non-empty array of ids', CODEC);
}

/**
 * A leaf value as cbor-x gives it. Tags 2/3 (bignum) and 4 (decimal fraction) arrive as numbers,
 * tags 0 and 1 (RFC 8949 3.4.1/3.4.2, date/time) as a Date; a float with an integral value (1.0)
 * arrives as an integer, so only the model tells a float resource from an integer one there.
 */
function rawOf(v: unknown): RawValue {
  if (typeof v === 'bigint') return { kind: 'number', value: normalizeInteger(v), float: false };
  if (typeof v === 'number') return { kind: 'number', value: v, float: !Number.isInteger(v) };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'boolean', value: v };
  if (v instanceof Uint8Array) return { kind: 'opaque', value: ownBytes(v) };
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new DecodeError('bad-time', 'tag 0/1 does not hold a valid time', CODEC);
    return { kind: 'time', value: Math.floor(ms / 1000) };
  }
  if (v instanceof Tag) throw new DecodeError('unsupported-tag', `tag ${v.tag} is not an LwM2M value`, CODEC);
  throw new DecodeError('bad-value', 'not an LwM2M value (array, undefined or an other tagged item)', CODEC);
}

interface Walked {
  leaves: RawLeaf[];
  /** Paths whose value is null: the Read-Composite request form. */
  nulls: Lwm2mPath[];
}

function walk(payload: Buffer): Walked {
  const root = decodeCbor(payload, CODEC);
  if (!(root instanceof Map)) throw new DecodeError('bad-root', 'LwM2M CBOR is a CBOR map', CODEC);
  const out: Walked = { leaves: [], nulls: [] };
  const visit = (m: Map<unknown, unknown>, prefix: number[]): void => {
    for (const [k, v] of m) {
      const ids = [...prefix, ...keyIds(k)];
      if (ids.length > 4) throw new DecodeError('bad-path', 'a path has at most 4 ids', CODEC);
      const path = new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]);
      if (v instanceof Map) {
        if (ids.length === 4)
          throw new DecodeError('bad-path', `${path.toString()} cannot have children`, CODEC);
        visit(v as Map<unknown, unknown>, ids);
      } else if (v === null) out.nulls.push(path);
      else {
        if (ids.length < 3)
          throw new DecodeError('bad-path', `a value needs a resource path, got ${path.toString()}`, CODEC);
        out.leaves.push({ path, raw: rawOf(v) });
      }
    }
  };
  visit(root as Map<unknown, unknown>, []);
  return out;
}

function valuesOnly(w: Walked): RawLeaf[] {
  if (w.nulls.length) throw new DecodeError('no-value', `${w.nulls[0].toString()} has no value`, CODEC);
  return w.leaves;
}

export interface Lwm2mCborCodecType extends CompositeCodec {
  decodeComposite(payload: Buffer, model: ObjectModelRegistry, paths?: Lwm2mPath[]): CompositeNodes;
}

export const Lwm2mCborCodec: Lwm2mCborCodecType = {
  contentFormat: ContentFormat.LWM2M_CBOR,
  name: CODEC,
  encode: (node, path) => encodeNodes([{ path, node }]),
  decode: (payload, path, model) => leavesToNode(valuesOnly(walk(payload)), path, model, CODEC),
  encodeComposite: (nodes) => encodeNodes(nodes),
  decodeComposite: (payload, model, paths) =>
    leavesToComposite(valuesOnly(walk(payload)), model, CODEC, paths),
  /** Read-Composite request: each path with a null value, e.g. {3: {0: {0: null}}, 1: null}. */
  encodePaths: (paths) => {
    const root: Tree = { children: new Map() };
    for (const p of paths) {
      if (p.isRoot()) throw new EncodeError('bad-path', 'LwM2M CBOR cannot name the root', CODEC);
      setLeaf(root, p.ids(), null);
    }
    return encodeCbor(treeToCbor(root));
  },
  decodePaths: (payload) => {
    const w = walk(payload);
    return [...w.nulls, ...w.leaves.map((l) => l.path)];
  },
  /** LwM2M CBOR has no timestamps (TS 1.2 Core 7.4.6): untimed groups only, merged into one map. */
  encodeTimestamped: (data: TimestampedNodes) => {
    if (data.some((g) => g.time !== undefined)) {
      throw new EncodeError('no-timestamps', 'LwM2M CBOR cannot carry timestamps; use SenML', CODEC);
    }
    return encodeNodes(data.flatMap((g) => g.nodes));
  },
  decodeTimestamped: (payload, model) => [
    { nodes: leavesToComposite(valuesOnly(walk(payload)), model, CODEC) },
  ],
};
