// LwM2M TS 1.0 section 6.4.4 / TS 1.1 Core section 7.4.5: legacy LwM2M JSON (application/vnd.oma.lwm2m+json, 11543).
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { Lwm2mNode, PathValue, TimestampedNodes } from '../node';
import { Lwm2mPath } from '../path';
import { buildNode, flatten } from '../tree';
import type { Lwm2mValue, ResourceType } from '../value';
import { ContentFormat, type NodeCodec } from './codec';
import {
  EncodeError,
  normalizeInteger,
  parseBase64,
  parseObjectLink,
  secondsToTime,
  utf8,
  wireValueOf,
} from './values';

const CODEC = 'json';

/** Bounds on untrusted JSON: payload size and nesting (this format never nests deeper than 3). */
export const JSON_MAX_BYTES = 1024 * 1024;
export const JSON_MAX_DEPTH = 3;
export const JSON_MAX_ENTRIES = 65536;

/**
 * JSON.parse of a UTF-8 payload after checking its size and its nesting depth in one linear scan,
 * so that hostile input costs O(n) and never a deep recursion. Throws DecodeError only.
 */
export function parseBoundedJson(
  payload: Buffer,
  maxDepth: number,
  codec: string,
  maxBytes = JSON_MAX_BYTES,
): unknown {
  if (payload.length > maxBytes)
    throw new DecodeError('too-large', `JSON payload over ${maxBytes} bytes`, codec);
  const text = utf8(payload, codec);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) throw new DecodeError('too-deep', `JSON nested deeper than ${maxDepth}`, codec);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DecodeError('bad-json', `invalid JSON: ${(e as Error).message}`, codec);
  }
}

// ---- values <-> JSON members (v, bv, sv, ov) ----

type ValueKey = 'v' | 'bv' | 'sv' | 'ov';

function keyOfType(type: ResourceType): ValueKey {
  switch (type) {
    case 'integer':
    case 'unsigned':
    case 'float':
    case 'time':
      return 'v';
    case 'boolean':
      return 'bv';
    case 'objlnk':
      return 'ov';
    default:
      return 'sv';
  }
}

function jsonValue(type: ResourceType, value: Lwm2mValue): string {
  // an executable's ('none') value, if any, goes out as "sv" text, as keyOfType says
  const w = wireValueOf(type === 'none' ? 'string' : type, value, CODEC);
  switch (w.kind) {
    case 'float':
      if (!Number.isFinite(w.value))
        throw new EncodeError('bad-value', `float ${w.value} has no JSON form`, CODEC);
      return String(w.value);
    case 'integer':
    case 'time':
    case 'boolean':
      return String(w.value);
    case 'opaque':
      return JSON.stringify(w.value.toString('base64'));
    case 'string':
    case 'objlnk':
      return JSON.stringify(w.value);
  }
}

function typeMismatch(path: Lwm2mPath, key: string, type: ResourceType): never {
  throw new DecodeError('type-mismatch', `"${key}" cannot carry ${type} resource ${path}`, CODEC);
}

/** The typed value of one entry: the model's type when known, else the type its key implies. */
function entryValue(
  key: ValueKey,
  raw: unknown,
  path: Lwm2mPath,
  model: ObjectModelRegistry,
): { type: ResourceType; value: Lwm2mValue } {
  const known = model.getResource(path.objectId!, path.resourceId!)?.type;
  switch (key) {
    case 'v': {
      if (typeof raw !== 'number')
        throw new DecodeError('bad-entry', `"v" of ${path} is not a number`, CODEC);
      const type = known ?? (Number.isInteger(raw) ? 'integer' : 'float');
      if (type === 'float') return { type, value: raw };
      if (type !== 'integer' && type !== 'unsigned' && type !== 'time') return typeMismatch(path, key, type);
      if (!Number.isInteger(raw))
        throw new DecodeError('bad-number', `${raw} is not an integer (${path})`, CODEC);
      if (type === 'time') return { type, value: secondsToTime(raw, CODEC) };
      const b = BigInt(raw);
      if (type === 'unsigned' ? b < 0n || b > 2n ** 64n - 1n : b < -(2n ** 63n) || b > 2n ** 63n - 1n) {
        throw new DecodeError('out-of-range', `${raw} does not fit a 64-bit ${type}`, CODEC);
      }
      return { type, value: normalizeInteger(b) };
    }
    case 'bv':
      if (typeof raw !== 'boolean')
        throw new DecodeError('bad-entry', `"bv" of ${path} is not a boolean`, CODEC);
      if (known !== undefined && known !== 'boolean') return typeMismatch(path, key, known);
      return { type: 'boolean', value: raw };
    case 'ov':
      if (typeof raw !== 'string')
        throw new DecodeError('bad-entry', `"ov" of ${path} is not a string`, CODEC);
      if (known !== undefined && known !== 'objlnk') return typeMismatch(path, key, known);
      return { type: 'objlnk', value: parseObjectLink(raw, CODEC) };
    case 'sv': {
      if (typeof raw !== 'string')
        throw new DecodeError('bad-entry', `"sv" of ${path} is not a string`, CODEC);
      const type = known === 'none' ? 'string' : (known ?? 'string');
      if (type === 'opaque') return { type, value: parseBase64(raw, CODEC) };
      if (type !== 'string' && type !== 'corelnk') return typeMismatch(path, key, type);
      return { type, value: raw };
    }
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Every entry of a JSON payload as a PathValue with its resolved time (bt + t). */
export function decodeJsonEntries(payload: Buffer, model: ObjectModelRegistry): PathValue[] {
  const doc = parseBoundedJson(payload, JSON_MAX_DEPTH, CODEC);
  if (!isRecord(doc)) throw new DecodeError('bad-json', 'JSON payload is not an object', CODEC);
  const { bn, bt, e } = doc;
  if (bn !== undefined && typeof bn !== 'string')
    throw new DecodeError('bad-entry', '"bn" is not a string', CODEC);
  if (bt !== undefined && typeof bt !== 'number')
    throw new DecodeError('bad-entry', '"bt" is not a number', CODEC);
  if (!Array.isArray(e)) throw new DecodeError('bad-json', 'missing "e" array', CODEC);
  if (e.length > JSON_MAX_ENTRIES)
    throw new DecodeError('too-many', `more than ${JSON_MAX_ENTRIES} entries`, CODEC);
  const out: PathValue[] = [];
  for (const entry of e) {
    if (!isRecord(entry)) throw new DecodeError('bad-entry', 'entry is not an object', CODEC);
    const { n, t } = entry;
    if (n !== undefined && typeof n !== 'string')
      throw new DecodeError('bad-entry', '"n" is not a string', CODEC);
    if (t !== undefined && typeof t !== 'number')
      throw new DecodeError('bad-entry', '"t" is not a number', CODEC);
    // Name = base name + name, string concatenation (as SenML, RFC 8428 section 4.5.1).
    let name = (bn ?? '') + (n ?? '');
    if (name.length > 1 && name.endsWith('/')) name = name.slice(0, -1);
    const path = Lwm2mPath.parse(name);
    if (path.depth < 3) throw new DecodeError('not-a-leaf', `${name} is not a resource (instance)`, CODEC);
    const keys = (['v', 'bv', 'sv', 'ov'] as const).filter((k) => entry[k] !== undefined);
    if (keys.length !== 1)
      throw new DecodeError('bad-entry', `entry ${name} needs exactly one of v, bv, sv, ov`, CODEC);
    const { type, value } = entryValue(keys[0], entry[keys[0]], path, model);
    const pv: PathValue = { path, type, value };
    if (bt !== undefined || t !== undefined) pv.time = (bt ?? 0) + (t ?? 0);
    out.push(pv);
  }
  return out;
}

/** Serializes leaves under base name `bn` (names relative to it). */
export function encodeJsonEntries(values: PathValue[], bn: string): Buffer {
  const entries = values.map((v) => {
    const full = v.path.toString();
    const n = full.startsWith(bn) ? full.slice(bn.length) : full;
    const parts: string[] = [];
    if (n !== '') parts.push(`"n":${JSON.stringify(n)}`);
    parts.push(`"${keyOfType(v.type)}":${jsonValue(v.type, v.value)}`);
    if (v.time !== undefined) parts.push(`"t":${v.time}`);
    return `{${parts.join(',')}}`;
  });
  return Buffer.from(`{"bn":${JSON.stringify(bn)},"e":[${entries.join(',')}]}`, 'utf8');
}

/** Base name for a node at `path`: the path itself for one value, the path and "/" for a container. */
function baseNameFor(node: Lwm2mNode, path: Lwm2mPath): string {
  if (node.kind === 'singleResource' || node.kind === 'resourceInstance') return path.toString();
  return path.isRoot() ? '/' : `${path}/`;
}

/** Keeps the newest value of each path (notifications carrying history, read as current state). */
function latestPerPath(values: PathValue[]): PathValue[] {
  const byPath = new Map<string, PathValue>();
  for (const v of values) {
    const key = v.path.toString();
    const seen = byPath.get(key);
    if (seen && (seen.time === undefined || v.time === undefined)) {
      throw new DecodeError('duplicate-path', `${key} appears twice without timestamps`, CODEC);
    }
    if (!seen || v.time! > seen.time!) byPath.set(key, v);
  }
  return [...byPath.values()];
}

export const jsonCodec = {
  contentFormat: ContentFormat.JSON,
  name: CODEC,

  encode(node: Lwm2mNode, path: Lwm2mPath, _model?: ObjectModelRegistry): Buffer {
    return encodeJsonEntries(flatten(node, path), baseNameFor(node, path));
  },

  decode(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mNode {
    return buildNode(latestPerPath(decodeJsonEntries(payload, model)), path, model, CODEC);
  },

  /** Nodes at `path`, one per timestamp, oldest first (entries without time come first). */
  decodeTimestamped(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): TimestampedNodes {
    const groups = new Map<number | undefined, PathValue[]>();
    for (const v of decodeJsonEntries(payload, model)) {
      let g = groups.get(v.time);
      if (!g) groups.set(v.time, (g = []));
      g.push(v);
    }
    return [...groups.entries()]
      .sort((a, b) => (a[0] ?? -Infinity) - (b[0] ?? -Infinity))
      .map(([time, values]) => {
        const nodes = [{ path, node: buildNode(values, path, model, CODEC) }];
        return time === undefined ? { nodes } : { time, nodes };
      });
  },

  /** Timestamped nodes as absolute "t" entries under base name "/". */
  encodeTimestamped(data: TimestampedNodes): Buffer {
    const values: PathValue[] = [];
    for (const { time, nodes } of data) {
      for (const { path, node } of nodes) {
        for (const v of flatten(node, path)) values.push(time === undefined ? v : { ...v, time });
      }
    }
    return encodeJsonEntries(values, '/');
  },
} satisfies NodeCodec & Record<string, unknown>;
