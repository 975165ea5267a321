// LwM2M TS 1.1 Core section 7.4.2: application/octet-stream (Content-Format 42) for one opaque value.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { Lwm2mNode } from '../node';
import type { Lwm2mPath } from '../path';
import { ContentFormat, type NodeCodec } from './codec';
import { singleValueNode, singleValueType } from './text';
import { EncodeError } from './values';

const CODEC = 'opaque';

export const opaqueCodec: NodeCodec = {
  contentFormat: ContentFormat.OPAQUE,
  name: CODEC,

  encode(node: Lwm2mNode): Buffer {
    if (node.kind !== 'singleResource' && node.kind !== 'resourceInstance') {
      throw new EncodeError('unsupported-node', `opaque cannot carry a ${node.kind}`, CODEC);
    }
    if (node.type !== 'opaque' || !Buffer.isBuffer(node.value)) {
      throw new EncodeError('unsupported-type', `opaque carries opaque values only, not ${node.type}`, CODEC);
    }
    return Buffer.from(node.value);
  },

  /** Only for resources the model calls opaque, or does not know (Core 7.4.2). */
  decode(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mNode {
    const type = singleValueType(path, model, 'opaque', CODEC);
    if (type !== 'opaque') {
      throw new DecodeError('unsupported-type', `resource ${path} is ${type}, not opaque`, CODEC);
    }
    return singleValueNode(path, 'opaque', Buffer.from(payload));
  },
};
