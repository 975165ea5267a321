// ValueStore on Redis: the latest value per resource path of a device, from responses, notifications and
// Send (LwM2M TS 1.2 Core 6.4.3, 6.4.4). One hash per endpoint in the endpoint's slot (keys.ts).
import { comparePaths, type JsonPathValue, type ValueStore } from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';

type StoredValue = JsonPathValue & { receivedAt: number };

export class RedisValueStore implements ValueStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {}

  async put(endpoint: string, values: JsonPathValue[], receivedAt: number): Promise<void> {
    if (values.length === 0) return;
    const fields: string[] = [];
    for (const v of values) fields.push(v.path, JSON.stringify({ ...v, receivedAt }));
    await this.redis.hset(this.keys.values(endpoint), ...fields);
  }

  async get(endpoint: string): Promise<StoredValue[]> {
    const all = await this.redis.hgetall(this.keys.values(endpoint));
    return Object.keys(all)
      .sort(comparePaths)
      .map((path) => JSON.parse(all[path]!) as StoredValue);
  }

  async clear(endpoint: string): Promise<void> {
    await this.redis.del(this.keys.values(endpoint));
  }
}
