// The {path} part of the data routes ("3/0/1", an Express 5 wildcard) and the paths inside bodies, checked
// with Lwm2mPath.parse (LwM2M TS 1.2 Core 6.1): anything else is a 400 problem.
import { Lwm2mPath } from '@lwm2m/lwm2m';
import { ProblemException, ProblemType } from '../problem/problem';

function invalid(detail: string): ProblemException {
  return new ProblemException({
    type: ProblemType.INVALID_PATH,
    title: 'Invalid LwM2M path',
    status: 400,
    detail,
  });
}

/** A wildcard parameter arrives as its segments; a plain one as a string. */
export function parsePathParam(raw: string | string[] | undefined, minDepth = 1): Lwm2mPath {
  const text = Array.isArray(raw) ? raw.join('/') : (raw ?? '');
  let path: Lwm2mPath;
  try {
    path = Lwm2mPath.parse(text);
  } catch (err) {
    throw invalid(`"${text.slice(0, 40)}" is not an LwM2M path: ${err instanceof Error ? err.message : ''}`);
  }
  if (path.depth < minDepth)
    throw invalid(`${path} is too short here: this operation needs ${LEVELS[minDepth]}`);
  return path;
}

const LEVELS = ['the root', 'an object', 'an object instance', 'a resource', 'a resource instance'];

/** Only an object id ("3303"), for Create. */
export function parseObjectIdParam(raw: string): Lwm2mPath {
  const path = parsePathParam(raw);
  if (path.depth !== 1) throw invalid(`Create targets an object: "${raw.slice(0, 40)}" is not an object id`);
  return path;
}

/**
 * A value's path: absolute ("/3/0/14") must lie under `base`; relative ("14", "0/1") is appended to it;
 * absent is `base` itself.
 */
export function resolveUnder(base: Lwm2mPath, raw: string | undefined): Lwm2mPath {
  if (raw === undefined) return base;
  let path: Lwm2mPath;
  try {
    path = raw.startsWith('/') ? Lwm2mPath.parse(raw) : Lwm2mPath.parse([...base.segments(), raw].join('/'));
  } catch (err) {
    throw invalid(`"${raw.slice(0, 40)}" is not an LwM2M path: ${err instanceof Error ? err.message : ''}`);
  }
  if (!path.startsWith(base)) throw invalid(`${path} is not under ${base}`);
  return path;
}
