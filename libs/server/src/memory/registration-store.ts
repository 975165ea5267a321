// In-memory RegistrationStore for unit tests; same semantics as RedisRegistrationStore (contract suite).
// Every method mutates synchronously before its first await: calls never interleave, so claimExpired is
// exactly-once by construction.
import type { SessionRef } from '@lwm2m/transport';
import type { ListQuery, Observation, Page, RegistrationStore } from '../ports';
import { type Presence, type PresenceResult, type Registration, withPresence, wokeBy } from '../registration';
import { InMemoryObservationStore } from './observation-store';
import { InMemoryValueStore } from './value-store';

export const IN_MEMORY_MAX_LIST_LIMIT = 1000;

type RegistrationPatch = Parameters<RegistrationStore['update']>[1];
type Removed = { registration: Registration; cancelledObservations: Observation[] };

export class InMemoryRegistrationStore implements RegistrationStore {
  private readonly byEndpoint = new Map<string, Registration>();
  private readonly endpointById = new Map<string, string>();
  /** Presence records by endpoint, apart from the registrations as on Redis. */
  private readonly presence = new Map<string, Presence>();

  /** Pass the observation and value stores the server uses, so removals cancel their entries. */
  constructor(
    readonly observations: InMemoryObservationStore = new InMemoryObservationStore(),
    readonly values: InMemoryValueStore = new InMemoryValueStore(),
  ) {}

  async register(
    reg: Registration,
  ): Promise<{ replaced?: Registration; cancelledObservations: Observation[] }> {
    const replaced = this.byEndpoint.get(reg.endpoint);
    if (replaced) this.endpointById.delete(replaced.registrationId);
    const cancelledObservations = this.observations.removeAllOf(reg.endpoint);
    this.values.clearSync(reg.endpoint);
    this.presence.delete(reg.endpoint);
    this.byEndpoint.set(reg.endpoint, clone(reg));
    this.endpointById.set(reg.registrationId, reg.endpoint);
    return replaced ? { replaced, cancelledObservations } : { cancelledObservations };
  }

  async update(registrationId: string, patch: RegistrationPatch): Promise<Registration | undefined> {
    const reg = this.current(registrationId);
    if (!reg) return undefined;
    const next = { ...reg, ...clone(patch) };
    this.byEndpoint.set(reg.endpoint, next);
    return clone(next);
  }

  async deregister(registrationId: string): Promise<Removed | undefined> {
    const reg = this.current(registrationId);
    return reg ? this.remove(reg) : undefined;
  }

  async getById(registrationId: string): Promise<Registration | undefined> {
    const reg = this.current(registrationId);
    return reg && this.read(reg);
  }

  async getByEndpoint(endpoint: string): Promise<Registration | undefined> {
    const reg = this.byEndpoint.get(endpoint);
    return reg && this.read(reg);
  }

  async count(): Promise<number> {
    return this.byEndpoint.size;
  }

  async list(query: ListQuery): Promise<Page<Registration>> {
    const limit = Math.max(
      1,
      Math.min(IN_MEMORY_MAX_LIST_LIMIT, Math.floor(query.limit) || IN_MEMORY_MAX_LIST_LIMIT),
    );
    const needle = query.q?.toLowerCase();
    const cursor = query.cursor;
    // Code-unit order, like Redis ZRANGEBYLEX on UTF-8 for the ASCII names LwM2M endpoints use.
    const endpoints = [...this.byEndpoint.keys()]
      .filter((ep) => cursor === undefined || ep > cursor)
      .filter((ep) => !needle || ep.toLowerCase().includes(needle))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const page = endpoints.slice(0, limit);
    const items = page.map((ep) => this.read(this.byEndpoint.get(ep)!));
    return endpoints.length > limit ? { items, nextCursor: page[page.length - 1] } : { items };
  }

  async touch(presence: Presence[], awakeWindowMs: number): Promise<PresenceResult[]> {
    return presence.map((p) => {
      const reg = this.byEndpoint.get(p.endpoint);
      if (reg?.registrationId !== p.registrationId) return { registered: false };
      const stored = this.presence.get(p.endpoint);
      const woke = wokeBy(withPresence(reg, stored), p.lastSeen, awakeWindowMs);
      if (stored === undefined || stored.lastSeen < p.lastSeen) this.presence.set(p.endpoint, clone(p));
      return woke === undefined ? { registered: true } : { registered: true, wokeAfterMs: woke };
    });
  }

  async claimExpired(now: number, max: number): Promise<Removed[]> {
    if (max <= 0) return [];
    const due = [...this.byEndpoint.values()]
      .filter((r) => r.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .slice(0, max);
    return due.map((reg) => this.remove(reg));
  }

  async nextExpiry(): Promise<number | undefined> {
    let min: number | undefined;
    for (const reg of this.byEndpoint.values())
      if (min === undefined || reg.expiresAt < min) min = reg.expiresAt;
    return min;
  }

  private read(reg: Registration): Registration {
    return clone(withPresence(reg, this.presence.get(reg.endpoint)));
  }

  private current(registrationId: string): Registration | undefined {
    const endpoint = this.endpointById.get(registrationId);
    return endpoint === undefined ? undefined : this.byEndpoint.get(endpoint);
  }

  private remove(reg: Registration): Removed {
    this.byEndpoint.delete(reg.endpoint);
    this.endpointById.delete(reg.registrationId);
    this.presence.delete(reg.endpoint);
    const cancelledObservations = this.observations.removeAllOf(reg.endpoint);
    this.values.clearSync(reg.endpoint);
    return { registration: reg, cancelledObservations };
  }
}

/** A copy as a store would give back (structuredClone), the CID of a session kept a Buffer as its owner made it. */
function clone<T extends { session?: SessionRef }>(value: T): T {
  const copy = structuredClone(value);
  if (copy.session?.kind === 'cid') copy.session = { kind: 'cid', cid: Buffer.from(copy.session.cid) };
  return copy;
}
