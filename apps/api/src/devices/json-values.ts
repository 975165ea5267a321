// Values from REST bodies to the JsonPathValue form of the command bus, checked against the object model of
// the device (the object versions its registration states): the type comes from the model when it knows the
// resource (libs/server json-values.ts decides), and a wrong type, a value outside the resource's range or a
// read-only resource is a 400 here, before anything reaches the device.
import { Lwm2mPath, type ObjectModelRegistry } from '@lwm2m/lwm2m';
import type { JsonPathValue } from '@lwm2m/server';
import { fromJsonValues, type ModelProblem, writeProblem } from '@lwm2m/server';
import { ProblemException, ProblemType } from '../problem/problem';
import { resolveUnder } from './lwm2m-path-param';

export interface BodyValue {
  path?: string;
  value: unknown;
  type?: string;
}

function invalid(detail: string, path?: string): ProblemException {
  return new ProblemException({
    type: ProblemType.VALIDATION,
    title: 'Invalid value',
    status: 400,
    detail,
    ...(path !== undefined ? { path } : {}),
  });
}

/** 400 problem+json for what the object model refuses, with the resource's path. */
export function modelProblem(p: ModelProblem): ProblemException {
  return invalid(`${p.path}: ${p.reason}`, p.path);
}

export function toJsonPathValues(
  base: Lwm2mPath,
  items: BodyValue[],
  model: ObjectModelRegistry,
  op: 'write' | 'create' = 'write',
): JsonPathValue[] {
  const raw = items.map((i) => ({
    path: resolveUnder(base, i.path).toString(),
    value: i.value,
    type: i.type ?? '',
  }));
  for (const r of raw) {
    // An explicit type must agree with the object model where it knows the resource (else it is a guess).
    const p = Lwm2mPath.parse(r.path);
    const known = p.resourceId !== undefined ? model.getResource(p.objectId!, p.resourceId)?.type : undefined;
    if (r.type !== '' && known !== undefined && r.type !== known) {
      throw invalid(`${r.path}: type "${r.type}" contradicts the object model, which says ${known}`, r.path);
    }
  }
  let typed;
  try {
    typed = fromJsonValues(raw, model);
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
  const problem = writeProblem(typed, model, op);
  if (problem !== undefined) throw modelProblem(problem);
  return raw.map((r, n) => ({ path: r.path, value: r.value, type: typed[n].type }));
}

/** Read values with the name and unit of their resource, from the device's object model. */
export function withNamesAndUnits<V extends { path: string }>(
  values: V[],
  model: ObjectModelRegistry,
): Array<V & { name?: string; unit?: string }> {
  return values.map((v) => {
    let p: Lwm2mPath;
    try {
      p = Lwm2mPath.parse(v.path);
    } catch {
      return v;
    }
    const r = p.resourceId !== undefined ? model.getResource(p.objectId!, p.resourceId) : undefined;
    if (r === undefined) return v;
    return { ...v, name: r.name, ...(r.units ? { unit: r.units } : {}) };
  });
}
