// LwM2M TS 1.1 Core section 6.1 (Resource Model) and 5.4 (Device Management operations on it): the
// simulated client's object instances, with the access rules of each resource's "Operations".

import {
  type Lwm2mNode,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  Lwm2mPath,
  type Lwm2mResource,
  type Lwm2mValue,
  type ResourceModel,
  type StaticObjectModelRegistry,
} from '@lwm2m/lwm2m';
import { badRequest, notAllowed, notFound } from './dm-error';

/** Runs an Execute (Core 5.4.5); `args` is the request payload as text (Core 5.4.5.1 grammar). */
export type ExecuteHandler = (args: string, path: Lwm2mPath) => void;

/** Produces a fresh instance for Create (defaults that the request's resources overwrite). */
export type InstanceFactory = (instanceId: number) => Lwm2mObjectInstance;

function cloneResource(r: Lwm2mResource): Lwm2mResource {
  return r.kind === 'singleResource' ? { ...r } : { ...r, instances: new Map(r.instances) };
}

export class ObjectTree {
  private readonly objects = new Map<number, Lwm2mObject>();
  private readonly executables = new Map<string, ExecuteHandler>();
  private readonly factories = new Map<number, InstanceFactory>();
  private readonly beforeRead: Array<() => void> = [];
  /** Object versions announced at Register ("ver", Core 6.2.1), for objects played from a model. */
  private readonly versions = new Map<number, string>();

  constructor(readonly model: StaticObjectModelRegistry) {}

  setObjectVersion(objectId: number, version: string): void {
    this.versions.set(objectId, version);
  }

  objectVersion(objectId: number): string | undefined {
    return this.versions.get(objectId);
  }

  /** Whether an Execute handler is installed at `path`. */
  hasHandler(path: string): boolean {
    return this.executables.has(Lwm2mPath.parse(path).toString());
  }

  addObject(obj: Lwm2mObject): void {
    this.objects.set(obj.id, obj);
  }

  /** Objects whose instances the server may Create and Delete (Core 5.4.6/5.4.7). */
  allowCreate(objectId: number, factory: InstanceFactory): void {
    this.factories.set(objectId, factory);
  }

  onExecute(path: string, handler: ExecuteHandler): void {
    this.executables.set(Lwm2mPath.parse(path).toString(), handler);
  }

  /** Called before every read, e.g. to advance Current Time. */
  onBeforeRead(refresh: () => void): void {
    this.beforeRead.push(refresh);
  }

  objectIds(): number[] {
    return [...this.objects.keys()].sort((a, b) => a - b);
  }

  instanceIds(objectId: number): number[] {
    return [...(this.objects.get(objectId)?.instances.keys() ?? [])].sort((a, b) => a - b);
  }

  getObject(objectId: number): Lwm2mObject | undefined {
    return this.objects.get(objectId);
  }

  /** Sets one single resource's value directly (simulation side, no access check). */
  setValue(path: string, value: Lwm2mValue): void {
    const p = Lwm2mPath.parse(path);
    const r = this.objects.get(p.objectId!)?.instances.get(p.instanceId!)?.resources.get(p.resourceId!);
    if (r === undefined || r.kind !== 'singleResource') throw new Error(`no single resource at ${path}`);
    r.value = value;
  }

  /**
   * Sets a resource instance of a multiple resource (adding it when new), or removes it with `undefined`:
   * the device-side changes behind patch notifications (issue 19).
   */
  setInstanceValue(path: string, value: Lwm2mValue | undefined): void {
    const p = Lwm2mPath.parse(path);
    const r = this.objects.get(p.objectId!)?.instances.get(p.instanceId!)?.resources.get(p.resourceId!);
    if (r === undefined || r.kind !== 'multipleResource' || p.resourceInstanceId === undefined)
      throw new Error(`no multiple resource at ${path}`);
    if (value === undefined) r.instances.delete(p.resourceInstanceId);
    else r.instances.set(p.resourceInstanceId, value);
  }

  /** Removes a resource of an instance (e.g. a device that stops reporting an optional one). */
  removeResource(path: string): void {
    const p = Lwm2mPath.parse(path);
    this.objects.get(p.objectId!)?.instances.get(p.instanceId!)?.resources.delete(p.resourceId!);
  }

  getValue(path: string): Lwm2mValue | undefined {
    const p = Lwm2mPath.parse(path);
    const r = this.objects.get(p.objectId!)?.instances.get(p.instanceId!)?.resources.get(p.resourceId!);
    if (r === undefined) return undefined;
    if (r.kind === 'singleResource') return r.value;
    return p.resourceInstanceId === undefined ? undefined : r.instances.get(p.resourceInstanceId);
  }

  resourceModel(path: Lwm2mPath): ResourceModel | undefined {
    return path.resourceId === undefined
      ? undefined
      : this.model.getResource(path.objectId!, path.resourceId);
  }

  isExecutable(path: Lwm2mPath): boolean {
    return this.executables.has(path.toString()) || this.resourceModel(path)?.operations === 'E';
  }

  /** Whether something lives at `path` (an executable resource counts, although it has no value). */
  exists(path: Lwm2mPath): boolean {
    if (path.depth === 0) return true;
    const obj = this.objects.get(path.objectId!);
    if (obj === undefined) return false;
    if (path.depth === 1) return true;
    const inst = obj.instances.get(path.instanceId!);
    if (inst === undefined) return false;
    if (path.depth === 2) return true;
    if (this.executables.has(path.parent().toString()) && path.depth === 4) return false;
    if (path.depth === 3 && this.executables.has(path.toString())) return true;
    const r = inst.resources.get(path.resourceId!);
    if (r === undefined) return false;
    return path.depth === 3 || (r.kind === 'multipleResource' && r.instances.has(path.resourceInstanceId!));
  }

  /** Read (Core 5.4.1): the node at `path`, its readable resources only. */
  read(path: Lwm2mPath): Lwm2mNode {
    for (const f of this.beforeRead) f();
    if (path.depth === 0) throw notAllowed('Read of the root path');
    const obj = this.objects.get(path.objectId!);
    if (obj === undefined) throw notFound(path.toString());
    const readable = (inst: Lwm2mObjectInstance): Lwm2mObjectInstance => ({
      kind: 'instance',
      id: inst.id,
      resources: new Map(
        [...inst.resources].filter(([rid]) => {
          const ops = this.model.getResource(obj.id, rid)?.operations ?? 'R';
          return ops.includes('R');
        }),
      ),
    });
    if (path.depth === 1) {
      return {
        kind: 'object',
        id: obj.id,
        instances: new Map([...obj.instances].map(([id, i]) => [id, readable(i)])),
      };
    }
    const inst = obj.instances.get(path.instanceId!);
    if (inst === undefined) throw notFound(path.toString());
    if (path.depth === 2) return readable(inst);
    if (this.isExecutable(path) && this.exists(path)) throw notAllowed(`${path.toString()} is executable`);
    const r = inst.resources.get(path.resourceId!);
    if (r === undefined) throw notFound(path.toString());
    const ops = this.model.getResource(obj.id, r.id)?.operations ?? 'R';
    if (!ops.includes('R')) throw notAllowed(`${path.toString()} is not readable`);
    if (path.depth === 3) return cloneResource(r);
    if (r.kind !== 'multipleResource') throw notFound(path.toString());
    const v = r.instances.get(path.resourceInstanceId!);
    if (v === undefined) throw notFound(path.toString());
    return { kind: 'resourceInstance', id: path.resourceInstanceId!, type: r.type, value: v };
  }

  /** Checks the Write (Core 5.4.3) of `node` at `path` without changing anything; throws DmError. */
  checkWrite(path: Lwm2mPath, node: Lwm2mNode): void {
    this.applyWrite(path, node, false, true);
  }

  /**
   * Write (Core 5.4.3): replace (PUT) or partial update (POST on an instance). A replace of an
   * instance drops writable resources the payload does not carry; a replace of a multiple resource
   * drops its other instances.
   */
  write(path: Lwm2mPath, node: Lwm2mNode, replace: boolean): void {
    this.applyWrite(path, node, replace, true);
    this.applyWrite(path, node, replace, false);
  }

  private applyWrite(path: Lwm2mPath, node: Lwm2mNode, replace: boolean, dryRun: boolean): void {
    if (path.depth < 2) throw notAllowed(`Write on ${path.toString()}`);
    const obj = this.objects.get(path.objectId!);
    const inst = obj?.instances.get(path.instanceId!);
    if (obj === undefined || inst === undefined) throw notFound(path.toString());
    const writeResource = (r: Lwm2mResource, merge: boolean): void => {
      const rm = this.model.getResource(obj.id, r.id);
      if (rm === undefined) throw notFound(`resource /${obj.id}/${inst.id}/${r.id}`);
      if (!rm.operations.includes('W')) throw notAllowed(`/${obj.id}/${inst.id}/${r.id} is not writable`);
      if (rm.multiple !== (r.kind === 'multipleResource')) {
        throw badRequest(`/${obj.id}/${inst.id}/${r.id} is ${rm.multiple ? 'multiple' : 'single'}`);
      }
      if (r.type !== rm.type)
        throw badRequest(`/${obj.id}/${inst.id}/${r.id} takes ${rm.type}, not ${r.type}`);
      if (dryRun) return;
      const current = inst.resources.get(r.id);
      if (merge && r.kind === 'multipleResource' && current?.kind === 'multipleResource') {
        for (const [ri, v] of r.instances) current.instances.set(ri, v);
      } else {
        inst.resources.set(r.id, cloneResource(r));
      }
    };
    switch (node.kind) {
      case 'instance': {
        if (path.depth !== 2 || node.id !== path.instanceId)
          throw badRequest('instance id does not match path');
        for (const r of node.resources.values()) writeResource(r, !replace);
        if (replace && !dryRun) {
          // Core 5.4.3 (Replace): writable resources absent from the payload are removed if optional.
          for (const rid of [...inst.resources.keys()]) {
            const rm = this.model.getResource(obj.id, rid);
            if (rm && rm.operations.includes('W') && !rm.mandatory && !node.resources.has(rid)) {
              inst.resources.delete(rid);
            }
          }
        }
        return;
      }
      case 'singleResource':
      case 'multipleResource':
        if (path.depth !== 3 || node.id !== path.resourceId)
          throw badRequest('resource id does not match path');
        return writeResource(node, !replace);
      case 'resourceInstance': {
        if (path.depth !== 4 || node.id !== path.resourceInstanceId) {
          throw badRequest('resource instance id does not match path');
        }
        const rm = this.model.getResource(obj.id, path.resourceId!);
        if (rm === undefined) throw notFound(path.toString());
        return writeResource(
          {
            kind: 'multipleResource',
            id: rm.id,
            type: node.type,
            instances: new Map([[node.id, node.value]]),
          },
          true,
        );
      }
      default:
        throw notAllowed(`Write of an object at ${path.toString()}`);
    }
  }

  /** Create (Core 5.4.6): returns the new instance id. */
  create(objectId: number, given: Lwm2mObjectInstance | undefined, requestedId?: number): number {
    const obj = this.objects.get(objectId);
    if (obj === undefined) throw notFound(`/${objectId}`);
    const factory = this.factories.get(objectId);
    if (factory === undefined) throw notAllowed(`Create on /${objectId}`);
    let id = requestedId;
    if (id === undefined) for (id = 0; obj.instances.has(id); id++);
    if (obj.instances.has(id)) throw badRequest(`/${objectId}/${id} already exists`);
    if (id > 65534) throw badRequest('instance id out of range');
    const inst = factory(id);
    for (const r of given?.resources.values() ?? []) {
      const rm = this.model.getResource(objectId, r.id);
      if (rm === undefined) throw notFound(`resource /${objectId}/${id}/${r.id}`);
      if (rm.operations === 'E' || r.type !== rm.type)
        throw badRequest(`bad value for /${objectId}/${id}/${r.id}`);
      inst.resources.set(r.id, cloneResource(r));
    }
    obj.instances.set(id, inst);
    return id;
  }

  /** Delete (Core 5.4.7): only instances of objects that allow Create. */
  delete(path: Lwm2mPath): void {
    if (path.depth !== 2) throw notAllowed(`Delete on ${path.toString()}`);
    const obj = this.objects.get(path.objectId!);
    if (obj === undefined || !obj.instances.has(path.instanceId!)) throw notFound(path.toString());
    if (!this.factories.has(obj.id)) throw notAllowed(`Delete of ${path.toString()}`);
    obj.instances.delete(path.instanceId!);
  }

  /** Execute (Core 5.4.5). */
  execute(path: Lwm2mPath, args: string): void {
    if (path.depth !== 3) throw notAllowed(`Execute on ${path.toString()}`);
    if (!this.exists(path.parent())) throw notFound(path.toString());
    const handler = this.executables.get(path.toString());
    if (handler === undefined) {
      if (this.exists(path)) throw notAllowed(`${path.toString()} is not executable`);
      throw notFound(path.toString());
    }
    handler(args, path);
  }

  /** Executable resource ids of an instance (they hold no value, yet Discover lists them). */
  executableIds(objectId: number, instanceId: number): number[] {
    const prefix = `/${objectId}/${instanceId}/`;
    return [...this.executables.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => Number(k.slice(prefix.length)));
  }
}
