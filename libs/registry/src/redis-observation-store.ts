// ObservationStore on Redis (RFC 7641 observations, LwM2M TS 1.2 Core 6.4): by token so any node can match a
// notification, by endpoint so re-registration cancels them. Layout in keys.ts.
import type { Observation, ObservationStore } from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import { RegistryScripts } from './scripts';

export class RedisObservationStore implements ObservationStore {
  private readonly scripts: RegistryScripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {
    this.scripts = new RegistryScripts(redis);
  }

  async add(obs: Observation): Promise<void> {
    // Record first, then the index (keys.ts: readers verify, a stale index entry is never returned).
    await this.redis.hset(this.keys.obs(obs.endpoint), obs.id, JSON.stringify(obs));
    await this.scripts.run(
      'lwm2mObsIndexAdd',
      [this.keys.obsIdIndex, this.keys.obsTokenIndex],
      [obs.id, obs.token, obs.endpoint],
    );
  }

  async getById(id: string): Promise<Observation | undefined> {
    const endpoint = await this.redis.hget(this.keys.obsIdIndex, id);
    if (!endpoint) return undefined;
    const json = await this.redis.hget(this.keys.obs(endpoint), id);
    return json ? (JSON.parse(json) as Observation) : undefined;
  }

  async getByToken(token: string): Promise<Observation | undefined> {
    const id = await this.redis.hget(this.keys.obsTokenIndex, token);
    if (!id) return undefined;
    const obs = await this.getById(id);
    return obs?.token === token ? obs : undefined;
  }

  async listByEndpoint(endpoint: string): Promise<Observation[]> {
    const all = await this.redis.hvals(this.keys.obs(endpoint));
    return all
      .map((s) => JSON.parse(s) as Observation)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async remove(id: string): Promise<Observation | undefined> {
    const endpoint = await this.redis.hget(this.keys.obsIdIndex, id);
    if (!endpoint) return undefined;
    const json = (await this.scripts.run('lwm2mObsRemove', [this.keys.obs(endpoint)], [id])) as string | null;
    if (!json) return undefined;
    const obs = JSON.parse(json) as Observation;
    await this.scripts.run(
      'lwm2mObsIndexDrop',
      [this.keys.obsIdIndex, this.keys.obsTokenIndex],
      [id, obs.token],
    );
    return obs;
  }
}
