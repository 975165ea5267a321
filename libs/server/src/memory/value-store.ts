// In-memory ValueStore for unit tests; same semantics as RedisValueStore (contract suite).
import { isNewerNotification } from '@lwm2m/coap';
import type { JsonPathValue } from '../events';
import type { NotificationUpdate, StoredValue, ValueStore } from '../ports';
import { comparePaths } from './compare-paths';
import { underAny } from '../notification-merge';

export class InMemoryValueStore implements ValueStore {
  private readonly byEndpoint = new Map<string, Map<string, StoredValue>>();
  /** endpoint -> observation id -> the last applied notification's Observe number and receive time. */
  private readonly order = new Map<string, Map<string, { v: number; t: number }>>();

  async put(endpoint: string, values: JsonPathValue[], receivedAt: number): Promise<void> {
    if (values.length === 0) return;
    this.set(this.map(endpoint), values, receivedAt);
  }

  async notify(
    endpoint: string,
    u: NotificationUpdate,
    receivedAt: number,
  ): Promise<{ applied: boolean; eventId?: string }> {
    if (u.observe !== undefined) {
      let seen = this.order.get(endpoint);
      if (!seen) this.order.set(endpoint, (seen = new Map()));
      const last = seen.get(u.observationId);
      if (last && !isNewerNotification(last.v, last.t, u.observe, receivedAt)) return { applied: false };
      seen.set(u.observationId, { v: u.observe, t: receivedAt });
    }
    const map = this.map(endpoint);
    if (u.mode === 'full') {
      const kept = new Set(u.values.map((v) => v.path));
      for (const p of [...map.keys()]) if (!kept.has(p) && underAny(p, u.paths)) map.delete(p);
    }
    for (const p of u.removed) map.delete(p);
    this.set(map, u.values, receivedAt);
    return { applied: true };
  }

  async get(endpoint: string): Promise<StoredValue[]> {
    const map = this.byEndpoint.get(endpoint);
    if (!map) return [];
    return [...map.keys()].sort(comparePaths).map((p) => structuredClone(map.get(p)!));
  }

  async forgetObservation(endpoint: string, observationId: string): Promise<void> {
    this.order.get(endpoint)?.delete(observationId);
  }

  async clear(endpoint: string): Promise<void> {
    this.clearSync(endpoint);
  }

  /** Synchronous clear (the registration store's atomic step). */
  clearSync(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
    this.order.delete(endpoint);
  }

  private map(endpoint: string): Map<string, StoredValue> {
    let map = this.byEndpoint.get(endpoint);
    if (!map) this.byEndpoint.set(endpoint, (map = new Map()));
    return map;
  }

  /** changedAt moves only when the value (with its time) differs from the one stored. */
  private set(map: Map<string, StoredValue>, values: JsonPathValue[], receivedAt: number): void {
    for (const v of values) {
      const old = map.get(v.path);
      const same =
        old !== undefined &&
        old.type === v.type &&
        old.time === v.time &&
        JSON.stringify(old.value) === JSON.stringify(v.value);
      const changedAt = same ? (old.changedAt ?? old.receivedAt) : receivedAt;
      map.set(v.path, structuredClone({ ...v, receivedAt, changedAt }));
    }
  }
}
