// In-memory ValueStore for unit tests; same semantics as RedisValueStore (contract suite).
import type { JsonPathValue } from '../events';
import type { ValueStore } from '../ports';
import { comparePaths } from './compare-paths';

type StoredValue = JsonPathValue & { receivedAt: number };

export class InMemoryValueStore implements ValueStore {
  private readonly byEndpoint = new Map<string, Map<string, StoredValue>>();

  async put(endpoint: string, values: JsonPathValue[], receivedAt: number): Promise<void> {
    if (values.length === 0) return;
    let map = this.byEndpoint.get(endpoint);
    if (!map) this.byEndpoint.set(endpoint, (map = new Map()));
    for (const v of values) map.set(v.path, structuredClone({ ...v, receivedAt }));
  }

  async get(endpoint: string): Promise<StoredValue[]> {
    const map = this.byEndpoint.get(endpoint);
    if (!map) return [];
    return [...map.keys()].sort(comparePaths).map((p) => structuredClone(map.get(p)!));
  }

  async clear(endpoint: string): Promise<void> {
    this.byEndpoint.delete(endpoint);
  }

  /** Synchronous clear (the registration store's atomic step). */
  clearSync(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }
}
