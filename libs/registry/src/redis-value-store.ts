// ValueStore on Redis: the latest value per resource path of a device, from responses, notifications and
// Send (LwM2M TS 1.2 Core 6.4.3, 6.4.4). One hash per endpoint in the endpoint's slot (keys.ts).
import {
  comparePaths,
  type JsonPathValue,
  type Lwm2mEvent,
  type NotificationUpdate,
  type StoredValue,
  type ValueStore,
} from '@lwm2m/server';
import { isCluster, type RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import type { RedisEventBus } from './redis-event-bus';
import { RegistryScripts } from './scripts';

/** The field of the values hash that keeps an observation's last applied Observe number (not a path). */
const orderField = (observationId: string): string => `@o:${observationId}`;

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

  /** Values of a response or a Send: set, each keeping its changedAt when unchanged (the notify script). */
  async put(
    endpoint: string,
    values: JsonPathValue[],
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<string | void> {
    if (values.length === 0) return;
    const { eventId } = await this.apply(
      endpoint,
      { observationId: '', mode: 'plain', paths: [], values, removed: [] },
      receivedAt,
      event,
    );
    return eventId;
  }

  /** One script call per notification: the merge (or reset), the ordering check and the event (issue 19). */
  notify(
    endpoint: string,
    u: NotificationUpdate,
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<{ applied: boolean; eventId?: string }> {
    return this.apply(endpoint, u, receivedAt, event);
  }

  private async apply(
    endpoint: string,
    u: Omit<NotificationUpdate, 'mode'> & { mode: NotificationUpdate['mode'] | 'plain' },
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<{ applied: boolean; eventId?: string }> {
    const entry = event !== undefined ? this.events?.entryFor(event) : undefined;
    const args: Array<string | number> = [];
    if (entry !== undefined) {
      const [maxLen, at, type, json] = entry.args;
      args.push(maxLen, at, type, event!.endpoint, json);
    } else args.push('', '', '', '', '');
    args.push(
      u.mode,
      u.observe !== undefined ? orderField(u.observationId) : '',
      u.observe ?? '',
      Math.floor(receivedAt),
      u.paths.length,
      ...u.paths,
      u.removed.length,
      ...u.removed,
    );
    // The value's JSON without its closing brace: the script appends receivedAt and changedAt.
    for (const v of u.values) args.push(v.path, JSON.stringify(v).slice(0, -1));
    const key = this.keys.values(endpoint);
    const out = entry
      ? await this.scripts.run('lwm2mNotify', [key, entry.stream], args)
      : await this.scripts.run('lwm2mNotifyValues', [key], args);
    if (out === null || out === undefined) return { applied: false };
    if (entry === undefined) return { applied: true };
    this.events!.afterAppend();
    return { applied: true, eventId: out as string };
  }

  async get(endpoint: string): Promise<StoredValue[]> {
    const all = await this.redis.hgetall(this.keys.values(endpoint));
    return Object.keys(all)
      .filter((field) => field.startsWith('/'))
      .sort(comparePaths)
      .map((path) => JSON.parse(all[path]!) as StoredValue);
  }

  async forgetObservation(endpoint: string, observationId: string): Promise<void> {
    await this.redis.hdel(this.keys.values(endpoint), orderField(observationId));
  }

  async clear(endpoint: string): Promise<void> {
    await this.redis.del(this.keys.values(endpoint));
  }
}
