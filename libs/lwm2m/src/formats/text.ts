// LwM2M TS 1.1 Core section 7.4.1: text/plain (Content-Format 0) for a single Resource or Resource Instance.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { Lwm2mNode } from '../node';
import type { Lwm2mPath } from '../path';
import type { Lwm2mValue, ResourceType } from '../value';
import { ContentFormat, type NodeCodec } from './codec';
import { EncodeError, textToValue, utf8, valueToText } from './values';

const CODEC = 'text';

/**
 * The type a single-value format reads at `path` (a resource or resource instance path), or
 * DecodeError when the format cannot carry the node there (Core 7.4.1/7.4.2: single values only).
 */
export function singleValueType(
  path: Lwm2mPath,
  model: ObjectModelRegistry,
  fallback: ResourceType,
  codec: string,
): ResourceType {
  if (path.depth !== 3 && path.depth !== 4) {
    throw new DecodeError('unsupported-path', `${codec} carries one resource (instance), not ${path}`, codec);
  }
  const rm = model.getResource(path.objectId!, path.resourceId!);
  if (rm?.multiple && path.depth === 3) {
    throw new DecodeError('unsupported-node', `${codec} cannot carry multiple resource ${path}`, codec);
  }
  return rm?.type ?? fallback;
}

/** Builds the single resource or resource instance node a single-value format decodes to. */
export function singleValueNode(path: Lwm2mPath, type: ResourceType, value: Lwm2mValue): Lwm2mNode {
  return path.depth === 4
    ? { kind: 'resourceInstance', id: path.resourceInstanceId!, type, value }
    : { kind: 'singleResource', id: path.resourceId!, type, value };
}

export const textCodec: NodeCodec = {
  contentFormat: ContentFormat.TEXT,
  name: CODEC,

  /** Opaque has no text form in 1.1 (Core 7.4.1): EncodeError, use opaque (42) instead. */
  encode(node: Lwm2mNode): Buffer {
    if (node.kind !== 'singleResource' && node.kind !== 'resourceInstance') {
      throw new EncodeError('unsupported-node', `text/plain cannot carry a ${node.kind}`, CODEC);
    }
    if (node.type === 'opaque')
      throw new EncodeError('unsupported-type', 'opaque is not allowed as text/plain', CODEC);
    return Buffer.from(valueToText(node.type, node.value, CODEC), 'utf8');
  },

  /** Unknown resources read as strings; opaque is read as base64 for LwM2M 1.0 devices. */
  decode(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mNode {
    const type = singleValueType(path, model, 'string', CODEC);
    const value = textToValue(type, utf8(payload, CODEC), CODEC);
    return singleValueNode(path, type, value);
  },
};
