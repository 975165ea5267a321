import { DecodeError } from '@lwm2m/bytes';
import { describe, expect, it } from 'vitest';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { resolveRecords } from '../src/formats/senml';
import {
  createSenmlJsonCodec,
  MAX_SENML_JSON_BYTES,
  SenmlJsonCodec,
  senmlJson,
} from '../src/formats/senml-json';
import { multipleResource, objectInstance, resourceInstance, singleResource } from '../src/node';
import { Lwm2mPath } from '../src/path';
import { deviceInstance, emptyModel, testModel } from './fixtures';
import { compositeRoundTrip, inferredRoundTrip, nodeRoundTrip, pathsRoundTrip } from './senml-properties';

const codec = SenmlJsonCodec;
const text = (b: Buffer): string => b.toString('utf8');
const json = (s: string): Buffer => Buffer.from(s, 'utf8');

// TS 1.1 Core 7.4.4, Read /3/0 response (the Device object example; same text in Leshan's
// LwM2mNodeEncoderTest.senml_json_encode_device_object_instance).
const DEVICE_3_0 =
  '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},' +
  '{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},' +
  '{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},' +
  '{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},' +
  '{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]';

// TS 1.1 Core 6.3.x Read-Composite example (request names, response with one bn per resource),
// also Leshan's senml_json_encode_resources / senml_json_encode_path_using_name.
const COMPOSITE_RESPONSE =
  '[{"bn":"/3/0/0","vs":"Open Mobile Alliance"},{"bn":"/3/0/9","v":95},{"bn":"/1/0/1","v":86400}]';
const COMPOSITE_REQUEST = '[{"n":"/3/0/0"},{"n":"/3/0/9"},{"n":"/1/0/1"}]';

describe('SenML JSON (Content-Format 110)', () => {
  describe('TS 1.1 Core 7.4.4 examples', () => {
    it('encodes the Device object instance exactly as the spec prints it', () => {
      expect(text(codec.encode(deviceInstance(), new Lwm2mPath(3, 0), testModel))).toBe(DEVICE_3_0);
    });

    it('decodes the Device object instance example with types from the model', () => {
      const node = codec.decode(json(DEVICE_3_0), new Lwm2mPath(3, 0), testModel);
      expect(node).toEqual(deviceInstance());
    });

    it('encodes a single resource with the full path as base name', () => {
      const node = singleResource(0, 'string', 'Open Mobile Alliance');
      expect(text(codec.encode(node, new Lwm2mPath(3, 0, 0), testModel))).toBe(
        '[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]',
      );
    });

    it('encodes a multiple resource with one record per instance', () => {
      const node = multipleResource(7, 'integer', [
        [0, 3800],
        [1, 5000],
      ]);
      const bytes = codec.encode(node, new Lwm2mPath(3, 0, 7), testModel);
      expect(text(bytes)).toBe('[{"bn":"/3/0/7/","n":"0","v":3800},{"n":"1","v":5000}]');
      expect(codec.decode(bytes, new Lwm2mPath(3, 0, 7), testModel)).toEqual(node);
    });

    it('encodes opaque as base64url in vd (Leshan senml_json_encode_opaque_resource)', () => {
      const node = singleResource(3, 'opaque', Buffer.from('abcdef', 'hex'));
      const bytes = codec.encode(node, new Lwm2mPath(0, 0, 3), testModel);
      expect(text(bytes)).toBe('[{"bn":"/0/0/3","vd":"q83v"}]');
      expect(codec.decode(bytes, new Lwm2mPath(0, 0, 3), testModel)).toEqual(node);
    });

    it('encodes and decodes the Read-Composite example', () => {
      const nodes = [
        { path: new Lwm2mPath(3, 0, 0), node: singleResource(0, 'string', 'Open Mobile Alliance') },
        { path: new Lwm2mPath(3, 0, 9), node: singleResource(9, 'integer', 95) },
        { path: new Lwm2mPath(1, 0, 1), node: singleResource(1, 'integer', 86400) },
      ];
      expect(text(codec.encodeComposite(nodes, testModel))).toBe(COMPOSITE_RESPONSE);
      expect(codec.decodeComposite(json(COMPOSITE_RESPONSE), testModel)).toEqual(nodes);
      const paths = nodes.map((n) => n.path);
      expect(text(codec.encodePaths(paths))).toBe(COMPOSITE_REQUEST);
      expect(codec.decodePaths(json(COMPOSITE_REQUEST)).map(String)).toEqual(['/3/0/0', '/3/0/9', '/1/0/1']);
    });

    it('gathers a composite response under the requested paths when they are given', () => {
      const got = codec.decodeComposite(json(DEVICE_3_0), testModel, [new Lwm2mPath(3, 0)]);
      expect(got).toEqual([{ path: new Lwm2mPath(3, 0), node: deviceInstance() }]);
    });

    it('carries objlnk in vlo', () => {
      const node = multipleResource(0, 'objlnk', [
        [0, { objectId: 66, instanceId: 0 }],
        [1, { objectId: 66, instanceId: 1 }],
      ]);
      const bytes = codec.encode(node, new Lwm2mPath(65, 0, 0), testModel);
      expect(text(bytes)).toBe('[{"bn":"/65/0/0/","n":"0","vlo":"66:0"},{"n":"1","vlo":"66:1"}]');
      expect(codec.decode(bytes, new Lwm2mPath(65, 0, 0), emptyModel)).toEqual(node);
    });
  });

  describe('timestamped data (TS 1.1 Core 7.4.4 / Send)', () => {
    // Leshan LwM2mNodeEncoderTest.senml_json_encode_timestamped_nodes
    const SEND =
      '[{"bn":"/0/0/0","bt":500000001,"vs":"TestString"},' +
      '{"bn":"/0/1/","bt":500000002,"n":"1","vb":true},{"n":"2","v":123}]';

    it('puts bt on the first record of each time group', () => {
      const data = [
        {
          time: 500000001,
          nodes: [{ path: new Lwm2mPath(0, 0, 0), node: singleResource(0, 'string', 'TestString') }],
        },
        {
          time: 500000002,
          nodes: [
            {
              path: new Lwm2mPath(0, 1),
              node: objectInstance(1, [
                singleResource(1, 'boolean', true),
                singleResource(2, 'integer', 123),
              ]),
            },
          ],
        },
      ];
      expect(text(codec.encodeTimestamped(data, emptyModel))).toBe(SEND);
    });

    it('groups decoded records by their resolved time', () => {
      expect(codec.decodeTimestamped(json(SEND), emptyModel)).toEqual([
        {
          time: 500000001,
          nodes: [{ path: new Lwm2mPath(0, 0, 0), node: singleResource(0, 'string', 'TestString') }],
        },
        {
          time: 500000002,
          nodes: [
            { path: new Lwm2mPath(0, 1, 1), node: singleResource(1, 'boolean', true) },
            { path: new Lwm2mPath(0, 1, 2), node: singleResource(2, 'integer', 123) },
          ],
        },
      ]);
    });

    it('resolves times below 2**28 relative to now (RFC 8428 4.5.3)', () => {
      const c = createSenmlJsonCodec({ now: () => 1_700_000_000 });
      const got = c.decodeTimestamped(
        json('[{"bn":"/3/0/9","t":-5,"v":1},{"bn":"/3/0/9","t":0,"v":2}]'),
        testModel,
      );
      expect(got.map((g) => g.time)).toEqual([1_699_999_995, 1_700_000_000]);
    });

    it('resolves base name and base time as RFC 8428 5.1.2 (multiple datapoints) shows', () => {
      const pack =
        '[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320067464e+09,"bu":"A","bver":5,' +
        '"n":"voltage","u":"V","v":120.1},{"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},' +
        '{"n":"current","t":-3,"v":1.4},{"n":"current","t":-2,"v":1.5},{"n":"current","t":-1,"v":1.6},' +
        '{"n":"current","v":1.7}]';
      const resolved = resolveRecords(senmlJson.toRecords(json(pack)), 'test');
      expect(resolved.map((r) => [r.name, r.time, r.value?.value])).toEqual([
        ['urn:dev:ow:10e2073a01080063:voltage', 1320067464, 120.1],
        ['urn:dev:ow:10e2073a01080063:current', 1320067459, 1.2],
        ['urn:dev:ow:10e2073a01080063:current', 1320067460, 1.3],
        ['urn:dev:ow:10e2073a01080063:current', 1320067461, 1.4],
        ['urn:dev:ow:10e2073a01080063:current', 1320067462, 1.5],
        ['urn:dev:ow:10e2073a01080063:current', 1320067463, 1.6],
        ['urn:dev:ow:10e2073a01080063:current', 1320067464, 1.7],
      ]);
    });
  });

  describe('numbers', () => {
    it('keeps integers past 2**53 exact as bigint, both ways', () => {
      const payload = '[{"bn":"/3/0/9","v":9007199254740993}]';
      const node = codec.decode(json(payload), new Lwm2mPath(3, 0, 9), testModel);
      expect(node).toEqual(singleResource(9, 'integer', 9007199254740993n));
      expect(text(codec.encode(node, new Lwm2mPath(3, 0, 9), testModel))).toBe(payload);
    });

    it('reads an unknown integer past int64 as unsigned', () => {
      const node = codec.decode(
        json('[{"bn":"/9999/0/1","v":18446744073709551615}]'),
        new Lwm2mPath(9999, 0, 1),
        emptyModel,
      );
      expect(node).toEqual(singleResource(1, 'unsigned', 18446744073709551615n));
    });

    it('writes an integral float with a fraction so it reads back as a float', () => {
      const node = singleResource(1, 'float', 23);
      const bytes = codec.encode(node, new Lwm2mPath(9999, 0, 1), emptyModel);
      expect(text(bytes)).toBe('[{"bn":"/9999/0/1","v":23.0}]');
      expect(codec.decode(bytes, new Lwm2mPath(9999, 0, 1), emptyModel)).toEqual(node);
    });

    it('accepts an integral float for an integer resource and a time as a number', () => {
      const node = codec.decode(
        json('[{"bn":"/3/0/","n":"9","v":1e2},{"n":"13","v":0}]'),
        new Lwm2mPath(3, 0),
        testModel,
      );
      expect(node).toEqual(
        objectInstance(0, [singleResource(9, 'integer', 100), singleResource(13, 'time', new Date(0))]),
      );
    });
  });

  describe('bad input', () => {
    const bad = (payload: string, reason: string, path = new Lwm2mPath(3, 0)): void => {
      let err: unknown;
      try {
        codec.decode(json(payload), path, testModel);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).reason).toBe(reason);
    };

    it('rejects what is not a JSON array of objects', () => {
      bad('{"bn":"/3/0/0"}', 'bad-pack');
      bad('[1]', 'bad-record');
      bad('[{"bn":"/3/0/0","vs":"x"', 'bad-json');
      bad('[{"bn":"/3/0/0","vs":"x"}] x', 'bad-json');
    });

    it('refuses nesting deeper than an array of flat objects before parsing, and oversized packs', () => {
      bad('[{"bn":"/3/0/0","vs":"x","o":{}}]', 'too-deep');
      bad('['.repeat(100_000), 'too-deep');
      // brackets inside strings do not count
      expect(
        codec.decode(json('[{"bn":"/3/0/0","vs":"[[{{\\"]]"}]'), new Lwm2mPath(3, 0, 0), testModel),
      ).toEqual(singleResource(0, 'string', '[[{{"]]'));
      bad(' '.repeat(MAX_SENML_JSON_BYTES + 1), 'too-large');
    });

    it('rejects a member given twice with different values, and text that is not UTF-8', () => {
      bad('[{"bn":"/3/0/0","vs":"a","vs":"b"}]', 'bad-json');
      let err: unknown;
      try {
        codec.decode(Buffer.from('5b22ff225d', 'hex'), new Lwm2mPath(3, 0), testModel);
      } catch (e) {
        err = e;
      }
      expect((err as DecodeError).reason).toBe('bad-utf8');
    });

    it('rejects a value that does not match the model type', () => {
      bad('[{"bn":"/3/0/9","vs":"95"}]', 'type-mismatch', new Lwm2mPath(3, 0, 9));
      bad('[{"bn":"/3/0/9","v":9.5}]', 'bad-number', new Lwm2mPath(3, 0, 9));
    });

    it('rejects two values in one record, a path twice, and a path outside the request', () => {
      bad('[{"bn":"/3/0/0","vs":"a","vb":true}]', 'bad-record');
      bad('[{"bn":"/3/0/","n":"0","vs":"a"},{"n":"0","vs":"b"}]', 'duplicate-path');
      bad('[{"bn":"/1/0/1","v":1}]', 'path-mismatch');
    });

    it('rejects unknown must-understand labels but ignores other unknown labels (RFC 8428 4.4)', () => {
      bad('[{"bn":"/3/0/0","vs":"a","foo_":1}]', 'must-understand');
      expect(
        codec.decode(json('[{"bn":"/3/0/0","vs":"a","foo":1}]'), new Lwm2mPath(3, 0, 0), testModel),
      ).toEqual(singleResource(0, 'string', 'a'));
    });

    it('rejects bad base64 and bad objlnk text', () => {
      bad('[{"bn":"/0/0/3","vd":"q8*v"}]', 'bad-base64', new Lwm2mPath(0, 0, 3));
      bad('[{"bn":"/65/0/0/0","vlo":"66"}]', 'bad-objlnk', new Lwm2mPath(65, 0, 0, 0));
    });

    it('rejects a name that is not an LwM2M path', () => {
      bad('[{"bn":"/3/0/","n":"x","vs":"a"}]', 'bad-path');
    });
  });

  describe('round trips (fast-check)', () => {
    it('decode(encode(node)) is the node, for every node kind and type, with the model', () => {
      nodeRoundTrip(codec);
    });

    it('decode(encode(node)) keeps the type without a model for the types SenML JSON tells apart', () => {
      inferredRoundTrip(codec, ['string', 'integer', 'float', 'boolean', 'opaque', 'objlnk']);
    });

    it('composite and path lists round trip', () => {
      compositeRoundTrip(codec);
      pathsRoundTrip(codec);
    });

    it('a resource instance round trips on its own path', () => {
      const node = resourceInstance(1, 'integer', -5);
      expect(
        codec.decode(
          codec.encode(node, new Lwm2mPath(3, 0, 6, 1), testModel),
          new Lwm2mPath(3, 0, 6, 1),
          testModel,
        ),
      ).toEqual(node);
    });
  });

  it('survives 100k fuzzed inputs with only DecodeError', () => {
    const seeds = [json(DEVICE_3_0), json(COMPOSITE_RESPONSE), json(COMPOSITE_REQUEST)];
    const report = fuzzDecoder({
      name: 'senml-json',
      decode: (b) => codec.decodeTimestamped(b, testModel),
      seeds,
      runs: 100_000,
      seed: 110,
    });
    expect(report.rejected).toBeGreaterThan(0);
  });
});
