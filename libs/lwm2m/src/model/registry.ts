// LwM2M TS 1.2 Core section 6 / Appendix D: an in-memory set of object definitions the codecs consult.
import { DEFAULT_OBJECT_MODELS } from './core-objects';
import type { ObjectModel, ObjectModelRegistry, ResourceModel } from './object-model';

/** Object models held in a Map; a later `add` of the same object id replaces the earlier one. */
export class StaticObjectModelRegistry implements ObjectModelRegistry {
  private readonly objects = new Map<number, ObjectModel>();

  constructor(models: Iterable<ObjectModel> = []) {
    for (const m of models) this.add(m);
  }

  add(model: ObjectModel): this {
    this.objects.set(model.id, model);
    return this;
  }

  getObject(objectId: number): ObjectModel | undefined {
    return this.objects.get(objectId);
  }

  getResource(objectId: number, resourceId: number): ResourceModel | undefined {
    return this.objects.get(objectId)?.resources.get(resourceId);
  }

  objectIds(): number[] {
    return [...this.objects.keys()].sort((a, b) => a - b);
  }
}

/** A fresh registry holding the core objects 0-7 (callers may add their own objects to it). */
export function defaultObjectModelRegistry(): StaticObjectModelRegistry {
  return new StaticObjectModelRegistry(DEFAULT_OBJECT_MODELS);
}

/** A registry knowing nothing: every codec falls back to what the payload itself says. */
export const EMPTY_OBJECT_MODEL_REGISTRY: ObjectModelRegistry = {
  getObject: () => undefined,
  getResource: () => undefined,
};
