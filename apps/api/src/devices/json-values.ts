// Values from REST bodies to the JsonPathValue form of the command bus. The type comes from the object model
// when it knows the resource (libs/server json-values.ts decides), so a wrong value is a 400 here instead of
// a round trip to the device.
import { defaultObjectModelRegistry, Lwm2mPath } from '@lwm2m/lwm2m';
import type { JsonPathValue } from '@lwm2m/server';
import { fromJsonValues } from '@lwm2m/server';
import { ProblemException, ProblemType } from '../problem/problem';
import { resolveUnder } from './lwm2m-path-param';

const MODEL = defaultObjectModelRegistry();

export interface BodyValue {
  path?: string;
  value: unknown;
  type?: string;
}

export function toJsonPathValues(base: Lwm2mPath, items: BodyValue[]): JsonPathValue[] {
  const raw = items.map((i) => ({
    path: resolveUnder(base, i.path).toString(),
    value: i.value,
    type: i.type ?? '',
  }));
  for (const r of raw) {
    // An explicit type must agree with the object model where it knows the resource (else it is a guess).
    const p = Lwm2mPath.parse(r.path);
    const known = p.resourceId !== undefined ? MODEL.getResource(p.objectId!, p.resourceId)?.type : undefined;
    if (r.type !== '' && known !== undefined && r.type !== known) {
      throw new ProblemException({
        type: ProblemType.VALIDATION,
        title: 'Invalid value',
        status: 400,
        detail: `${r.path}: type "${r.type}" contradicts the object model, which says ${known}`,
      });
    }
  }
  try {
    const typed = fromJsonValues(raw, MODEL);
    return raw.map((r, n) => ({ path: r.path, value: r.value, type: typed[n].type }));
  } catch (err) {
    throw new ProblemException({
      type: ProblemType.VALIDATION,
      title: 'Invalid value',
      status: 400,
      detail: err instanceof Error ? err.message : String(err),
    });
  }
}
