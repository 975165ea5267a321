import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import {
  decodeTlv,
  decodeTlvNode,
  defaultObjectModelRegistry,
  EMPTY_OBJECT_MODEL_REGISTRY,
  encodeTlv,
  type Lwm2mNode,
  Lwm2mPath,
  lwm2mObject,
  multipleResource,
  nodesEqual,
  nodeToTlvs,
  objectInstance,
  type ObjectModel,
  resourceInstance,
  singleResource,
  StaticObjectModelRegistry,
  tlvCodec,
} from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { allTypesModel, deviceInstance, hex, nodeWithPathArb, reasonOf } from './fixtures';

const P = (s: string) => Lwm2mPath.parse(s);

// Objects 65 and 66 of the object-link examples (TS 1.0.2 section 6.4.3.3, Figure 19 object tree).
const obj = (id: number, rows: Array<[number, boolean, 'string' | 'integer' | 'objlnk']>): ObjectModel => ({
  id,
  name: `example ${id}`,
  version: '1.0',
  multiple: true,
  mandatory: false,
  resources: new Map(
    rows.map(([rid, multiple, type]) => [
      rid,
      { id: rid, name: `r${rid}`, operations: 'R', multiple, mandatory: false, type },
    ]),
  ),
});
const model = new StaticObjectModelRegistry([
  ...defaultObjectModelRegistry()
    .objectIds()
    .map((id) => defaultObjectModelRegistry().getObject(id)!),
  obj(65, [
    [0, true, 'objlnk'],
    [1, false, 'string'],
    [2, false, 'integer'],
  ]),
  obj(66, [
    [0, false, 'string'],
    [1, false, 'string'],
    [2, false, 'objlnk'],
  ]),
]);

// TS 1.0.2 section 6.4.3.1 (= TS 1.1 Core 7.4.3.2.1): Read /3/0 answered with the resources only.
// The spec text spells "Lightweigt" (22 bytes announced, 21 printed); the bytes below hold the
// 22-byte "Lightweight M2M Client" the table names (Leshan LwM2mNodeDecoderTest uses the same).
const DEVICE_RESOURCES = hex(`
  C8 00 14 4F70656E204D6F62696C6520416C6C69616E6365
  C8 01 16 4C69676874776569676874204D324D20436C69656E74
  C8 02 09 333435303030313233
  C3 03 312E30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0ED8 42 01 1388
  87 08 41 00 7D 42 01 0384
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 5182428F
  C6 0E 2B30323A3030
  C1 10 55`);
// Section 6.4.3.2 A): Read /3 on the single-instance Device object, Object Instance TLV 08 00 79 first.
const DEVICE_OBJECT = Buffer.concat([hex('08 00 79'), DEVICE_RESOURCES]);
// Section 6.4.3.2 B): Read /2, two Access Control instances. The spec prints the second ACL
// Multiple Resource TLV as "86 02" (length 6) but its value is 7 bytes and the enclosing length
// 0x12 = 18 counts 9 for it: "87 02" is the consistent encoding (Leshan agrees).
const ACL_OBJECT = hex(`
  08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F
  08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 0136 01 C1 03 7F`);
// Section 6.4.3.2 C): Read /1, one Server instance. The spec prints length 0x0D, but the four
// resource TLVs take 3 + 6 + 3 + 3 = 15 = 0x0F bytes (its own table totals 16 + 3 = 18 bytes).
const SERVER_OBJECT = hex('08 00 0F C1 00 01 C4 01 00015180 C1 06 01 C1 07 55');
// Section 6.4.3.3 example 1): Read /65/0, an instance holding a multiple Objlnk resource.
const OBJ65_INSTANCE = hex(`
  88 00 0C 44 00 00420000 44 01 00420001
  C8 01 0D 38363133383030373535353030
  C4 02 12345678`);
// Section 6.4.3.3 example 2): Read /66, two instances. The spec prints instance lengths 0x23 but
// each holds 14 + 18 + 6 = 38 = 0x26 bytes.
const OBJ66_OBJECT = hex(`
  08 00 26 C8 00 0B 6D7953657276696365 2031 C8 01 0F 496E7465726E65742E31352E323334 C4 02 00430000
  08 01 26 C8 00 0B 6D7953657276696365 2032 C8 01 0F 496E7465726E65742E31352E323335 C4 02 FFFFFFFF`);

// TS 1.1 Core 7.4.3 / 7.4.5: the Device instance of the examples.
const device = deviceInstance();
const aclObject = lwm2mObject(2, [
  objectInstance(0, [
    singleResource(0, 'integer', 1),
    singleResource(1, 'integer', 0),
    multipleResource(2, 'integer', [[127, 7]]),
    singleResource(3, 'integer', 127),
  ]),
  objectInstance(2, [
    singleResource(0, 'integer', 3),
    singleResource(1, 'integer', 0),
    multipleResource(2, 'integer', [
      [127, 7],
      [310, 1],
    ]),
    singleResource(3, 'integer', 127),
  ]),
]);
const serverObject = lwm2mObject(1, [
  objectInstance(0, [
    singleResource(0, 'integer', 1),
    singleResource(1, 'unsigned', 86400),
    singleResource(6, 'boolean', true),
    singleResource(7, 'string', 'U'),
  ]),
]);
const obj65Instance = objectInstance(0, [
  multipleResource(0, 'objlnk', [
    [0, { objectId: 66, instanceId: 0 }],
    [1, { objectId: 66, instanceId: 1 }],
  ]),
  singleResource(1, 'string', '8613800755500'),
  singleResource(2, 'integer', 0x12345678),
]);
const obj66Object = lwm2mObject(66, [
  objectInstance(0, [
    singleResource(0, 'string', 'myService 1'),
    singleResource(1, 'string', 'Internet.15.234'),
    singleResource(2, 'objlnk', { objectId: 67, instanceId: 0 }),
  ]),
  objectInstance(1, [
    singleResource(0, 'string', 'myService 2'),
    singleResource(1, 'string', 'Internet.15.235'),
    singleResource(2, 'objlnk', { objectId: 65535, instanceId: 65535 }),
  ]),
]);

const expectNode = (actual: Lwm2mNode, expected: Lwm2mNode) =>
  expect(nodesEqual(actual, expected)).toBe(true);

describe('TLV spec examples (TS 1.0.2 section 6.4.3 = TS 1.1 Core section 7.4.3)', () => {
  const vectors: Array<[string, Buffer, string, Lwm2mNode]> = [
    ['a Device instance as bare resources (Read /3/0)', DEVICE_RESOURCES, '/3/0', device],
    [
      'the Device object with its Object Instance TLV (Read /3)',
      DEVICE_OBJECT,
      '/3',
      lwm2mObject(3, [device]),
    ],
    ['two Access Control instances (Read /2)', ACL_OBJECT, '/2', aclObject],
    ['a Server object with one instance (Read /1)', SERVER_OBJECT, '/1', serverObject],
    ['an instance holding object links (Read /65/0)', OBJ65_INSTANCE, '/65/0', obj65Instance],
    ['two instances with single object links (Read /66)', OBJ66_OBJECT, '/66', obj66Object],
  ];
  for (const [what, bytes, path, node] of vectors) {
    it(`decodes ${what}`, () => {
      expectNode(tlvCodec.decode(bytes, P(path), model), node);
    });
    it(`encodes ${what} byte for byte`, () => {
      expect(tlvCodec.encode(node, P(path), model).toString('hex')).toBe(bytes.toString('hex'));
    });
  }

  it('counts the sizes the spec gives: 121, 124, 38, 18 bytes', () => {
    expect([DEVICE_RESOURCES.length, DEVICE_OBJECT.length, ACL_OBJECT.length, SERVER_OBJECT.length]).toEqual([
      121, 124, 38, 18,
    ]);
  });

  it('reads an instance wrapped in its Object Instance TLV at an instance path (Core 7.4.3)', () => {
    expectNode(tlvCodec.decode(DEVICE_OBJECT, P('/3/0'), model), device);
  });

  it('can wrap an instance in its Object Instance TLV on request', () => {
    expect(encodeTlv(nodeToTlvs(device, { wrapInstance: true }))).toEqual(DEVICE_OBJECT);
  });
});

describe('TLV resources and resource instances', () => {
  it('reads a multiple resource from a Multiple Resource TLV or from bare Resource Instance TLVs', () => {
    const expected = multipleResource(6, 'integer', [
      [0, 1],
      [1, 5],
    ]);
    expectNode(tlvCodec.decode(hex('86 06 41 00 01 41 01 05'), P('/3/0/6'), model), expected);
    expectNode(tlvCodec.decode(hex('41 00 01 41 01 05'), P('/3/0/6'), model), expected);
    expect(tlvCodec.encode(expected, P('/3/0/6'), model)).toEqual(hex('86 06 41 00 01 41 01 05'));
  });

  it('reads a single resource and a resource instance, with or without containers around them', () => {
    expectNode(tlvCodec.decode(hex('C1 09 64'), P('/3/0/9'), model), singleResource(9, 'integer', 100));
    expectNode(
      tlvCodec.decode(hex('08 00 03 C1 09 64'), P('/3/0/9'), model),
      singleResource(9, 'integer', 100),
    );
    expectNode(tlvCodec.decode(hex('41 01 05'), P('/3/0/6/1'), model), resourceInstance(1, 'integer', 5));
    expectNode(
      tlvCodec.decode(hex('83 06 41 01 05'), P('/3/0/6/1'), model),
      resourceInstance(1, 'integer', 5),
    );
  });

  it('reads an empty payload as an empty object, instance or multiple resource, not as a single resource', () => {
    expectNode(tlvCodec.decode(Buffer.alloc(0), P('/2'), model), lwm2mObject(2, []));
    expectNode(tlvCodec.decode(Buffer.alloc(0), P('/2/0'), model), objectInstance(0, []));
    expectNode(tlvCodec.decode(Buffer.alloc(0), P('/3/0/6'), model), multipleResource(6, 'integer', []));
    expect(() => tlvCodec.decode(Buffer.alloc(0), P('/3/0/9'), model)).toThrow(DecodeError);
  });

  it('reads resources of an unknown object as opaque and keeps the wire multiplicity', () => {
    const node = tlvCodec.decode(
      hex('C3 01 616263 83 02 41 00 07'),
      P('/4242/0'),
      EMPTY_OBJECT_MODEL_REGISTRY,
    );
    expectNode(
      node,
      objectInstance(0, [
        singleResource(1, 'opaque', Buffer.from('abc')),
        multipleResource(2, 'opaque', [[0, Buffer.from([7])]]),
      ]),
    );
  });

  it('reads resources without an Object Instance TLV at an object path as instance 0', () => {
    expectNode(tlvCodec.decode(DEVICE_RESOURCES, P('/3'), model), lwm2mObject(3, [device]));
  });

  it('uses 16-bit identifiers and 16/24-bit lengths when needed', () => {
    const big = singleResource(300, 'opaque', Buffer.alloc(70000, 1));
    const bytes = tlvCodec.encode(big, P('/9/0/300'), model);
    expect(bytes.subarray(0, 6).toString('hex')).toBe('f8012c011170');
    const mid = tlvCodec.encode(singleResource(1, 'string', 'x'.repeat(300)), P('/9/0/1'), model);
    expect(mid.subarray(0, 4).toString('hex')).toBe('d001012c');
  });

  it('encodes integers in the shortest of 1, 2, 4, 8 bytes and floats in 4 bytes when exact', () => {
    const enc = (n: Lwm2mNode) => tlvCodec.encode(n, P('/9/0/1'), model).toString('hex');
    expect(enc(singleResource(1, 'integer', -128))).toBe('c10180');
    expect(enc(singleResource(1, 'integer', 128))).toBe('c2010080');
    expect(enc(singleResource(1, 'integer', -(2 ** 31)))).toBe('c40180000000');
    expect(enc(singleResource(1, 'integer', 2 ** 31))).toBe('c8010800000000' + '80000000');
    expect(enc(singleResource(1, 'unsigned', 255))).toBe('c101ff');
    expect(enc(singleResource(1, 'unsigned', 2n ** 64n - 1n))).toBe('c80108ffffffffffffffff');
    expect(enc(singleResource(1, 'float', 1.5))).toBe('c4013fc00000');
    expect(enc(singleResource(1, 'float', 0.1))).toBe('c801083fb999999999999a');
  });

  it('rejects malformed TLVs with a DecodeError and a stable reason', () => {
    const reason = (b: string, path = '/3/0') =>
      reasonOf(() => tlvCodec.decode(hex(b), P(path), model)) ?? 'accepted';
    expect(reason('C8 00 14 4F70')).toBe('truncated');
    expect(reason('C1 09')).toBe('truncated');
    expect(reason('08 00 03 08 00 00')).toBe('bad-tlv-nesting');
    expect(reason('86 06 C1 00 01 C1 01 05')).toBe('bad-tlv-nesting');
    expect(reason('C1 09 64 C1 09 65')).toBe('duplicate-id');
    expect(reason('C3 09 000000')).toBe('bad-integer-length');
    expect(reason('C1 06 02', '/1/0')).toBe('bad-boolean');
    expect(reason('C2 00 FFFF')).toBe('bad-utf8');
    expect(reason('08 01 03 C1 09 64')).toBe('id-mismatch');
    expect(reason('C1 09 64', '/')).toBe('unsupported-path');
    expect(reason('C8 0D 08 7FFFFFFFFFFFFFFF')).toBe('bad-time');
  });

  it('finds raw TLV structure without a model', () => {
    expect(decodeTlv(hex('86 06 41 00 01 41 01 05'))).toEqual([
      {
        kind: 'multipleResource',
        id: 6,
        children: [
          { kind: 'resourceInstance', id: 0, value: hex('01') },
          { kind: 'resourceInstance', id: 1, value: hex('05') },
        ],
      },
    ]);
  });
});

describe('TLV round trips', () => {
  it('decodes what it encodes, for every node kind and value type', () => {
    const m = allTypesModel();
    fc.assert(
      fc.property(nodeWithPathArb(), ({ node, path }) => {
        const decoded = tlvCodec.decode(tlvCodec.encode(node, path, m), path, m);
        expect(nodesEqual(decoded, node)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('survives 100k mutated and random payloads with DecodeError only', () => {
    const paths = ['/3', '/3/0', '/3/0/6', '/3/0/6/1', '/2', '/65/0', '/66', '/1/0/1'].map(P);
    const report = fuzzDecoder({
      name: 'tlv',
      seeds: [
        DEVICE_RESOURCES,
        DEVICE_OBJECT,
        ACL_OBJECT,
        SERVER_OBJECT,
        OBJ65_INSTANCE,
        OBJ66_OBJECT,
        hex('86 06 41 00 01 41 01 05'),
      ],
      decode: (b) => decodeTlvNode(b, paths[b.length % paths.length], model),
      runs: 100_000,
      seed: 11542,
    });
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.reasons.size).toBeGreaterThan(5);
  });
});
