// OSCORE state in Redis (issue 14 items 1 and 3): the Master Secret and Salt sealed at rest with
// SECRETS_KEY, the kid index (unique across endpoints), and the Sender Sequence Number leases (RFC 8613
// section 7.5): after a restart, or on another process sharing a context, every Partial IV is above every
// one used before, so no AEAD nonce repeats.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leasedSequence } from '@lwm2m/oscore';
import { createRedisStores, registryKeys, type RedisStores } from '@lwm2m/registry';
import { CredentialConflictError, type OscoreCredential } from '@lwm2m/server';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let redis: RedisHandle;
let raw: Redis;
const open: RedisStores[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  for (const s of open) await s.close();
  raw?.disconnect();
  await redis?.stop();
});

function stores(keyPrefix: string, secretsKey?: Buffer): RedisStores {
  const s = createRedisStores(redis.url, { keyPrefix, credentials: secretsKey ? { secretsKey } : {} });
  open.push(s);
  return s;
}

const cred = (over: Partial<OscoreCredential> = {}): OscoreCredential => ({
  masterSecret: randomBytes(16),
  masterSalt: randomBytes(8),
  senderId: Buffer.from('01', 'hex'),
  recipientId: Buffer.from('a1', 'hex'),
  ...over,
});

describe('OSCORE credentials in Redis', () => {
  it('seals the Master Secret and Salt: neither is in Redis in hex, base64 or raw; reads open them', async () => {
    const prefix = `o${randomBytes(3).toString('hex')}:`;
    const key = randomBytes(32);
    const s = stores(prefix, key);
    const c = cred({ idContext: Buffer.from('37cbf321', 'hex') });
    await s.credentials.put('dev-1', { type: 'oscore', oscore: c });
    const record = (await raw.hgetBuffer(registryKeys(prefix).securityCredentials, 'dev-1'))!;
    for (const secret of [c.masterSecret, c.masterSalt!]) {
      for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('latin1')])
        expect(record.includes(Buffer.from(form, 'latin1'))).toBe(false);
    }
    expect(await s.credentials.get('dev-1')).toEqual({
      type: 'oscore',
      oscore: { senderId: c.senderId, recipientId: c.recipientId, idContext: c.idContext },
    });
    const byKid = await s.credentials.oscoreByKid(c.recipientId);
    expect(byKid?.endpoint).toBe('dev-1');
    expect(byKid?.oscore.masterSecret.equals(c.masterSecret)).toBe(true);
    expect(byKid?.oscore.masterSalt?.equals(c.masterSalt!)).toBe(true);
    // Another SECRETS_KEY opens nothing (counted), and a store without one can't write a secret.
    const wrong = stores(prefix, randomBytes(32));
    expect(await wrong.credentials.oscoreByKid(c.recipientId)).toBeUndefined();
    expect(wrong.credentials.counters.unopenable).toBe(1);
    await expect(stores(prefix).credentials.put('dev-2', { type: 'oscore', oscore: cred() })).rejects.toThrow(
      /SECRETS_KEY/,
    );
  });

  it('keeps a kid unique across endpoints, and un-indexes a replaced or removed context', async () => {
    const s = stores(`o${randomBytes(3).toString('hex')}:`, randomBytes(32));
    await s.credentials.put('a', { type: 'oscore', oscore: cred() });
    await expect(
      s.credentials.put('b', { type: 'oscore', oscore: cred({ senderId: Buffer.from('02', 'hex') }) }),
    ).rejects.toBeInstanceOf(CredentialConflictError);
    await s.credentials.put('a', { type: 'psk', identity: 'a-psk', key: randomBytes(16) });
    expect(await s.credentials.endpointByOscoreKid(Buffer.from('a1', 'hex'))).toBeUndefined();
    await s.credentials.put('b', { type: 'oscore', oscore: cred() });
    expect(await s.credentials.endpointByOscoreKid(Buffer.from('a1', 'hex'))).toBe('b');
    await s.credentials.remove('b');
    expect(await s.credentials.oscoreByKid(Buffer.from('a1', 'hex'))).toBeUndefined();
  });
});

describe('RedisSequenceLeaseStore', () => {
  it('after a process restart, the next Partial IV is above every one used before', async () => {
    const prefix = `q${randomBytes(3).toString('hex')}:`;
    const used: number[] = [];
    const first = stores(prefix);
    const seq = await leasedSequence({ store: first.oscoreSequences, contextKey: 'dev-1:01:', block: 100 });
    // Past the first lease (the next is reserved in the background at half of it).
    while (used.length < 160) {
      const n = seq.take();
      if (n === undefined) await new Promise((r) => setTimeout(r, 5));
      else used.push(n);
    }
    expect(new Set(used).size).toBe(160);
    // Crash: the process goes without writing anything back.
    await first.close();
    const second = stores(prefix);
    const after = await leasedSequence({
      store: second.oscoreSequences,
      contextKey: 'dev-1:01:',
      block: 100,
    });
    const next = after.take()!;
    expect(next).toBeGreaterThan(Math.max(...used));
    // The key is one per context with its own hash tag (cluster slot per context).
    expect(await raw.get(`${prefix}{oscseq:dev-1:01:}:end`)).not.toBeNull();
  });

  it('two processes sharing a context never hand out the same number', async () => {
    const prefix = `q${randomBytes(3).toString('hex')}:`;
    const [a, b] = [stores(prefix), stores(prefix)];
    const sa = await leasedSequence({ store: a.oscoreSequences, contextKey: 'shared', block: 10 });
    const sb = await leasedSequence({ store: b.oscoreSequences, contextKey: 'shared', block: 10 });
    const seen = new Set<number>();
    // Taken until 200 numbers came out (a lease renewal in flight makes take() wait; bounded, not timed).
    const deadline = Date.now() + 20_000;
    while (seen.size < 200 && Date.now() < deadline) {
      for (const s of [sa, sb]) {
        const n = s.take();
        if (n === undefined) continue;
        expect(seen.has(n)).toBe(false);
        seen.add(n);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(seen.size).toBeGreaterThanOrEqual(200);
  });
});
