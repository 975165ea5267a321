// LwM2M TS 1.1 Core section 7.4.3: TLV (application/vnd.oma.lwm2m+tlv, Content-Format 11542).
import { ByteReader, ByteWriter, DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type {
  Lwm2mMultipleResource,
  Lwm2mNode,
  Lwm2mObject,
  Lwm2mObjectInstance,
  Lwm2mResource,
  Lwm2mResourceInstance,
} from '../node';
import type { Lwm2mPath } from '../path';
import type { ResourceType } from '../value';
import { ContentFormat, type NodeCodec } from './codec';
import { bytesToValue, EncodeError, valueToBytes } from './values';

const CODEC = 'tlv';

/** Type byte bits 7-6 (Core 7.4.3 Table 7.4.3-1), in bit order 00, 01, 10, 11. */
export type TlvKind = 'objectInstance' | 'resourceInstance' | 'multipleResource' | 'resource';
const KINDS: readonly TlvKind[] = ['objectInstance', 'resourceInstance', 'multipleResource', 'resource'];

/** One raw TLV: `value` for resource / resource instance, `children` for the two containers. */
export interface Tlv {
  kind: TlvKind;
  id: number;
  value?: Buffer;
  children?: Tlv[];
}

/** Largest length the 24-bit length field holds (Core 7.4.3: "maximum ... 16.7 MB"). */
const MAX_LENGTH = 0xffffff;

// Containers hold only the next level down, so nesting is at most 3 deep
// (object instance > multiple resource > resource instance).
const ALLOWED_CHILDREN: Record<TlvKind, readonly TlvKind[]> = {
  objectInstance: ['resource', 'multipleResource'],
  multipleResource: ['resourceInstance'],
  resource: [],
  resourceInstance: [],
};

function readList(r: ByteReader, parent: TlvKind | undefined): Tlv[] {
  const out: Tlv[] = [];
  while (!r.done) {
    const t = r.u8('tlv type');
    const kind = KINDS[t >> 6];
    if (parent && !ALLOWED_CHILDREN[parent].includes(kind)) {
      r.fail('bad-tlv-nesting', `a ${kind} TLV cannot sit inside a ${parent} TLV`);
    }
    const id = t & 0x20 ? r.u16('tlv identifier') : r.u8('tlv identifier');
    const lengthType = (t >> 3) & 0x03;
    const length = lengthType === 0 ? t & 0x07 : r.uintN(lengthType, 'tlv length');
    const body = r.sub(length, 'tlv value');
    if (kind === 'objectInstance' || kind === 'multipleResource') {
      out.push({ kind, id, children: readList(body, kind) });
    } else {
      out.push({ kind, id, value: body.rest() });
    }
  }
  return out;
}

/** Parses a TLV payload into raw TLVs (values are views into `buf`). Throws DecodeError only. */
export function decodeTlv(buf: Buffer): Tlv[] {
  return readList(new ByteReader(buf, CODEC), undefined);
}

function writeTlv(w: ByteWriter, tlv: Tlv): void {
  let body: Buffer;
  if (tlv.kind === 'objectInstance' || tlv.kind === 'multipleResource') {
    const inner = new ByteWriter(64);
    for (const c of tlv.children ?? []) writeTlv(inner, c);
    body = inner.toBuffer();
  } else {
    body = tlv.value ?? Buffer.alloc(0);
  }
  const len = body.length;
  if (len > MAX_LENGTH)
    throw new EncodeError('too-long', `TLV value of ${len} bytes exceeds 24-bit length`, CODEC);
  if (!Number.isInteger(tlv.id) || tlv.id < 0 || tlv.id > 0xffff) {
    throw new EncodeError('bad-id', `TLV identifier ${tlv.id} is not 16-bit`, CODEC);
  }
  // Bit 5: 16-bit identifier; bits 4-3: length field size; bits 2-0: a length under 8.
  let t = KINDS.indexOf(tlv.kind) << 6;
  if (tlv.id > 0xff) t |= 0x20;
  const lengthBytes = len < 8 ? 0 : len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;
  t |= lengthBytes === 0 ? len : lengthBytes << 3;
  w.u8(t);
  if (tlv.id > 0xff) w.u16(tlv.id);
  else w.u8(tlv.id);
  w.uintN(len, lengthBytes);
  w.bytes(body);
}

/** Serializes raw TLVs with the shortest identifier and length fields. */
export function encodeTlv(tlvs: Tlv[]): Buffer {
  const w = new ByteWriter(128);
  for (const t of tlvs) writeTlv(w, t);
  return w.toBuffer();
}

// ---- nodes -> TLVs ----

const sortedById = <T>(m: Map<number, T>): Array<[number, T]> => [...m.entries()].sort((a, b) => a[0] - b[0]);

function resourceToTlv(r: Lwm2mResource): Tlv {
  if (r.kind === 'singleResource')
    return { kind: 'resource', id: r.id, value: valueToBytes(r.type, r.value, CODEC) };
  return {
    kind: 'multipleResource',
    id: r.id,
    children: sortedById(r.instances).map(([ri, v]) => ({
      kind: 'resourceInstance',
      id: ri,
      value: valueToBytes(r.type, v, CODEC),
    })),
  };
}

function instanceToTlv(i: Lwm2mObjectInstance): Tlv {
  return {
    kind: 'objectInstance',
    id: i.id,
    children: sortedById(i.resources).map(([, r]) => resourceToTlv(r)),
  };
}

export interface TlvEncodeOptions {
  /** Wrap an object instance in its Object Instance TLV (Core 7.4.3 allows both forms). Default false. */
  wrapInstance?: boolean;
}

/**
 * TLVs of a node: an object as Object Instance TLVs, an instance as its resources' TLVs (as in
 * the spec's Read /3/0 example), a multiple resource as one Multiple Resource TLV.
 */
export function nodeToTlvs(node: Lwm2mNode, options: TlvEncodeOptions = {}): Tlv[] {
  switch (node.kind) {
    case 'object':
      return sortedById(node.instances).map(([, i]) => instanceToTlv(i));
    case 'instance':
      return options.wrapInstance ? [instanceToTlv(node)] : (instanceToTlv(node).children ?? []);
    case 'singleResource':
    case 'multipleResource':
      return [resourceToTlv(node)];
    case 'resourceInstance':
      return [{ kind: 'resourceInstance', id: node.id, value: valueToBytes(node.type, node.value, CODEC) }];
  }
}

// ---- TLVs -> nodes ----

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, CODEC);
}

/** Type of a resource from the model; unknown resources (and executables) read as opaque. */
function typeOf(model: ObjectModelRegistry, objectId: number, resourceId: number): ResourceType {
  const t = model.getResource(objectId, resourceId)?.type;
  return t === undefined || t === 'none' ? 'opaque' : t;
}

function multipleFromInstances(id: number, type: ResourceType, tlvs: Tlv[]): Lwm2mMultipleResource {
  const res: Lwm2mMultipleResource = { kind: 'multipleResource', id, type, instances: new Map() };
  for (const t of tlvs) {
    if (t.kind !== 'resourceInstance')
      fail('bad-tlv-structure', `expected resource instance TLVs, got ${t.kind}`);
    if (res.instances.has(t.id))
      fail('duplicate-id', `resource instance ${t.id} appears twice in resource ${id}`);
    res.instances.set(t.id, bytesToValue(type, t.value!, CODEC));
  }
  return res;
}

function tlvToResource(t: Tlv, objectId: number, model: ObjectModelRegistry): Lwm2mResource {
  const type = typeOf(model, objectId, t.id);
  if (t.kind === 'resource')
    return { kind: 'singleResource', id: t.id, type, value: bytesToValue(type, t.value!, CODEC) };
  if (t.kind === 'multipleResource') return multipleFromInstances(t.id, type, t.children!);
  return fail('bad-tlv-structure', `expected a resource TLV, got ${t.kind}`);
}

function tlvsToInstance(
  id: number,
  tlvs: Tlv[],
  objectId: number,
  model: ObjectModelRegistry,
): Lwm2mObjectInstance {
  const inst: Lwm2mObjectInstance = { kind: 'instance', id, resources: new Map() };
  for (const t of tlvs) {
    if (inst.resources.has(t.id)) fail('duplicate-id', `resource ${t.id} appears twice in instance ${id}`);
    inst.resources.set(t.id, tlvToResource(t, objectId, model));
  }
  return inst;
}

/** Strips a lone container TLV around the payload when its id matches the request path. */
function unwrap(tlvs: Tlv[], kind: TlvKind, expectedId: number): Tlv[] {
  if (tlvs.length !== 1 || tlvs[0].kind !== kind) return tlvs;
  if (tlvs[0].id !== expectedId)
    fail('id-mismatch', `${kind} TLV ${tlvs[0].id} does not match the path (${expectedId})`);
  return tlvs[0].children!;
}

function decodeObject(tlvs: Tlv[], path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mObject {
  const objectId = path.objectId!;
  const obj: Lwm2mObject = { kind: 'object', id: objectId, instances: new Map() };
  if (tlvs.length > 0 && tlvs.every((t) => t.kind !== 'objectInstance')) {
    // Resources with no Object Instance TLV around them: one instance, id 0 (single-instance objects).
    obj.instances.set(0, tlvsToInstance(0, tlvs, objectId, model));
    return obj;
  }
  for (const t of tlvs) {
    if (t.kind !== 'objectInstance')
      fail('bad-tlv-structure', `expected object instance TLVs, got ${t.kind}`);
    if (obj.instances.has(t.id)) fail('duplicate-id', `object instance ${t.id} appears twice`);
    obj.instances.set(t.id, tlvsToInstance(t.id, t.children!, objectId, model));
  }
  return obj;
}

function decodeResource(tlvs: Tlv[], path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mResource {
  const [objectId, rid] = [path.objectId!, path.resourceId!];
  const inner = unwrap(tlvs, 'objectInstance', path.instanceId!);
  if (inner.length === 1 && (inner[0].kind === 'resource' || inner[0].kind === 'multipleResource')) {
    if (inner[0].id !== rid)
      fail('id-mismatch', `resource TLV ${inner[0].id} does not match the path (${rid})`);
    return tlvToResource(inner[0], objectId, model);
  }
  // A bare list of resource instance TLVs is a multiple resource too (Leshan and Wakaama send it).
  if (inner.length === 0 && !model.getResource(objectId, rid)?.multiple)
    fail('empty', `no value for ${path}`);
  return multipleFromInstances(rid, typeOf(model, objectId, rid), inner);
}

function decodeResourceInstance(
  tlvs: Tlv[],
  path: Lwm2mPath,
  model: ObjectModelRegistry,
): Lwm2mResourceInstance {
  let inner = unwrap(tlvs, 'objectInstance', path.instanceId!);
  inner = unwrap(inner, 'multipleResource', path.resourceId!);
  if (inner.length !== 1 || inner[0].kind !== 'resourceInstance') {
    fail('bad-tlv-structure', `expected one resource instance TLV for ${path}`);
  }
  const ri = path.resourceInstanceId!;
  if (inner[0].id !== ri)
    fail('id-mismatch', `resource instance TLV ${inner[0].id} does not match the path (${ri})`);
  const type = typeOf(model, path.objectId!, path.resourceId!);
  return { kind: 'resourceInstance', id: ri, type, value: bytesToValue(type, inner[0].value!, CODEC) };
}

/** Decodes a TLV payload answering (or sent to) `path`. */
export function decodeTlvNode(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mNode {
  const tlvs = decodeTlv(payload);
  switch (path.depth) {
    case 0:
      return fail('unsupported-path', 'TLV cannot carry the root path');
    case 1:
      return decodeObject(tlvs, path, model);
    case 2: {
      const inner = unwrap(tlvs, 'objectInstance', path.instanceId!);
      return tlvsToInstance(path.instanceId!, inner, path.objectId!, model);
    }
    case 3:
      return decodeResource(tlvs, path, model);
    case 4:
      return decodeResourceInstance(tlvs, path, model);
  }
}

export const tlvCodec: NodeCodec = {
  contentFormat: ContentFormat.TLV,
  name: CODEC,
  encode(node: Lwm2mNode): Buffer {
    return encodeTlv(nodeToTlvs(node));
  },
  decode: decodeTlvNode,
};
