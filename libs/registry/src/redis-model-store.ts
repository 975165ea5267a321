// ModelStore on Redis (keys.ts slot {models}): uploaded DDF documents in one hash, and a revision counter
// bumped in the same Lua script, so a node that saw the revision unchanged has every model.
import type { ModelStore, StoredModel } from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import { RegistryScripts } from './scripts';

export class RedisModelStore implements ModelStore {
  private readonly scripts: RegistryScripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {
    this.scripts = new RegistryScripts(redis);
  }

  async put(model: StoredModel, replace: boolean): Promise<boolean> {
    const json = JSON.stringify({ objectId: model.objectId, version: model.version, xml: model.xml });
    const written = await this.scripts.run(
      'lwm2mModelPut',
      [this.keys.models, this.keys.modelsRevision],
      [`${model.objectId}:${model.version}`, json, replace ? '1' : '0'],
    );
    return Number(written) === 1;
  }

  async list(): Promise<StoredModel[]> {
    const all = await this.redis.hgetall(this.keys.models);
    const out: StoredModel[] = [];
    for (const json of Object.values(all)) {
      try {
        const m = JSON.parse(json) as StoredModel;
        if (typeof m.objectId === 'number' && typeof m.version === 'string' && typeof m.xml === 'string')
          out.push(m);
      } catch {
        // A record nobody here wrote: skipped, the others still load.
      }
    }
    return out;
  }

  count(): Promise<number> {
    return this.redis.hlen(this.keys.models);
  }

  async revision(): Promise<number> {
    return Number((await this.redis.get(this.keys.modelsRevision)) ?? 0);
  }
}
