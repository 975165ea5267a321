import { describe, expect, it } from 'vitest';
import { softwareAsFirmware, updateObjectOf } from '../src';

describe('the object a campaign drives (5, or 9 translated into object 5 terms)', () => {
  it('object 5 by default, object 9 on its instance with Activate when asked', () => {
    expect(updateObjectOf({})).toMatchObject({ object: 5, instancePath: '/5/0', executePath: '/5/0/2' });
    expect(updateObjectOf({ object: 9, softwareInstance: 3, activate: true })).toMatchObject({
      object: 9,
      instancePath: '/9/3',
      packagePath: '/9/3/2',
      packageUriPath: '/9/3/3',
      executePath: '/9/3/4',
      activatePath: '/9/3/10',
    });
    expect(updateObjectOf({ object: 9 }).activatePath).toBeUndefined();
  });

  it('9.xml Update State and Update Result read as object 5 State and Update Result', () => {
    expect(softwareAsFirmware({ state: 0, result: 0 })).toEqual({ state: 0, result: 0 });
    expect(softwareAsFirmware({ state: 1, result: 1 })).toEqual({ state: 1, result: 0 });
    expect(softwareAsFirmware({ state: 2, result: 1 })).toEqual({ state: 1, result: 0 });
    expect(softwareAsFirmware({ state: 3, result: 3 })).toEqual({ state: 2, result: 0 });
    expect(softwareAsFirmware({ state: 4, result: 2 })).toEqual({ state: 0, result: 1 });
    expect(softwareAsFirmware({ state: 4 })).toEqual({ state: 0, result: 1 });
    expect(softwareAsFirmware({ state: 3, result: 58 })).toEqual({ state: 2, result: 58 });
    expect(softwareAsFirmware({ state: 0, result: 52 })).toEqual({ state: 0, result: 52 });
  });

  it('reads only its own instance', () => {
    const o = updateObjectOf({ object: 9, softwareInstance: 1 });
    expect(
      o.report([
        { path: '/9/0/7', type: 'integer', value: 4 },
        { path: '/9/1/7', type: 'integer', value: 1 },
        { path: '/9/1/9', type: 'integer', value: 1 },
      ]),
    ).toEqual({ state: 1, result: 0 });
  });
});
