// fast-check generators of LwM2M nodes over a test object holding one resource of every type.
import fc from 'fast-check';
import {
  type Lwm2mNode,
  type Lwm2mValue,
  type ObjectModel,
  type ResourceModel,
  type ResourceType,
  defaultObjectModelRegistry,
  Lwm2mPath,
  normalizeInteger,
} from '@lwm2m/lwm2m';

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
const resources = new Map<number, ResourceModel>();
VALUE_TYPES.forEach((type, i) => {
  resources.set(i, {
    id: i,
    name: `single ${type}`,
    operations: 'RW',
    multiple: false,
    mandatory: false,
    type,
  });
  resources.set(10 + i, {
    id: 10 + i,
    name: `multi ${type}`,
    operations: 'RW',
    multiple: true,
    mandatory: false,
    type,
  });
});
export const TEST_OBJECT: ObjectModel = {
  id: TEST_OBJECT_ID,
  name: 'all types',
  version: '1.0',
  multiple: true,
  mandatory: false,
  resources,
};
export const testModel = () => defaultObjectModelRegistry().add(TEST_OBJECT);

export interface ValueOptions {
  /** JSON numbers are doubles: keep integers within 2^53. */
  safeIntegers?: boolean;
  /** Text and JSON have no NaN/Infinity. */
  finiteFloats?: boolean;
}

export function valueArb(type: ResourceType, o: ValueOptions = {}): fc.Arbitrary<Lwm2mValue> {
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return fc.string({ unit: 'binary', maxLength: 24 });
    case 'integer':
      return o.safeIntegers
        ? fc.maxSafeInteger()
        : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(normalizeInteger);
    case 'unsigned':
      return o.safeIntegers
        ? fc.maxSafeNat()
        : fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalizeInteger);
    case 'float':
      return fc.double({ noNaN: o.finiteFloats, noDefaultInfinity: o.finiteFloats });
    case 'boolean':
      return fc.boolean();
    case 'opaque':
      return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    case 'time':
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

const instanceValues = (type: ResourceType, o: ValueOptions) =>
  fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), valueArb(type, o)), {
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
      : valueArb(type, o).map((value): Lwm2mNode => ({ kind: 'singleResource', id: i, type, value }));
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
      return valueArb(type, o).map((value) =>
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
