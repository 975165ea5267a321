// The one set of test fixtures of @lwm2m/lwm2m: object models (the parts of objects 0, 1, 3 and 65
// the TS examples use; object 9000 with one resource of every type), the TS 1.1 Core Device instance,
// small helpers, and the fast-check generators of values and nodes every codec spec uses.
import { DecodeError } from '@lwm2m/bytes';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { ObjectModel, ObjectModelRegistry, ResourceModel } from '../src/model/object-model';
import { defaultObjectModelRegistry } from '../src/model/registry';
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

/** Payload bytes from spaced hex, as the specs print them. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The DecodeError reason `f` throws (failing the test on any other error), or undefined. */
export function reasonOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).reason;
  }
  return undefined;
}

// ---- object 9000: one resource of every type ----

/** Every resource type that holds a value, in the order of object 9000's resource ids. */
export const VALUE_TYPES: ResourceType[] = [
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
];

/** Object 9000: resource i (single) and 10 + i (multiple) of type VALUE_TYPES[i]. */
export const TEST_OBJECT_ID = 9000;
const allTypesResources = new Map<number, ResourceModel>();
VALUE_TYPES.forEach((type, i) => {
  const base = { operations: 'RW', mandatory: false, type } as const;
  allTypesResources.set(i, { ...base, id: i, name: `single ${type}`, multiple: false });
  allTypesResources.set(10 + i, { ...base, id: 10 + i, name: `multi ${type}`, multiple: true });
});
export const TEST_OBJECT: ObjectModel = {
  id: TEST_OBJECT_ID,
  name: 'all types',
  version: '1.0',
  multiple: true,
  mandatory: false,
  resources: allTypesResources,
};
/** The core objects plus object 9000. */
export const allTypesModel = () => defaultObjectModelRegistry().add(TEST_OBJECT);

// ---- generators ----

const normalize = (b: bigint): number | bigint =>
  b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;

/** What a format can carry beyond the common ground. */
export interface ValueOptions {
  /** JSON numbers are doubles: keep integers within 2^53. */
  safeIntegers?: boolean;
  /** Text, JSON and SenML have no NaN/Infinity. */
  finiteFloats?: boolean;
  /** -0.0 as a float (JSON writes "-0.0"); cbor-x writes -0 as the integer 0. Default true. */
  negativeZero?: boolean;
}

export function arbValue(type: ResourceType, o: ValueOptions = {}): fc.Arbitrary<Lwm2mValue> {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return fc.string({ unit: 'binary', maxLength: 24 });
    case 'integer':
      return o.safeIntegers
        ? fc.maxSafeInteger()
        : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(normalize);
    case 'unsigned':
      return o.safeIntegers ? fc.maxSafeNat() : fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalize);
    case 'float':
      return fc
        .double({ noNaN: o.finiteFloats, noDefaultInfinity: o.finiteFloats })
        .map((x) => (o.negativeZero === false && Object.is(x, -0) ? 0 : x));
    case 'boolean':
      return fc.boolean();
    case 'opaque':
      return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    case 'time':
      // Date's whole range in seconds (ECMA-262 21.4.1.1)
      return fc
        .bigInt({ min: -8_640_000_000_000n, max: 8_640_000_000_000n })
        .map((s) => new Date(Number(s) * 1000));
    case 'objlnk':
      return fc.record({
        objectId: fc.integer({ min: 0, max: 65535 }),
        instanceId: fc.integer({ min: 0, max: 65535 }),
      });
  }
}

interface ResourceSchema {
  id: number;
  type: ResourceType;
  multiple: boolean;
}

/** One object with a random schema (ids and types), and instances that use it. Every container is non-empty. */
export function arbObject(
  types: ResourceType[],
  valueOptions: ValueOptions = {},
): fc.Arbitrary<{ object: Lwm2mObject; model: ObjectModelRegistry }> {
  const opts: ValueOptions = { finiteFloats: true, ...valueOptions };
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

// ---- nodes under object 9000 ----

const instanceValues = (type: ResourceType, o: ValueOptions) =>
  fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), arbValue(type, o)), {
    minLength: 1,
    maxLength: 4,
    selector: (t) => t[0],
  });

/** A resource of the test object: `typeIndex` picks the type, `multiple` the kind. */
function resourceArb(o: ValueOptions, types: ResourceType[]) {
  return fc.tuple(fc.constantFrom(...types), fc.boolean()).chain(([type, multiple]) => {
    const i = VALUE_TYPES.indexOf(type);
    return multiple
      ? instanceValues(type, o).map((inst): Lwm2mNode => ({
          kind: 'multipleResource',
          id: 10 + i,
          type,
          instances: new Map(inst),
        }))
      : arbValue(type, o).map((value): Lwm2mNode => ({ kind: 'singleResource', id: i, type, value }));
  });
}

const instanceArb = (o: ValueOptions, types: ResourceType[], minResources: number) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 65534 }),
      fc.uniqueArray(resourceArb(o, types), { minLength: minResources, maxLength: 6, selector: (r) => r.id }),
    )
    .map(([id, rs]): Lwm2mNode & { kind: 'instance' } => ({
      kind: 'instance',
      id,
      resources: new Map(
        rs.map((r) => [r.id, r as Lwm2mNode & { kind: 'singleResource' | 'multipleResource' }]),
      ),
    }));

/** A node of any kind under object 9000 together with its path. */
export function nodeWithPathArb(
  o: ValueOptions = {},
  types: ResourceType[] = VALUE_TYPES,
  minResources = 0,
): fc.Arbitrary<{ node: Lwm2mNode; path: Lwm2mPath }> {
  const object = fc
    .uniqueArray(instanceArb(o, types, Math.max(1, minResources)), { maxLength: 3, selector: (i) => i.id })
    .map((is) => ({
      node: { kind: 'object', id: TEST_OBJECT_ID, instances: new Map(is.map((i) => [i.id, i])) } as Lwm2mNode,
      path: new Lwm2mPath(TEST_OBJECT_ID),
    }));
  const instance = instanceArb(o, types, minResources).map((i) => ({
    node: i as Lwm2mNode,
    path: new Lwm2mPath(TEST_OBJECT_ID, i.id),
  }));
  const resource = resourceArb(o, types).map((r) => ({
    node: r,
    path: new Lwm2mPath(TEST_OBJECT_ID, 0, r.id),
  }));
  return fc.oneof(object, instance, resource, singleValueArb(o, types));
}

/** A single resource or resource instance (what text/plain and opaque carry) with its path. */
export function singleValueArb(
  o: ValueOptions = {},
  types: ResourceType[] = VALUE_TYPES,
): fc.Arbitrary<{ node: Lwm2mNode; path: Lwm2mPath }> {
  return fc
    .tuple(fc.constantFrom(...types), fc.boolean(), fc.integer({ min: 0, max: 65535 }))
    .chain(([type, asInstance, ri]) => {
      const i = VALUE_TYPES.indexOf(type);
      return arbValue(type, o).map((value) =>
        asInstance
          ? {
              node: { kind: 'resourceInstance', id: ri, type, value } as Lwm2mNode,
              path: new Lwm2mPath(TEST_OBJECT_ID, 0, 10 + i, ri),
            }
          : {
              node: { kind: 'singleResource', id: i, type, value } as Lwm2mNode,
              path: new Lwm2mPath(TEST_OBJECT_ID, 0, i),
            },
      );
    });
}
