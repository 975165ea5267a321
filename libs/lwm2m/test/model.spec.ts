import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OBJECT_MODELS,
  defaultObjectModelRegistry,
  DEVICE_OBJECT,
  type ObjectModel,
  StaticObjectModelRegistry,
} from '@lwm2m/lwm2m';

describe('core object model (Core Appendix E, OMNA registry DDF files)', () => {
  it('defines objects 0 to 7, 21 and 3303 with the resource counts of their DDF files', () => {
    expect(DEFAULT_OBJECT_MODELS.map((o) => [o.id, o.resources.size])).toEqual([
      [0, 18],
      [1, 28],
      [2, 4],
      [3, 23],
      [4, 14],
      [5, 13],
      [6, 12],
      [7, 9],
      [21, 7],
      [3303, 8],
    ]);
  });

  it('describes resources as the DDF does (Device: Error Code, Current Time, Reboot)', () => {
    const r = defaultObjectModelRegistry();
    expect(r.getResource(3, 11)).toMatchObject({
      name: 'Error Code',
      operations: 'R',
      multiple: true,
      mandatory: true,
      type: 'integer',
      rangeEnumeration: '0..32',
    });
    expect(r.getResource(3, 13)).toMatchObject({
      operations: 'RW',
      multiple: false,
      mandatory: false,
      type: 'time',
    });
    expect(r.getResource(3, 4)).toMatchObject({ operations: 'E', type: 'none', mandatory: true });
    expect(r.getResource(1, 1)).toMatchObject({ name: 'Lifetime', type: 'unsigned', units: 's' });
    expect(r.getResource(0, 3)).toMatchObject({ operations: '', type: 'opaque' });
    expect(r.getResource(6, 0)).toMatchObject({ type: 'float', units: 'lat' });
    expect(r.getObject(3)).toMatchObject({
      multiple: false,
      mandatory: true,
      version: '1.2',
      urn: 'urn:oma:lwm2m:oma:3:1.2',
    });
    expect(r.getObject(7)?.urn).toBe('urn:oma:lwm2m:oma:7');
  });

  it('returns undefined for unknown objects and resources', () => {
    const r = defaultObjectModelRegistry();
    expect(r.getObject(3304)).toBeUndefined();
    expect(r.getResource(3304, 5700)).toBeUndefined();
    expect(r.getResource(3, 999)).toBeUndefined();
  });

  it('lets callers add and replace object definitions', () => {
    const temp: ObjectModel = {
      id: 3304,
      name: 'Humidity',
      version: '1.1',
      multiple: true,
      mandatory: false,
      resources: new Map([
        [
          5700,
          {
            id: 5700,
            name: 'Sensor Value',
            operations: 'R',
            multiple: false,
            mandatory: true,
            type: 'float',
          },
        ],
      ]),
    };
    const r = new StaticObjectModelRegistry([DEVICE_OBJECT]).add(temp);
    expect(r.getResource(3304, 5700)?.type).toBe('float');
    expect(r.objectIds()).toEqual([3, 3304]);
    r.add({ ...temp, version: '1.2' });
    expect(r.getObject(3304)?.version).toBe('1.2');
    // A fresh default registry is not affected.
    expect(defaultObjectModelRegistry().getObject(3304)).toBeUndefined();
  });
});
