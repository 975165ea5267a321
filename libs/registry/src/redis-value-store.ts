// ValueStore on Redis: the latest value per resource path of a device, from responses, notifications and
// Send (LwM2M TS 1.2 Core 6.4.3, 6.4.4). One hash per endpoint in the endpoint's slot (keys.ts).
import { comparePaths, type JsonPathValue, type Lwm2mEvent, type ValueStore } from '@lwm2m/server';
import { isCluster, type RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import type { RedisEventBus } from './redis-event-bus';
import { RegistryScripts } from './scripts';

type StoredValue = JsonPathValue & { receivedAt: number };

export class RedisValueStore implements ValueStore {
  private readonly scripts: RegistryScripts;
  /** Appends events in the values' call; only on one server (a Cluster puts the stream in another slot). */
  private readonly events?: Pick<RedisEventBus, 'entryFor' | 'afterAppend'>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    events?: Pick<RedisEventBus, 'entryFor' | 'afterAppend'>,
  ) {
    this.scripts = new RegistryScripts(redis);
    if (!isCluster(redis)) this.events = events;
  }

  async put(
    endpoint: string,
    values: JsonPathValue[],
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<string | void> {
    if (values.length === 0) return;
    const fields: string[] = [];
    for (const v of values) fields.push(v.path, JSON.stringify({ ...v, receivedAt }));
    if (event === undefined || this.events === undefined) {
      await this.redis.hset(this.keys.values(endpoint), ...fields);
      return;
    }
    const { stream, args } = this.events.entryFor(event);
    const [maxLen, at, type, json] = args;
    const id = (await this.scripts.run(
      'lwm2mValuesPutAll',
      [this.keys.values(endpoint), stream],
      [maxLen, at, type, event.endpoint, json, ...fields],
    )) as string;
    this.events.afterAppend();
    return id;
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
