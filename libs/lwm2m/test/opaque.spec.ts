import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import {
  defaultObjectModelRegistry,
  EncodeError,
  Lwm2mPath,
  nodesEqual,
  opaqueCodec,
  resourceInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { singleValueArb, allTypesModel } from './fixtures';

const model = defaultObjectModelRegistry();
const P = (s: string) => Lwm2mPath.parse(s);

describe('opaque (TS 1.1 Core section 7.4.2, Content-Format 42)', () => {
  it('carries the raw bytes of an opaque resource, e.g. a firmware package written to /5/0/0', () => {
    const pkg = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    expect(opaqueCodec.encode(singleResource(0, 'opaque', pkg), P('/5/0/0'), model)).toEqual(pkg);
    expect(opaqueCodec.decode(pkg, P('/5/0/0'), model)).toEqual(singleResource(0, 'opaque', pkg));
    expect(opaqueCodec.decode(Buffer.alloc(0), P('/4242/0/1/2'), model)).toEqual(
      resourceInstance(2, 'opaque', Buffer.alloc(0)),
    );
  });

  it('refuses resources the model types otherwise, and containers', () => {
    expect(() => opaqueCodec.decode(Buffer.from('x'), P('/3/0/0'), model)).toThrow(DecodeError);
    expect(() => opaqueCodec.decode(Buffer.from('x'), P('/5/0'), model)).toThrow(DecodeError);
    expect(() => opaqueCodec.encode(singleResource(0, 'string', 'x'), P('/3/0/0'), model)).toThrow(
      EncodeError,
    );
  });

  it('decodes what it encodes', () => {
    const m = allTypesModel();
    fc.assert(
      fc.property(singleValueArb({}, ['opaque']), ({ node, path }) => {
        expect(nodesEqual(opaqueCodec.decode(opaqueCodec.encode(node, path, m), path, m), node)).toBe(true);
      }),
    );
  });
});
