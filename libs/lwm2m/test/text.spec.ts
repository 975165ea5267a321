import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import {
  defaultObjectModelRegistry,
  EMPTY_OBJECT_MODEL_REGISTRY,
  EncodeError,
  Lwm2mPath,
  multipleResource,
  nodesEqual,
  resourceInstance,
  singleResource,
  textCodec,
} from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { singleValueArb, allTypesModel, VALUE_TYPES } from './fixtures';

const model = defaultObjectModelRegistry();
const P = (s: string) => Lwm2mPath.parse(s);
const decode = (s: string, path: string) => textCodec.decode(Buffer.from(s, 'utf8'), P(path), model);

describe('text/plain (TS 1.1 Core section 7.4.1, Appendix C text forms)', () => {
  it('reads each type from its text form', () => {
    expect(decode('Open Mobile Alliance', '/3/0/0')).toEqual(
      singleResource(0, 'string', 'Open Mobile Alliance'),
    );
    expect(decode('100', '/3/0/9')).toEqual(singleResource(9, 'integer', 100));
    expect(decode('-42', '/4/0/2')).toEqual(singleResource(2, 'integer', -42));
    expect(decode('86400', '/1/0/1')).toEqual(singleResource(1, 'unsigned', 86400));
    expect(decode('18446744073709551615', '/1/0/1')).toEqual(singleResource(1, 'unsigned', 2n ** 64n - 1n));
    expect(decode('-43.5723', '/6/0/0')).toEqual(singleResource(0, 'float', -43.5723));
    expect(decode('1e3', '/6/0/2')).toEqual(singleResource(2, 'float', 1000));
    expect(decode('1', '/1/0/6')).toEqual(singleResource(6, 'boolean', true));
    expect(decode('0', '/1/0/6')).toEqual(singleResource(6, 'boolean', false));
    expect(decode('1367491215', '/3/0/13')).toEqual(singleResource(13, 'time', new Date(1367491215000)));
    expect(decode('11:0', '/1/0/10')).toEqual(singleResource(10, 'objlnk', { objectId: 11, instanceId: 0 }));
    expect(decode('7', '/4/0/1/3')).toEqual(resourceInstance(3, 'integer', 7));
  });

  it('writes each type in its text form', () => {
    const enc = (n: Parameters<typeof textCodec.encode>[0]) =>
      textCodec.encode(n, P('/3/0/0'), model).toString();
    expect(enc(singleResource(15, 'float', 56.4))).toBe('56.4');
    expect(enc(singleResource(13, 'time', new Date(1367491215000)))).toBe('1367491215');
    expect(enc(singleResource(6, 'boolean', true))).toBe('1');
    expect(enc(singleResource(1, 'objlnk', { objectId: 3, instanceId: 0 }))).toBe('3:0');
    expect(enc(singleResource(1, 'integer', -(2n ** 63n)))).toBe('-9223372036854775808');
    expect(enc(resourceInstance(1, 'string', 'héllo'))).toBe('héllo');
  });

  it('reads opaque as base64 for LwM2M 1.0 devices, but never writes opaque as text (1.1)', () => {
    expect(decode('AQIDBAU=', '/5/0/0')).toEqual(singleResource(0, 'opaque', Buffer.from([1, 2, 3, 4, 5])));
    expect(() => decode('!,-INVALID$_', '/5/0/0')).toThrow(DecodeError);
    expect(() => textCodec.encode(singleResource(0, 'opaque', Buffer.from([1])), P('/5/0/0'), model)).toThrow(
      EncodeError,
    );
  });

  it('reads unknown resources as strings', () => {
    expect(textCodec.decode(Buffer.from('abc'), P('/4242/0/1'), EMPTY_OBJECT_MODEL_REGISTRY)).toEqual(
      singleResource(1, 'string', 'abc'),
    );
  });

  it('carries only single resources and resource instances', () => {
    expect(() => decode('1', '/3/0/6')).toThrow(DecodeError);
    expect(() => decode('1', '/3/0')).toThrow(DecodeError);
    expect(() => textCodec.encode(multipleResource(6, 'integer', [[0, 1]]), P('/3/0/6'), model)).toThrow(
      EncodeError,
    );
  });

  it('rejects bad text with a DecodeError', () => {
    for (const [text, path] of [
      ['12a', '/3/0/9'],
      ['', '/3/0/9'],
      ['9223372036854775808', '/3/0/9'],
      ['-1', '/1/0/1'],
      ['true', '/1/0/6'],
      ['1.2.3', '/6/0/0'],
      ['NaN', '/6/0/0'],
      ['3:70000', '/1/0/10'],
      ['99999999999999', '/3/0/13'],
    ]) {
      expect(() => decode(text, path), `${text} at ${path}`).toThrow(DecodeError);
    }
    expect(() => textCodec.decode(Buffer.from([0xff, 0xfe]), P('/3/0/0'), model)).toThrow(DecodeError);
  });

  it('decodes what it encodes for every type but opaque', () => {
    const m = allTypesModel();
    const types = VALUE_TYPES.filter((t) => t !== 'opaque');
    fc.assert(
      fc.property(singleValueArb({ finiteFloats: true }, types), ({ node, path }) => {
        expect(nodesEqual(textCodec.decode(textCodec.encode(node, path, m), path, m), node)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('survives 100k mutated and random payloads with DecodeError only', () => {
    const paths = ['/3/0/0', '/3/0/9', '/1/0/1', '/6/0/0', '/1/0/6', '/3/0/13', '/1/0/10', '/5/0/0'].map(P);
    const seeds = [
      'Open Mobile Alliance',
      '100',
      '-42',
      '86400',
      '-43.5723e-2',
      '1',
      '1367491215',
      '3:0',
      'AQIDBAU=',
    ];
    fuzzDecoder({
      name: 'text',
      seeds: seeds.map((s) => Buffer.from(s)),
      decode: (b) => textCodec.decode(b, paths[b.length % paths.length], model),
      runs: 100_000,
      seed: 0,
    });
  });
});
