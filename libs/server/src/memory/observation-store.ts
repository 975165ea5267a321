// In-memory ObservationStore for unit tests; same semantics as RedisObservationStore (contract suite).
import type { Observation, ObservationStore } from '../ports';

export class InMemoryObservationStore implements ObservationStore {
  private readonly byId = new Map<string, Observation>();
  private readonly byToken = new Map<string, string>();

  async add(obs: Observation): Promise<void> {
    this.byId.set(obs.id, structuredClone(obs));
    this.byToken.set(obs.token, obs.id);
  }

  async getById(id: string): Promise<Observation | undefined> {
    const obs = this.byId.get(id);
    return obs && structuredClone(obs);
  }

  async getByToken(token: string): Promise<Observation | undefined> {
    const id = this.byToken.get(token);
    return id === undefined ? undefined : this.getById(id);
  }

  async listByEndpoint(endpoint: string): Promise<Observation[]> {
    return this.ofEndpoint(endpoint).map((o) => structuredClone(o));
  }

  async remove(id: string): Promise<Observation | undefined> {
    const obs = this.byId.get(id);
    if (!obs) return undefined;
    this.drop(obs);
    return obs;
  }

  /** Synchronous removal of an endpoint's observations (the registration store's atomic step). */
  removeAllOf(endpoint: string): Observation[] {
    const gone = this.ofEndpoint(endpoint);
    for (const obs of gone) this.drop(obs);
    return gone;
  }

  private ofEndpoint(endpoint: string): Observation[] {
    return [...this.byId.values()]
      .filter((o) => o.endpoint === endpoint)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private drop(obs: Observation): void {
    this.byId.delete(obs.id);
    if (this.byToken.get(obs.token) === obs.id) this.byToken.delete(obs.token);
  }
}
