// Any object model as a simulated object (LwM2M TS 1.2 Core Appendix D: the resources a DDF defines): each
// instance holds every resource with a value (a default per data type, inside the resource's range), and
// executable resources accept Execute, so a simulated device can play objects nobody hand-wrote for it.
import {
  lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  type Lwm2mValue,
  multipleResource,
  type ObjectModel,
  objectInstance,
  type ResourceModel,
  singleResource,
} from '@lwm2m/lwm2m';
import type { ObjectTree } from './object-tree';

/** A value of `r`'s type inside its range: the lowest allowed number or length, else 0, "", false. */
export function defaultValue(r: ResourceModel, nowMs: number): Lwm2mValue {
  const low = r.range?.intervals[0]?.[0];
  switch (r.type) {
    case 'integer':
    case 'unsigned':
      return r.range?.limits === 'value' && low !== undefined ? Math.ceil(low) : 0;
    case 'float':
      return r.range?.limits === 'value' && low !== undefined ? low : 0;
    case 'boolean':
      return false;
    case 'opaque':
      return Buffer.alloc(r.range?.limits === 'length' && low !== undefined ? low : 0);
    case 'time':
      return new Date(Math.floor(nowMs / 1000) * 1000);
    case 'objlnk':
      // Appendix C: 65535:65535 is the null object link.
      return { objectId: 0xffff, instanceId: 0xffff };
    case 'string':
    case 'corelnk':
    case 'none':
      return 'x'.repeat(r.range?.limits === 'length' && low !== undefined ? low : 0);
  }
}

/** One instance of `model`: every non-executable resource with its default (multiple ones: instance 0). */
export function instanceFromModel(
  model: ObjectModel,
  instanceId: number,
  nowMs: number,
): Lwm2mObjectInstance {
  const resources: Lwm2mResource[] = [];
  for (const r of model.resources.values()) {
    if (r.operations === 'E') continue;
    const v = defaultValue(r, nowMs);
    resources.push(r.multiple ? multipleResource(r.id, r.type, [[0, v]]) : singleResource(r.id, r.type, v));
  }
  return objectInstance(instanceId, resources);
}

/**
 * Puts `model` into the tree with `instanceIds`, its version announced at Register ("ver"), Execute accepted
 * on its executable resources, Create and Delete allowed when it has multiple instances. It replaces an
 * object of the same id; values of resources both versions define (same type) are kept.
 */
export function addModelObject(
  tree: ObjectTree,
  model: ObjectModel,
  instanceIds: readonly number[] = [0],
  nowMs = Date.now(),
): void {
  const before = tree.getObject(model.id);
  tree.model.add(model);
  tree.setObjectVersion(model.id, model.version);
  const instances = instanceIds.map((iid) => {
    const inst = instanceFromModel(model, iid, nowMs);
    for (const [rid, old] of before?.instances.get(iid)?.resources ?? []) {
      const now = inst.resources.get(rid);
      if (now !== undefined && now.kind === old.kind && now.type === old.type) inst.resources.set(rid, old);
    }
    return inst;
  });
  tree.addObject(lwm2mObject(model.id, instances));
  for (const r of model.resources.values()) {
    if (r.operations !== 'E') continue;
    for (const iid of instanceIds) {
      const path = `/${model.id}/${iid}/${r.id}`;
      if (!tree.hasHandler(path)) tree.onExecute(path, () => undefined);
    }
  }
  if (model.multiple) tree.allowCreate(model.id, (id) => instanceFromModel(model, id, Date.now()));
}
