import { describe, expect, it } from 'vitest';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { cborInteger, decodeCbor, encodeCbor } from '../src/formats/cbor';
import { SenmlCborCodec, senmlCbor } from '../src/formats/senml-cbor';
import { senmlJson } from '../src/formats/senml-json';
import { resourceInstance, singleResource } from '../src/node';
import { Lwm2mPath } from '../src/path';
import { deviceInstance, emptyModel, hex, reasonOf, registry, testModel } from './fixtures';
import { compositeRoundTrip, inferredRoundTrip, nodeRoundTrip, pathsRoundTrip } from './senml-properties';

const codec = SenmlCborCodec;

describe('CBOR through cbor-x (the boundary every CBOR codec decodes through)', () => {
  const decode = (h: string): unknown => decodeCbor(hex(h), 't');

  it('decodes maps as Map with integer and array keys, and 64-bit integers as bigint', () => {
    expect(decode('a2 21 61 78 82 03 00 f6')).toEqual(
      new Map<unknown, unknown>([
        [-2, 'x'],
        [[3, 0], null],
      ]),
    );
    // RFC 8949 Appendix A
    expect(decode('1bffffffffffffffff')).toBe(18446744073709551615n);
    expect(decode('3bffffffffffffffff')).toBe(-18446744073709551616n);
    expect(decode('f93e00')).toBe(1.5);
    expect(decode('9f018202039f0405ffff')).toEqual([1, [2, 3], [4, 5]]);
  });

  it('reads bignums (RFC 8949 Appendix A) in linear time', () => {
    expect(decode('c249010000000000000000')).toBe(18446744073709551616n);
    expect(decode('c349010000000000000000')).toBe(-18446744073709551617n);
    // 256 KiB of 0xff: cbor-x's own reader took about 40 s for this
    const n = 256 * 1024;
    const head = Buffer.from([0xc2, 0x5a, 0, 0, 0, 0]);
    head.writeUInt32BE(n, 2);
    const started = performance.now();
    expect(decodeCbor(Buffer.concat([head, Buffer.alloc(n, 0xff)]), 't')).toBe(2n ** BigInt(8 * n) - 1n);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('writes integers in preferred serialization and floats as binary64', () => {
    // RFC 8949 Appendix A vectors where cbor-x's output matches
    expect(encodeCbor(cborInteger(1000000)).toString('hex')).toBe('1a000f4240');
    expect(encodeCbor(cborInteger(1000000000000)).toString('hex')).toBe('1b000000e8d4a51000');
    expect(encodeCbor(cborInteger(18446744073709551615n)).toString('hex')).toBe('1bffffffffffffffff');
    expect(encodeCbor(cborInteger(-1000)).toString('hex')).toBe('3903e7');
    expect(encodeCbor(1.1).toString('hex')).toBe('fb3ff199999999999a');
    expect(encodeCbor(-4.1).toString('hex')).toBe('fbc010666666666666');
    expect(encodeCbor(1.0e300).toString('hex')).toBe('fb7e37e43c8800759c');
  });

  it('turns truncation, lying lengths, trailing bytes, deep nesting and stray breaks into DecodeError', () => {
    expect(reasonOf(() => decode(''))).toBe('truncated');
    expect(reasonOf(() => decode('5a7fffffff41'))).toBe('truncated');
    expect(reasonOf(() => decode('9affffffff00'))).toBe('bad-cbor');
    expect(reasonOf(() => decode('bb00000000ffffffff0000'))).toBe('bad-cbor');
    expect(reasonOf(() => decode('9f0102'))).toBe('truncated');
    expect(reasonOf(() => decode('0000'))).toBe('bad-cbor');
    expect(reasonOf(() => decodeCbor(Buffer.alloc(65000, 0x81), 't'))).toBe('bad-cbor');
    expect(reasonOf(() => decode('1c'))).toBe('bad-cbor');
    expect(reasonOf(() => decode('ff'))).toBe('bad-cbor');
  });
});

describe('SenML CBOR (Content-Format 112)', () => {
  it('encodes opaque as a byte string under label 8 (Leshan senml_cbor_encode_opaque_resource)', () => {
    // [{-2: "/0/0/3", 8: h'ABCDEF'}]
    const bytes = hex('81a221662f302f302f330843abcdef');
    const node = singleResource(3, 'opaque', Buffer.from('abcdef', 'hex'));
    expect(codec.encode(node, new Lwm2mPath(0, 0, 3), testModel)).toEqual(bytes);
    expect(codec.decode(bytes, new Lwm2mPath(0, 0, 3), testModel)).toEqual(node);
  });

  it('reads objlnk under the text key "vlo" (OMA LwM2M issue #484, TS 1.1.1 7.4.6)', () => {
    // [{0: "/65/0/0/0", "vlo": "66:0"}]
    const bytes = hex('81a200692f36352f302f302f3063766c6f6436363a30');
    expect(codec.decode(bytes, new Lwm2mPath(65, 0, 0, 0), emptyModel)).toEqual(
      resourceInstance(0, 'objlnk', { objectId: 66, instanceId: 0 }),
    );
    expect(codec.encodePaths([new Lwm2mPath(65, 0, 0, 0)])).toEqual(hex('81a100692f36352f302f302f30'));
  });

  it('encodes the Device object instance as the label-for-label translation of the TS 1.1 JSON example', () => {
    const json = Buffer.from(
      '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},' +
        '{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},' +
        '{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},' +
        '{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},' +
        '{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]',
    );
    const bytes = codec.encode(deviceInstance(), new Lwm2mPath(3, 0), testModel);
    expect(bytes).toEqual(senmlCbor.fromRecords(senmlJson.toRecords(json)));
    expect(bytes.subarray(0, 12).toString('hex')).toBe('90a321652f332f302f006130');
    expect(codec.decode(bytes, new Lwm2mPath(3, 0), testModel)).toEqual(deviceInstance());
  });

  it('decodes Leshan timestamped nodes whose bt is a decimal fraction (tag 4)', () => {
    // Leshan LwM2mNodeEncoderTest.senml_cbor_encode_timestamped_nodes
    const bytes = hex(
      '83a321662f302f302f3022c482001a1dcd6504036c53616d706c65537472696e67a321662f302f302f3122c482001a1dcd650504f4' +
        'a321662f302f302f3222c482001a1dcd6506021901c8',
    );
    expect(codec.decodeTimestamped(bytes, emptyModel)).toEqual([
      {
        time: 500000004,
        nodes: [{ path: new Lwm2mPath(0, 0, 0), node: singleResource(0, 'string', 'SampleString') }],
      },
      {
        time: 500000005,
        nodes: [{ path: new Lwm2mPath(0, 0, 1), node: singleResource(1, 'boolean', false) }],
      },
      { time: 500000006, nodes: [{ path: new Lwm2mPath(0, 0, 2), node: singleResource(2, 'integer', 456) }] },
    ]);
  });

  it('encodes base time as a plain integer', () => {
    const data = [
      { time: 500000004, nodes: [{ path: new Lwm2mPath(0, 0, 2), node: singleResource(2, 'integer', 456) }] },
    ];
    // [{-2: "/0/0/2", -3: 500000004, 2: 456}]
    expect(codec.encodeTimestamped(data, emptyModel)).toEqual(
      hex('81a321662f302f302f32221a1dcd6504021901c8'),
    );
  });

  it('writes a float as binary64 and keeps an int64 past 2**53 exact', () => {
    const f = singleResource(1, 'float', 2.5);
    const fb = codec.encode(f, new Lwm2mPath(9999, 0, 1), emptyModel);
    expect(fb.toString('hex')).toBe('81a221692f393939392f302f3102fb4004000000000000');
    expect(codec.decode(fb, new Lwm2mPath(9999, 0, 1), emptyModel)).toEqual(f);
    const big = singleResource(9, 'integer', -9223372036854775808n);
    const bytes = codec.encode(big, new Lwm2mPath(3, 0, 9), testModel);
    expect(bytes.toString('hex')).toBe('81a221662f332f302f39023b7fffffffffffffff');
    expect(codec.decode(bytes, new Lwm2mPath(3, 0, 9), testModel)).toEqual(big);
  });

  it('writes an integral float as an integer (cbor-x), which the model reads back as a float', () => {
    // cbor-x never writes 2.0 as a float, so without a model it reads back as the integer 2
    const model = registry({ 9999: [[1, 'float']] });
    const f = singleResource(1, 'float', 2);
    const bytes = codec.encode(f, new Lwm2mPath(9999, 0, 1), model);
    expect(bytes.toString('hex')).toBe('81a221692f393939392f302f310202');
    expect(codec.decode(bytes, new Lwm2mPath(9999, 0, 1), model)).toEqual(f);
    expect(codec.decode(bytes, new Lwm2mPath(9999, 0, 1), emptyModel)).toEqual(
      singleResource(1, 'integer', 2),
    );
  });

  it('reads half and single precision floats (RFC 8949 Appendix A widths cbor-x does not write)', () => {
    // [{-2: "/9999/0/1", 2: 1.5 as binary16}] and the same with 100000.0 as binary32
    const path = new Lwm2mPath(9999, 0, 1);
    expect(codec.decode(hex('81a221692f393939392f302f3102f93e00'), path, emptyModel)).toEqual(
      singleResource(1, 'float', 1.5),
    );
    const model = registry({ 9999: [[1, 'float']] });
    expect(codec.decode(hex('81a221692f393939392f302f3102fa47c35000'), path, model)).toEqual(
      singleResource(1, 'float', 100000),
    );
  });

  it('rejects a non-array pack, non-map records, wrong value types and must-understand text labels', () => {
    const path = new Lwm2mPath(3, 0, 9);
    expect(reasonOf(() => codec.decode(hex('a0'), path, testModel))).toBe('bad-pack');
    expect(reasonOf(() => codec.decode(hex('8101'), path, testModel))).toBe('bad-record');
    expect(reasonOf(() => codec.decode(hex('81a221662f332f302f390261'), path, testModel))).toBe('truncated');
    expect(reasonOf(() => codec.decode(hex('81a221662f332f302f39026139'), path, testModel))).toBe(
      'bad-record',
    );
    expect(reasonOf(() => codec.decode(hex('81a321662f332f302f39020164666f6f5f01'), path, testModel))).toBe(
      'must-understand',
    );
  });

  describe('round trips (fast-check)', () => {
    // cbor-x writes -0.0 as the integer 0, so generated floats leave out -0
    it('decode(encode(node)) is the node, for every node kind and type, with the model', () => {
      nodeRoundTrip(codec, undefined, { negativeZero: false });
    });

    // floats are left out: an integral float reads back as an integer without a model (see above)
    it('decode(encode(node)) keeps the type without a model for the types SenML CBOR tells apart', () => {
      inferredRoundTrip(codec, ['string', 'integer', 'boolean', 'opaque', 'objlnk']);
    });

    it('composite and path lists round trip', () => {
      compositeRoundTrip(codec, { negativeZero: false });
      pathsRoundTrip(codec);
    });
  });

  it('survives 100k fuzzed inputs with only DecodeError', () => {
    const seeds = [
      codec.encode(deviceInstance(), new Lwm2mPath(3, 0), testModel),
      hex('81a200692f36352f302f302f3063766c6f6436363a30'),
      hex(
        '83a321662f302f302f3022c482001a1dcd6504036c53616d706c65537472696e67a321662f302f302f3122c482001a1dcd650504f4',
      ),
      hex('9f018202039f0405ffff'),
    ];
    const report = fuzzDecoder({
      name: 'senml-cbor',
      decode: (b) => codec.decodeTimestamped(b, testModel),
      seeds,
      runs: 100_000,
      seed: 112,
    });
    expect(report.rejected).toBeGreaterThan(0);
  });
});
