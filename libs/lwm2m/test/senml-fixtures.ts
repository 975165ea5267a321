// Shared by the SenML JSON / SenML CBOR / LwM2M CBOR specs: a tiny object model (the parts of
// objects 0, 1, 3 and 65 the spec examples use) and fast-check generators of nodes of every kind.
import fc from 'fast-check';
import type { ObjectModel, ObjectModelRegistry, ResourceModel } from '../src/model/object-model';
import {
  lwm2mObject,
  multipleResource,
  objectInstance,
  singleResource,
  type Lwm2mNode,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
} from '../src/node';
import { Lwm2mPath } from '../src/path';
import type { Lwm2mValue, ResourceType } from '../src/value';

type Def = [id: number, type: ResourceType, multiple?: boolean];

export function registry(objects: Record<number, Def[]>): ObjectModelRegistry {
  const models = new Map<number, ObjectModel>();
  for (const [oid, defs] of Object.entries(objects)) {
    const resources = new Map<number, ResourceModel>(
      defs.map(([id, type, multiple]) => [
        id,
        { id, name: `r${id}`, operations: 'RW', multiple: multiple === true, mandatory: false, type },
      ]),
    );
    models.set(Number(oid), {
      id: Number(oid),
      name: `o${oid}`,
      version: '1.0',
      multiple: true,
      mandatory: false,
      resources,
    });
  }
  return {
    getObject: (o) => models.get(o),
    getResource: (o, r) => models.get(o)?.resources.get(r),
  };
}

/** Appendix E definitions of the resources the TS examples use. */
export const testModel = registry({
  0: [[3, 'opaque']],
  1: [
    [0, 'integer'],
    [1, 'integer'],
    [2, 'integer'],
    [3, 'integer'],
    [5, 'integer'],
    [6, 'boolean'],
    [7, 'string'],
  ],
  3: [
    [0, 'string'],
    [1, 'string'],
    [2, 'string'],
    [3, 'string'],
    [6, 'integer', true],
    [7, 'integer', true],
    [8, 'integer', true],
    [9, 'integer'],
    [10, 'integer'],
    [11, 'integer', true],
    [13, 'time'],
    [14, 'string'],
    [16, 'string'],
  ],
  65: [
    [0, 'objlnk', true],
    [1, 'string'],
    [2, 'integer'],
  ],
});

export const emptyModel: ObjectModelRegistry = { getObject: () => undefined, getResource: () => undefined };

/** Device object instance 0 of the TS 1.1 Core examples (7.4.3 TLV, 7.4.4 SenML JSON). */
export function deviceInstance(): Lwm2mObjectInstance {
  return objectInstance(0, [
    singleResource(0, 'string', 'Open Mobile Alliance'),
    singleResource(1, 'string', 'Lightweight M2M Client'),
    singleResource(2, 'string', '345000123'),
    singleResource(3, 'string', '1.0'),
    multipleResource(6, 'integer', [
      [0, 1],
      [1, 5],
    ]),
    multipleResource(7, 'integer', [
      [0, 3800],
      [1, 5000],
    ]),
    multipleResource(8, 'integer', [
      [0, 125],
      [1, 900],
    ]),
    singleResource(9, 'integer', 100),
    singleResource(10, 'integer', 15),
    multipleResource(11, 'integer', [[0, 0]]),
    singleResource(13, 'time', new Date(1367491215000)),
    singleResource(14, 'string', '+02:00'),
    singleResource(16, 'string', 'U'),
  ]);
}

// ---- generators ----

const normalize = (b: bigint): number | bigint =>
  b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;

/** What a format can carry beyond the common ground. */
export interface ValueOptions {
  /** -0.0 as a float (JSON writes "-0.0"); cbor-x writes -0 as the integer 0. Default true. */
  negativeZero?: boolean;
}

export function arbValue(type: ResourceType, opts: ValueOptions = {}): fc.Arbitrary<Lwm2mValue> {
  switch (type) {
    case 'string':
    case 'corelnk':
      return fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'integer':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(normalize);
    case 'unsigned':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalize);
    case 'float':
      return fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .map((x) => (opts.negativeZero === false && Object.is(x, -0) ? 0 : x));
    case 'boolean':
      return fc.boolean();
    case 'opaque':
      return fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
    case 'time':
      return fc.integer({ min: -2e9, max: 5e9 }).map((s) => new Date(s * 1000));
    case 'objlnk':
      return fc.record({
        objectId: fc.integer({ min: 0, max: 65535 }),
        instanceId: fc.integer({ min: 0, max: 65535 }),
      });
    case 'none':
      return fc.constant('');
  }
}

export const ALL_TYPES: ResourceType[] = [
  'string',
  'corelnk',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
];

interface ResourceSchema {
  id: number;
  type: ResourceType;
  multiple: boolean;
}

/** One object: a schema (resource types), and instances that use it. Every container is non-empty. */
export function arbObject(
  types: ResourceType[],
  opts: ValueOptions = {},
): fc.Arbitrary<{ object: Lwm2mObject; model: ObjectModelRegistry }> {
  const schema = fc.uniqueArray(
    fc.record({
      id: fc.integer({ min: 0, max: 65535 }),
      type: fc.constantFrom(...types),
      multiple: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4, selector: (r) => r.id },
  );
  return fc.tuple(fc.integer({ min: 0, max: 65535 }), schema).chain(([oid, resources]) => {
    const resource = (s: ResourceSchema): fc.Arbitrary<Lwm2mResource> =>
      s.multiple
        ? fc
            .uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), arbValue(s.type, opts)), {
              minLength: 1,
              maxLength: 3,
              selector: (t) => t[0],
            })
            .map((inst) => multipleResource(s.id, s.type, inst))
        : arbValue(s.type, opts).map((v) => singleResource(s.id, s.type, v));
    const instance = (iid: number): fc.Arbitrary<Lwm2mObjectInstance> =>
      fc
        .subarray(resources, { minLength: 1 })
        .chain((subset) => fc.tuple(...subset.map(resource)))
        .map((rs) => objectInstance(iid, rs));
    const object = fc
      .uniqueArray(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 3 })
      .chain((iids) => fc.tuple(...iids.map(instance)))
      .map((insts) => lwm2mObject(oid, insts));
    const model = registry({ [oid]: resources.map((r) => [r.id, r.type, r.multiple] as Def) });
    return object.map((o) => ({ object: o, model }));
  });
}

/** A node of any kind, cut from a generated object, with its path. */
export function arbNodeAtPath(
  types: ResourceType[],
  opts: ValueOptions = {},
): fc.Arbitrary<{ node: Lwm2mNode; path: Lwm2mPath; model: ObjectModelRegistry }> {
  return arbObject(types, opts).chain(({ object, model }) =>
    fc.nat().map((pick) => {
      const inst = [...object.instances.values()][pick % object.instances.size];
      const res = [...inst.resources.values()][pick % inst.resources.size];
      const choices: Array<{ node: Lwm2mNode; path: Lwm2mPath }> = [
        { node: object, path: new Lwm2mPath(object.id) },
        { node: inst, path: new Lwm2mPath(object.id, inst.id) },
        { node: res, path: new Lwm2mPath(object.id, inst.id, res.id) },
      ];
      if (res.kind === 'multipleResource') {
        const [ri, v] = [...res.instances.entries()][pick % res.instances.size];
        choices.push({
          node: { kind: 'resourceInstance', id: ri, type: res.type, value: v },
          path: new Lwm2mPath(object.id, inst.id, res.id, ri),
        });
      }
      return { ...choices[pick % choices.length], model };
    }),
  );
}

export const arbPath = fc
  .array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 4 })
  .map((ids) => new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]));
