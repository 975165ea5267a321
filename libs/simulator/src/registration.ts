// LwM2M TS 1.1/1.2 Core section 6.2.1 (Register), 6.2.2 (Update) and Transport section 6.2 (Client
// Registration Interface over CoAP): the query parameters and the object link payload a client sends.
import { ContentFormat, encodeLwm2mLinks, type Lwm2mLink, lwm2mLink, Lwm2mPath } from '@lwm2m/lwm2m';
import type { Lwm2mVersion } from './dm-handler';
import type { ObjectTree } from './object-tree';

/** Object versions a client of each LwM2M version announces ("ver", Core 6.2.1; absent means 1.0). */
const OBJECT_VERSIONS: Record<Lwm2mVersion, Record<number, string>> = {
  '1.0': {},
  '1.1': { 1: '1.1', 3: '1.1' },
  '1.2': { 1: '1.2', 3: '1.2' },
};

export function objectVersion(version: Lwm2mVersion, objectId: number): string | undefined {
  return OBJECT_VERSIONS[version][objectId];
}

export interface RegisterParams {
  endpoint: string;
  lifetime: number;
  version: Lwm2mVersion;
  binding: string;
  queueMode: boolean;
}

/**
 * Register's Uri-Query (Transport 6.2.1): ep, lt, lwm2m, b, and Q for a 1.1+ client in queue mode;
 * a 1.0 client says queue mode with the "UQ" binding instead.
 */
export function registerQuery(p: RegisterParams): string[] {
  let binding = p.binding;
  if (p.version === '1.0' && p.queueMode && !binding.includes('Q')) binding += 'Q';
  const q = [`ep=${p.endpoint}`, `lt=${p.lifetime}`, `lwm2m=${p.version}`, `b=${binding}`];
  if (p.version !== '1.0' && p.queueMode) q.push('Q');
  return q;
}

/**
 * The object links of Register and Update (Core 6.2.1): the root link with rt="oma.lwm2m" and the
 * declared content formats (1.1+, or 1.0 preferring a format other than TLV), then "</o>;ver=" for
 * objects whose version is not 1.0 and "</o/i>" per instance. The Security object is not listed.
 */
export function registrationLinks(tree: ObjectTree, version: Lwm2mVersion, formats: number[]): Lwm2mLink[] {
  const links: Lwm2mLink[] = [];
  if (version !== '1.0' || formats.some((f) => f !== ContentFormat.TLV)) {
    links.push(lwm2mLink(undefined, { rt: 'oma.lwm2m', ...(formats.length > 0 ? { ct: formats } : {}) }));
  }
  for (const oid of tree.objectIds()) {
    if (oid === 0) continue;
    // An object played from a model announces its version unless 1.0 (absent means 1.0).
    const played = tree.objectVersion(oid);
    const ver = played !== undefined ? (played === '1.0' ? undefined : played) : objectVersion(version, oid);
    const instances = tree.instanceIds(oid);
    if (ver !== undefined || instances.length === 0) {
      links.push(lwm2mLink(new Lwm2mPath(oid), ver !== undefined ? { ver } : {}));
    }
    for (const iid of instances) links.push(lwm2mLink(new Lwm2mPath(oid, iid)));
  }
  return links;
}

export function registrationPayload(tree: ObjectTree, version: Lwm2mVersion, formats: number[]): Buffer {
  return encodeLwm2mLinks(registrationLinks(tree, version, formats));
}
