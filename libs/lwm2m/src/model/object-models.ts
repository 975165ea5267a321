// LwM2M TS 1.1/1.2 Core 6.2.1 (Register: the "ver" attribute of an object's link) and Appendix D (object
// definitions): object models keyed by object id and object version, and the view of one device, whose
// registration says which version of each object it implements.
import { DEFAULT_OBJECT_MODELS } from './core-objects';
import type { ObjectModel, ObjectModelRegistry, ResourceModel } from './object-model';

/** A registration's object link as libs/server keeps it ("/3303", "/3303/0"; attributes as sent). */
export interface ObjectLinkLike {
  path: string;
  attributes: Record<string, string>;
}

/** What add() did. */
export type ModelAddResult = 'added' | 'replaced' | 'exists';

const VERSION = /^([0-9]{1,3})\.([0-9]{1,3})$/;

/** "1.10" after "1.9": versions compare by major, then minor. */
export function compareVersions(a: string, b: string): number {
  const x = VERSION.exec(a);
  const y = VERSION.exec(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  return Number(x[1]) - Number(y[1]) || Number(x[2]) - Number(y[2]);
}

/**
 * The object versions a registration states: `</3303>;ver=1.1` (TS 1.1 Core 6.2.1, Table 6.2.1-1 "ver"),
 * also taken from an instance link of the object when a client puts it there.
 */
export function statedObjectVersions(links: Iterable<ObjectLinkLike>): Map<number, string> {
  const out = new Map<number, string>();
  for (const link of links) {
    const ver = link.attributes.ver;
    if (ver === undefined || !VERSION.test(ver)) continue;
    const m = /^\/([0-9]{1,5})(?:\/[0-9]{1,5})?$/.exec(link.path);
    if (!m) continue;
    const id = Number(m[1]);
    if (!out.has(id) || link.path.split('/').length === 2) out.set(id, ver);
  }
  return out;
}

/**
 * Every known object model, several versions per object. As an ObjectModelRegistry (codecs, callers that
 * know no device) it answers with the version a device that states none is assumed to implement;
 * `forDevice` answers with the versions a registration states.
 *
 * The assumed version (no "ver"): 1.0 (TS 1.1 Core 6.2.1: a client states any other version), except for
 * the built-in core objects 0-7, whose tables describe the versions LwM2M 1.1/1.2 clients implement (TS 1.2
 * Core 6.2.1: core objects follow the enabler version). When the chosen version is not loaded, the newest
 * loaded one of that object stands in: its types are a better guess than none.
 */
export class ObjectModels implements ObjectModelRegistry {
  private readonly byId = new Map<number, Map<string, ObjectModel>>();
  private readonly assumed = new Map<number, string>();
  /** The newest version of each object: the stand-in when a device's version is not loaded. */
  private readonly newest = new Map<number, ObjectModel>();
  /** Bumped by every add(): views and caches compare it. */
  private generation = 0;

  /** `builtIn`: models whose version is also the one assumed for their object (default: core-objects.ts). */
  constructor(builtIn: Iterable<ObjectModel> = DEFAULT_OBJECT_MODELS) {
    for (const m of builtIn) {
      this.add(m);
      this.assumed.set(m.id, m.version);
    }
  }

  /** Adds a model; one of the same object id and version is replaced unless `replace` is false. */
  add(model: ObjectModel, { replace = true }: { replace?: boolean } = {}): ModelAddResult {
    let versions = this.byId.get(model.id);
    if (versions === undefined) this.byId.set(model.id, (versions = new Map()));
    const existed = versions.has(model.version);
    if (existed && !replace) return 'exists';
    versions.set(model.version, model);
    const newest = this.newest.get(model.id);
    if (newest === undefined || compareVersions(model.version, newest.version) >= 0)
      this.newest.set(model.id, model);
    this.generation++;
    return existed ? 'replaced' : 'added';
  }

  get revision(): number {
    return this.generation;
  }

  /** The model of exactly this object id and version. */
  get(objectId: number, version: string): ObjectModel | undefined {
    return this.byId.get(objectId)?.get(version);
  }

  /** Versions loaded for an object, oldest first. */
  versions(objectId: number): string[] {
    return [...(this.byId.get(objectId)?.keys() ?? [])].sort(compareVersions);
  }

  /** Every model, by object id then version. */
  list(): ObjectModel[] {
    return [...this.byId.keys()]
      .sort((a, b) => a - b)
      .flatMap((id) => this.versions(id).map((v) => this.byId.get(id)!.get(v)!));
  }

  /** How many object ids have at least one model. */
  get objectCount(): number {
    return this.byId.size;
  }

  /** The version assumed for an object whose registration states none. */
  assumedVersion(objectId: number): string {
    return this.assumed.get(objectId) ?? '1.0';
  }

  /** The model used for `objectId` when a device states `stated` (undefined: it states no version). */
  resolve(objectId: number, stated?: string): ObjectModel | undefined {
    const versions = this.byId.get(objectId);
    if (versions === undefined) return undefined;
    return versions.get(stated ?? this.assumedVersion(objectId)) ?? this.newest.get(objectId);
  }

  getObject(objectId: number): ObjectModel | undefined {
    return this.resolve(objectId);
  }

  getResource(objectId: number, resourceId: number): ResourceModel | undefined {
    return this.resolve(objectId)?.resources.get(resourceId);
  }

  /** The models of one device: the versions its registration's object links state. */
  forDevice(links: Iterable<ObjectLinkLike>): ObjectModelRegistry {
    const stated = statedObjectVersions(links);
    if (stated.size === 0) return this;
    return {
      getObject: (objectId) => this.resolve(objectId, stated.get(objectId)),
      getResource: (objectId, resourceId) =>
        this.resolve(objectId, stated.get(objectId))?.resources.get(resourceId),
    };
  }
}
