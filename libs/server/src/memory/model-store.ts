// ModelStore in this process's memory: tests and memory mode.
import type { ModelStore, StoredModel } from '../ports';

export class InMemoryModelStore implements ModelStore {
  private readonly models = new Map<string, StoredModel>();
  private rev = 0;

  put(model: StoredModel, replace: boolean): Promise<boolean> {
    const key = `${model.objectId}:${model.version}`;
    if (this.models.has(key) && !replace) return Promise.resolve(false);
    this.models.set(key, { ...model });
    this.rev++;
    return Promise.resolve(true);
  }

  list(): Promise<StoredModel[]> {
    return Promise.resolve([...this.models.values()].map((m) => ({ ...m })));
  }

  count(): Promise<number> {
    return Promise.resolve(this.models.size);
  }

  revision(): Promise<number> {
    return Promise.resolve(this.rev);
  }
}
