import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import {
  buildObjects,
  decodeJsonEntries,
  defaultObjectModelRegistry,
  jsonCodec,
  Lwm2mPath,
  lwm2mObject,
  nodesEqual,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { allTypesModel, deviceInstance, nodeWithPathArb, reasonOf } from './fixtures';

const model = defaultObjectModelRegistry();
const P = (s: string) => Lwm2mPath.parse(s);
const buf = (s: string) => Buffer.from(s, 'utf8');

// TS 1.0.2 section 6.4.4 (TS 1.1 Core 7.4.5): Read /3/0 as JSON (spec layout, line breaks removed).
const DEVICE_JSON =
  '{"bn":"/3/0/","e":[' +
  '{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},' +
  '{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},' +
  '{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},' +
  '{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}';
// Same section: historical values of resource /72/1/2, relative to bt.
const HISTORY_JSON =
  '{"bn":"/72/","e":[{"n":"1/2","v":22.4,"t":-5},{"n":"1/2","v":22.9,"t":-30},{"n":"1/2","v":24.1,"t":-50}],"bt":25462634}';
// Same section: Read /65/0 with base name "/" reporting the linked instances of 66 and 67 too.
const OBJLNK_TREE_JSON =
  '{ "bn":"/", "e":[ {"n":"65/0/0/0","ov":"66:0"}, {"n":"65/0/0/1","ov":"66:1"}, {"n":"65/0/1","sv":"8613800755500"},' +
  '{"n":"65/0/2","v":1}, {"n":"66/0/0","sv":"myService1"}, {"n":"66/0/1","sv":"Internet.15.234"},' +
  '{"n":"66/0/2","ov":"67:0"}, {"n":"66/1/0","sv":"myService2"}, {"n":"66/1/1","sv":"Internet.15.235"},' +
  '{"n":"66/1/2","ov":"FFFF:FFFF"}, {"n":"67/0/0","sv":"85.76.76.84"}, {"n":"67/0/1","sv":"85.76.255.255"}]}';
// Same section: Read /3/0/0.
const SINGLE_JSON = '{"bn":"/3/0/0","e":[{"sv":"Open Mobile Alliance"}]}';

// TS 1.1 Core 7.4.3 / 7.4.5: the Device instance of the examples.
const device = deviceInstance();

describe('LwM2M JSON spec examples (TS 1.0.2 section 6.4.4 = TS 1.1 Core section 7.4.5)', () => {
  it('decodes the Device instance and encodes it back to the same text', () => {
    expect(nodesEqual(jsonCodec.decode(buf(DEVICE_JSON), P('/3/0'), model), device)).toBe(true);
    expect(jsonCodec.encode(device, P('/3/0'), model).toString()).toBe(DEVICE_JSON);
  });

  it('reads the same instance with a root base name or with no base name', () => {
    const rooted = DEVICE_JSON.replace('"bn":"/3/0/"', '"bn":"/"').replace(/"n":"/g, '"n":"3/0/');
    const bare = DEVICE_JSON.replace('"bn":"/3/0/",', '').replace(/"n":"/g, '"n":"/3/0/');
    expect(nodesEqual(jsonCodec.decode(buf(rooted), P('/3/0'), model), device)).toBe(true);
    expect(nodesEqual(jsonCodec.decode(buf(bare), P('/3/0'), model), device)).toBe(true);
  });

  it('decodes and encodes a single resource with the resource path as base name', () => {
    const node = singleResource(0, 'string', 'Open Mobile Alliance');
    expect(jsonCodec.decode(buf(SINGLE_JSON), P('/3/0/0'), model)).toEqual(node);
    expect(jsonCodec.encode(node, P('/3/0/0'), model).toString()).toBe(SINGLE_JSON);
  });

  it('splits historical values by time (bt + t), oldest first, and reads the newest as current', () => {
    const data = jsonCodec.decodeTimestamped(buf(HISTORY_JSON), P('/72/1/2'), model);
    expect(data.map((d) => d.time)).toEqual([25462584, 25462604, 25462629]);
    expect(data.map((d) => (d.nodes[0].node as { value: number }).value)).toEqual([24.1, 22.9, 22.4]);
    expect(jsonCodec.decode(buf(HISTORY_JSON), P('/72/1/2'), model)).toEqual(
      singleResource(2, 'float', 22.4),
    );
    const again = jsonCodec.decodeTimestamped(jsonCodec.encodeTimestamped(data), P('/72/1/2'), model);
    expect(again).toEqual(data);
  });

  it('reads an object-link tree spanning objects 65, 66 and 67 as entries (the FFFF:FFFF null link too)', () => {
    const objects = buildObjects(decodeJsonEntries(buf(OBJLNK_TREE_JSON), model), model);
    expect(objects.map((o) => o.id)).toEqual([65, 66, 67]);
    expect(objects[1].instances.get(1)!.resources.get(2)).toEqual(
      singleResource(2, 'objlnk', { objectId: 65535, instanceId: 65535 }),
    );
    expect(() => jsonCodec.decode(buf(OBJLNK_TREE_JSON), P('/65/0'), model)).toThrow(DecodeError);
  });
});

describe('LwM2M JSON values and limits', () => {
  it('types values by the model: opaque as base64 in sv, objlnk in ov, time and unsigned in v', () => {
    const text =
      '{"bn":"/","e":[{"n":"5/0/0","sv":"AQI="},{"n":"1/0/10","ov":"11:0"},{"n":"1/0/1","v":300}]}';
    const [fw, server] = buildObjects(decodeJsonEntries(buf(text), model), model).sort((a, b) => b.id - a.id);
    expect(fw.instances.get(0)!.resources.get(0)).toEqual(singleResource(0, 'opaque', Buffer.from([1, 2])));
    expect(server.instances.get(0)!.resources.get(1)).toEqual(singleResource(1, 'unsigned', 300));
  });

  it('types unknown resources by their key', () => {
    const text =
      '{"bn":"1024/0/","e":[{"n":"0","sv":"a string"},{"n":"1","v":10.5},{"n":"2","bv":true},{"n":"3","v":7}]}';
    const node = jsonCodec.decode(buf(text), P('/1024/0'), model);
    expect(
      nodesEqual(
        node,
        objectInstance(0, [
          singleResource(0, 'string', 'a string'),
          singleResource(1, 'float', 10.5),
          singleResource(2, 'boolean', true),
          singleResource(3, 'integer', 7),
        ]),
      ),
    ).toBe(true);
  });

  it('reads {"e":[]} as an empty object and rejects a payload with no "e"', () => {
    expect(jsonCodec.decode(buf('{"e":[]}'), P('/2'), model)).toEqual(lwm2mObject(2, []));
    expect(() => jsonCodec.decode(buf('{}'), P('/2'), model)).toThrow(DecodeError);
  });

  it('rejects malformed, mistyped, too deep or misplaced entries with a DecodeError', () => {
    const reason = (text: string, path = '/3/0') =>
      reasonOf(() => jsonCodec.decode(buf(text), P(path), model)) ?? 'accepted';
    expect(reason('{"e":[')).toBe('bad-json');
    expect(reason('[[[[[]]]]]')).toBe('too-deep');
    expect(reason('{"bn":"/3/0/","e":[{"n":"9","sv":"x"}]}')).toBe('type-mismatch');
    expect(reason('{"bn":"/3/0/","e":[{"n":"9","v":1.5}]}')).toBe('bad-number');
    expect(reason('{"bn":"/3/0/","e":[{"n":"9","v":1,"sv":"1"}]}')).toBe('bad-entry');
    expect(reason('{"bn":"/4/0/","e":[{"n":"0","v":1}]}')).toBe('path-outside-request');
    expect(reason('{"bn":"/3/0/","e":[{"n":"9","v":1},{"n":"9","v":2}]}')).toBe('duplicate-path');
    expect(reason('{"bn":"/3/0/","e":[{"n":"x","v":1}]}')).toBe('bad-path');
  });

  it('decodes what it encodes, for every node kind and value type', () => {
    const m = allTypesModel();
    fc.assert(
      fc.property(
        nodeWithPathArb({ safeIntegers: true, finiteFloats: true }, undefined, 1),
        ({ node, path }) => {
          const decoded = jsonCodec.decode(jsonCodec.encode(node, path, m), path, m);
          expect(nodesEqual(decoded, node)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('survives 100k mutated and random payloads with DecodeError only', () => {
    const paths = ['/3/0', '/3', '/3/0/0', '/72/1/2'].map(P);
    fuzzDecoder({
      name: 'lwm2m-json',
      seeds: [DEVICE_JSON, HISTORY_JSON, SINGLE_JSON, OBJLNK_TREE_JSON].map(buf),
      decode: (b) => jsonCodec.decode(b, paths[b.length % paths.length], model),
      runs: 100_000,
      seed: 11543,
    });
  });
});
