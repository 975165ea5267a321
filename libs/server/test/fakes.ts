// Small in-memory stand-ins for the ports, enough for the server's unit tests (the real in-memory stores
// live in src/memory and pass the contract suites).
import {
  type EventBus,
  type JsonPathValue,
  type ListQuery,
  type Lwm2mEvent,
  type Observation,
  type ObservationStore,
  type Page,
  type Presence,
  type PresenceResult,
  type Registration,
  type RegistrationStore,
  type StoredEvent,
  type NotificationUpdate,
  underAny,
  type ValueStore,
  withPresence,
  wokeBy,
} from '../src';

export class FakeObservationStore implements ObservationStore {
  readonly byId = new Map<string, Observation>();
  add(obs: Observation): Promise<void> {
    this.byId.set(obs.id, obs);
    return Promise.resolve();
  }
  getById(id: string): Promise<Observation | undefined> {
    return Promise.resolve(this.byId.get(id));
  }
  getByToken(token: string): Promise<Observation | undefined> {
    return Promise.resolve([...this.byId.values()].find((o) => o.token === token));
  }
  listByEndpoint(endpoint: string): Promise<Observation[]> {
    return Promise.resolve([...this.byId.values()].filter((o) => o.endpoint === endpoint));
  }
  remove(id: string): Promise<Observation | undefined> {
    const o = this.byId.get(id);
    this.byId.delete(id);
    return Promise.resolve(o);
  }
  takeEndpoint(endpoint: string): Observation[] {
    const out = [...this.byId.values()].filter((o) => o.endpoint === endpoint);
    for (const o of out) this.byId.delete(o.id);
    return out;
  }
}

export class FakeRegistrationStore implements RegistrationStore {
  readonly byEndpoint = new Map<string, Registration>();
  constructor(private readonly observations: FakeObservationStore) {}
  register(reg: Registration): Promise<{ replaced?: Registration; cancelledObservations: Observation[] }> {
    const replaced = this.byEndpoint.get(reg.endpoint);
    const cancelledObservations = replaced ? this.observations.takeEndpoint(reg.endpoint) : [];
    this.byEndpoint.set(reg.endpoint, structuredClone(reg));
    return Promise.resolve({ replaced, cancelledObservations });
  }
  update(id: string, patch: Partial<Registration>): Promise<Registration | undefined> {
    const reg = [...this.byEndpoint.values()].find((r) => r.registrationId === id);
    if (!reg) return Promise.resolve(undefined);
    const next = { ...reg, ...patch };
    this.byEndpoint.set(reg.endpoint, next);
    return Promise.resolve(structuredClone(next));
  }
  deregister(
    id: string,
  ): Promise<{ registration: Registration; cancelledObservations: Observation[] } | undefined> {
    const reg = [...this.byEndpoint.values()].find((r) => r.registrationId === id);
    if (!reg) return Promise.resolve(undefined);
    this.byEndpoint.delete(reg.endpoint);
    return Promise.resolve({
      registration: reg,
      cancelledObservations: this.observations.takeEndpoint(reg.endpoint),
    });
  }
  getById(id: string): Promise<Registration | undefined> {
    const reg = [...this.byEndpoint.values()].find((r) => r.registrationId === id);
    return Promise.resolve(reg && structuredClone(reg));
  }
  getByEndpoint(endpoint: string): Promise<Registration | undefined> {
    const reg = this.byEndpoint.get(endpoint);
    return Promise.resolve(reg && structuredClone(reg));
  }
  list(query: ListQuery): Promise<Page<Registration>> {
    return Promise.resolve({ items: [...this.byEndpoint.values()].slice(0, query.limit) });
  }
  touch(presence: Presence[], awakeWindowMs: number): Promise<PresenceResult[]> {
    return Promise.resolve(
      presence.map((p) => {
        const reg = this.byEndpoint.get(p.endpoint);
        if (reg?.registrationId !== p.registrationId) return { registered: false };
        const woke = wokeBy(reg, p.lastSeen, awakeWindowMs);
        Object.assign(reg, withPresence(reg, p));
        return woke === undefined ? { registered: true } : { registered: true, wokeAfterMs: woke };
      }),
    );
  }
  claimExpired(
    now: number,
    max: number,
  ): Promise<Array<{ registration: Registration; cancelledObservations: Observation[] }>> {
    const due = [...this.byEndpoint.values()].filter((r) => r.expiresAt <= now).slice(0, max);
    return Promise.resolve(
      due.map((registration) => {
        this.byEndpoint.delete(registration.endpoint);
        return { registration, cancelledObservations: this.observations.takeEndpoint(registration.endpoint) };
      }),
    );
  }
  nextExpiry(): Promise<number | undefined> {
    const all = [...this.byEndpoint.values()].map((r) => r.expiresAt);
    return Promise.resolve(all.length ? Math.min(...all) : undefined);
  }
}

export class FakeValueStore implements ValueStore {
  readonly data = new Map<string, Map<string, JsonPathValue & { receivedAt: number }>>();
  put(endpoint: string, values: JsonPathValue[], receivedAt: number): Promise<void> {
    let m = this.data.get(endpoint);
    if (!m) this.data.set(endpoint, (m = new Map()));
    for (const v of values) m.set(v.path, { ...v, receivedAt });
    return Promise.resolve();
  }
  async notify(endpoint: string, u: NotificationUpdate, receivedAt: number): Promise<{ applied: boolean }> {
    const m = this.data.get(endpoint) ?? new Map<string, JsonPathValue & { receivedAt: number }>();
    this.data.set(endpoint, m);
    if (u.mode === 'full') {
      const kept = new Set(u.values.map((v) => v.path));
      for (const p of [...m.keys()]) if (!kept.has(p) && underAny(p, u.paths)) m.delete(p);
    }
    for (const p of u.removed) m.delete(p);
    await this.put(endpoint, u.values, receivedAt);
    return { applied: true };
  }
  get(endpoint: string): Promise<Array<JsonPathValue & { receivedAt: number }>> {
    return Promise.resolve([...(this.data.get(endpoint)?.values() ?? [])]);
  }
  clear(endpoint: string): Promise<void> {
    this.data.delete(endpoint);
    return Promise.resolve();
  }
}

export class FakeEventBus implements EventBus {
  readonly events: StoredEvent[] = [];
  private seq = 0;
  private waiters: Array<() => void> = [];
  publish(event: Lwm2mEvent): Promise<string> {
    const id = `${Date.now()}-${this.seq++}`;
    this.events.push({ ...event, id, at: Date.now() });
    for (const w of this.waiters.splice(0)) w();
    return Promise.resolve(id);
  }
  subscribe(): AsyncIterable<StoredEvent> {
    throw new Error('not needed in these tests');
  }
  recent(count: number, endpoint?: string): Promise<StoredEvent[]> {
    return Promise.resolve(this.events.filter((e) => !endpoint || e.endpoint === endpoint).slice(-count));
  }
  ofType<T extends Lwm2mEvent['type']>(type: T): Array<Extract<StoredEvent, { type: T }>> {
    return this.events.filter((e) => e.type === type) as Array<Extract<StoredEvent, { type: T }>>;
  }
  /** Resolves when `pred` holds over the events (checked on each publish). */
  async waitFor(pred: (events: StoredEvent[]) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.events)) {
      if (Date.now() > deadline) throw new Error('timed out waiting for events');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}
