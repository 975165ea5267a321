// Objects played from their models (DDF files of the vendored OMNA registry): every resource with a default
// of its type inside its range, the version announced at Register, the access rules of the model's Operations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lwm2mPath, type ObjectModel, parseDdf, vendoredModelsDir } from '@lwm2m/lwm2m';
import {
  addModelObject,
  defaultValue,
  DmError,
  ObjectTree,
  populateDeviceObjects,
  registrationLinks,
  simulatorObjectModelRegistry,
} from '@lwm2m/simulator';
import { serializeLwm2mLinks } from '@lwm2m/lwm2m';

const ddf = (id: number): ObjectModel => parseDdf(readFileSync(join(vendoredModelsDir(), `${id}.xml`)))[0]!;

function device(models: ObjectModel[]): ObjectTree {
  const t = new ObjectTree(simulatorObjectModelRegistry());
  populateDeviceObjects(
    t,
    { endpoint: 'e', serverUri: 'coap://127.0.0.1:5683', lifetime: 60, binding: 'U' },
    20,
  );
  for (const m of models) addModelObject(t, m, [0], 1_700_000_000_000);
  return t;
}

describe('objects played from a model', () => {
  it('registers </3303>;ver=1.1 and </3328/0> and answers reads of every readable resource', () => {
    const t = device([ddf(3303), ddf(3328)]);
    const links = serializeLwm2mLinks(registrationLinks(t, '1.1', [110]));
    expect(links).toContain('</3303>;ver=1.1,</3303/0>');
    expect(links).toContain('</3328>;ver=1.1,</3328/0>');
    const power = t.read(new Lwm2mPath(3328, 0));
    expect(power.kind).toBe('instance');
    const ids = [...(power.kind === 'instance' ? power.resources.keys() : [])].sort((a, b) => a - b);
    // Every readable resource of the DDF; 5605 (E) holds no value.
    const readable = [...ddf(3328).resources.values()]
      .filter((r) => r.operations.includes('R'))
      .map((r) => r.id);
    expect(ids).toEqual(readable.sort((a, b) => a - b));
    // The replaced 3303 keeps the temperature the device had (same resource, same type).
    expect(t.getValue('/3303/0/5700')).toBe(20);
    expect(t.getValue('/3303/0/5518')).toEqual(new Date(1_700_000_000_000));
  });

  it('follows the model: writes only writable resources, executes only executable ones', () => {
    const t = device([ddf(3328)]);
    const write = (rid: number, type: 'float' | 'string', value: number | string) =>
      t.write(new Lwm2mPath(3328, 0, rid), { kind: 'singleResource', id: rid, type, value }, true);
    write(5821, 'float', 1.5);
    expect(t.getValue('/3328/0/5821')).toBe(1.5);
    expect(() => write(5700, 'float', 3)).toThrow(DmError);
    t.execute(new Lwm2mPath(3328, 0, 5605), '');
    expect(() => t.execute(new Lwm2mPath(3328, 0, 5700), '')).toThrow(DmError);
    // Multiple instances: the server may Create one.
    expect(t.create(3328, undefined)).toBe(1);
  });

  it('picks defaults inside the range: lowest value, shortest allowed length', () => {
    const base = { id: 1, name: 'r', operations: 'RW' as const, multiple: false, mandatory: true };
    expect(
      defaultValue({ ...base, type: 'integer', range: { limits: 'value', intervals: [[5, 9]] } }, 0),
    ).toBe(5);
    expect(
      defaultValue({ ...base, type: 'string', range: { limits: 'length', intervals: [[2, 4]] } }, 0),
    ).toBe('xx');
    expect(defaultValue({ ...base, type: 'opaque' }, 0)).toEqual(Buffer.alloc(0));
    expect(defaultValue({ ...base, type: 'objlnk' }, 0)).toEqual({ objectId: 65535, instanceId: 65535 });
    expect(defaultValue({ ...base, type: 'boolean' }, 0)).toBe(false);
  });
});
