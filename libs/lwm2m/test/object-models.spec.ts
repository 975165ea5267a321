// Object models by object id and version (TS 1.1 Core 6.2.1 "ver"): the built-in tables, the vendored
// registry beside them, and the view of a device whose registration states its object versions.
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  DEVICE_OBJECT,
  loadModelDirectories,
  ObjectModels,
  statedObjectVersions,
  TEMPERATURE_OBJECT,
  vendoredModelsDir,
} from '@lwm2m/lwm2m';

function withRegistry(): ObjectModels {
  const models = new ObjectModels();
  for (const m of loadModelDirectories([vendoredModelsDir()]).models) models.add(m, { replace: false });
  return models;
}

describe('ObjectModels', () => {
  it('keeps several versions of an object: 3303 1.0 built in, 1.1 from the registry', () => {
    const models = withRegistry();
    expect(models.versions(3303)).toEqual(['1.0', '1.1']);
    expect(models.get(3303, '1.0')).toBe(TEMPERATURE_OBJECT);
    expect(models.get(3303, '1.1')?.resources.has(5518)).toBe(true);
    expect(models.objectCount).toBe(327);
    // The built-in tables stay in charge of their versions (a file of the same version does not replace them).
    expect(models.get(3, '1.2')).toBe(DEVICE_OBJECT);
    expect(models.list().length).toBeGreaterThan(327);
  });

  it('answers a device stating no version with 1.0, or the built-in version of a core object', () => {
    const models = withRegistry();
    expect(models.getObject(3303)?.version).toBe('1.0');
    expect(models.getResource(3303, 5518)).toBeUndefined();
    expect(models.getObject(3)?.version).toBe('1.2');
    expect(models.getObject(5)?.version).toBe('1.1');
    expect(models.getObject(0)?.version).toBe('1.1');
    // 3328 (Power) exists only as 1.1: the newest stands in for the assumed 1.0.
    expect(models.getObject(3328)?.version).toBe(models.versions(3328).at(-1));
    expect(models.getObject(65000)).toBeUndefined();
  });

  it('answers a device with the versions its registration states', () => {
    const models = withRegistry();
    const v11 = models.forDevice([
      { path: '/', attributes: { rt: '"oma.lwm2m"' } },
      { path: '/3303', attributes: { ver: '1.1' } },
      { path: '/3303/0', attributes: {} },
      { path: '/5', attributes: { ver: '1.2' } },
    ]);
    expect(v11.getObject(3303)?.version).toBe('1.1');
    expect(v11.getResource(3303, 5518)).toMatchObject({ name: 'Timestamp', type: 'time' });
    expect(v11.getObject(5)?.version).toBe('1.2');
    expect(v11.getObject(3)?.version).toBe('1.2');
    const plain = models.forDevice([{ path: '/3303/0', attributes: {} }]);
    expect(plain.getResource(3303, 5518)).toBeUndefined();
    // A version nobody loaded: the newest loaded one stands in.
    expect(models.forDevice([{ path: '/3303', attributes: { ver: '9.9' } }]).getObject(3303)?.version).toBe(
      '1.1',
    );
  });

  it('adds, replaces only when asked, and counts its revisions', () => {
    const models = new ObjectModels([]);
    const r0 = models.revision;
    const m = { ...TEMPERATURE_OBJECT, version: '2.0' };
    expect(models.add(m)).toBe('added');
    expect(models.add({ ...m, name: 'Other' }, { replace: false })).toBe('exists');
    expect(models.get(3303, '2.0')?.name).toBe('Temperature');
    expect(models.add({ ...m, name: 'Other' })).toBe('replaced');
    expect(models.get(3303, '2.0')?.name).toBe('Other');
    expect(models.revision).toBe(r0 + 2);
  });
});

describe('statedObjectVersions and compareVersions', () => {
  it('reads ver from object links, and from instance links when the object link has none', () => {
    const v = statedObjectVersions([
      { path: '/3303/0', attributes: { ver: '1.1' } },
      { path: '/3/0', attributes: {} },
      { path: '/3', attributes: { ver: '1.0' } },
      { path: '/3/0', attributes: { ver: '1.2' } },
      { path: '/6', attributes: { ver: 'x' } },
      { path: '/rd', attributes: { ver: '1.1' } },
    ]);
    expect([...v.entries()]).toEqual([
      [3303, '1.1'],
      [3, '1.0'],
    ]);
  });

  it('orders versions by major then minor', () => {
    expect(['1.10', '1.2', '2.0', '1.0'].sort(compareVersions)).toEqual(['1.0', '1.2', '1.10', '2.0']);
  });
});
