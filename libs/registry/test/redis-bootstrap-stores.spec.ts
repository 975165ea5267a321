// The Redis bootstrap stores pass the shared contract, and hold no key material in readable form.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisBootstrapConfigStore, RedisBootstrapSessionStore, registryKeys } from '@lwm2m/registry';
import { bootstrapStoreContract } from '../../bootstrap/test/store-contract';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let redis: RedisHandle;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

function stores(secretsKey = randomBytes(32)) {
  const client = new Redis(redis.url);
  clients.push(client);
  const keys = registryKeys(`t${randomBytes(4).toString('hex')}:`);
  return {
    client,
    keys,
    configs: new RedisBootstrapConfigStore(client, keys, { secretsKey }),
    sessions: new RedisBootstrapSessionStore(client, keys, { secretsKey }),
  };
}

bootstrapStoreContract('redis', async () => stores());

it('keys are sealed at rest: no PSK, RPK private key or OSCORE secret in hex, base64 or raw anywhere in Redis', async () => {
  const s = stores();
  const key = randomBytes(16);
  const bkey = randomBytes(16);
  const gen = randomBytes(16);
  const oscoreSecret = randomBytes(16);
  const oscoreSalt = randomBytes(8);
  const rpkPrivate = randomBytes(138);
  await s.configs.put('sealed', {
    servers: [
      { shortServerId: 1, uri: 'coaps://h:5684', security: 'psk', psk: { key } },
      {
        shortServerId: 2,
        uri: 'coap://h:5683',
        security: 'oscore',
        oscore: { masterSecret: oscoreSecret, masterSalt: oscoreSalt },
      },
      { shortServerId: 3, uri: 'coaps://h:5684', security: 'rpk', rpk: { privateKey: rpkPrivate } },
    ],
    bootstrapPsk: { identity: 'sealed-factory', key: bkey },
  });
  await s.sessions.claim(
    {
      id: 'x',
      endpoint: 'sealed',
      state: 'running',
      node: 'a',
      leaseUntil: 1,
      step: 0,
      startedAt: 0,
      updatedAt: 0,
      contentFormat: 11542,
      usesDefault: false,
      keys: { 1: gen },
    },
    0,
  );
  const dump: Buffer[] = [];
  for (const k of await s.client.keys(`${s.keys.prefix}*`)) {
    const type = await s.client.type(k);
    if (type === 'hash') dump.push(...Object.values(await s.client.hgetallBuffer(k)));
    else dump.push((await s.client.getBuffer(k))!);
  }
  const all = Buffer.concat(dump);
  for (const secret of [key, bkey, gen, oscoreSecret, oscoreSalt, rpkPrivate]) {
    expect(all.includes(secret)).toBe(false);
    expect(all.includes(Buffer.from(secret.toString('hex')))).toBe(false);
    expect(all.includes(Buffer.from(secret.toString('base64')))).toBe(false);
  }
  // Another SECRETS_KEY can't open them.
  const other = new RedisBootstrapConfigStore(s.client, s.keys, { secretsKey: randomBytes(32) });
  await expect(other.get('sealed')).rejects.toThrow(/SECRETS_KEY/);
});
