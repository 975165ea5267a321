// The gateway's OSCORE contexts (oscore.ts): looked up in the credential store once per kid, then served
// from memory (no store read per datagram); a kid nobody holds is remembered for the refresh period (a flood
// of unknown kids costs one read per kid); a removed or replaced credential takes effect at the next
// refresh; every context's sequence comes from a lease, and a new process starts with Echo.
import { describe, expect, it } from 'vitest';
import { InMemorySequenceLeaseStore } from '@lwm2m/oscore';
import { OscoreContexts } from '@lwm2m/gateway';
import { InMemoryCredentialStore, type OscoreCredential } from '@lwm2m/server';

const KID = Buffer.from('a1', 'hex');
const cred = (secret = '0102030405060708090a0b0c0d0e0f10'): OscoreCredential => ({
  masterSecret: Buffer.from(secret, 'hex'),
  senderId: Buffer.from('01', 'hex'),
  recipientId: KID,
});

function counting(store: InMemoryCredentialStore) {
  const reads = { byKid: 0, byEndpoint: 0 };
  const byKid = store.oscoreByKid.bind(store);
  const of = store.oscoreOf.bind(store);
  store.oscoreByKid = (kid) => {
    reads.byKid++;
    return byKid(kid);
  };
  store.oscoreOf = (ep) => {
    reads.byEndpoint++;
    return of(ep);
  };
  return reads;
}

describe('OscoreContexts', () => {
  it('reads a kid once, then serves it from memory; refreshes after refreshMs; drops a removed one', async () => {
    const store = new InMemoryCredentialStore();
    await store.put('dev', { type: 'oscore', oscore: cred() });
    const reads = counting(store);
    let now = 1000;
    const sequences = new InMemorySequenceLeaseStore();
    const contexts = new OscoreContexts({ credentials: store, sequences, refreshMs: 5000, now: () => now });
    const first = await contexts.lookup(KID);
    expect(first?.owner).toBe('dev');
    expect(first?.context.replay.needsEcho).toBe(true);
    for (let i = 0; i < 10_000; i++) expect(contexts.lookup(KID)).toBe(first);
    expect(reads.byKid).toBe(1);
    expect(contexts.ofEndpoint('dev')).toBe(first!.context);
    // The sequence is leased before use (RFC 8613 section 7.5).
    expect(sequences.end('dev:01:')).toBe(1000);

    // Unchanged credential: the same context (its replay window and sequence) after a refresh.
    now += 6000;
    expect(contexts.lookup(KID)).toBe(first);
    await new Promise((r) => setTimeout(r, 5));
    expect(reads.byKid).toBe(2);
    expect(contexts.lookup(KID)).toBe(first);

    // A replaced key: a new context; a removed credential: gone at the next refresh.
    await store.put('dev', { type: 'oscore', oscore: cred('ffeeddccbbaa99887766554433221100') });
    now += 6000;
    contexts.lookup(KID);
    await new Promise((r) => setTimeout(r, 5));
    const replaced = contexts.lookup(KID) as Awaited<ReturnType<typeof contexts.lookup>>;
    expect(replaced).not.toBe(first);
    expect(replaced?.context.senderKey.equals(first!.context.senderKey)).toBe(false);
    await store.remove('dev');
    now += 6000;
    contexts.lookup(KID);
    await new Promise((r) => setTimeout(r, 5));
    expect(await contexts.lookup(KID)).toBeUndefined();
    expect(contexts.ofEndpoint('dev')).toBeUndefined();
  });

  it('remembers unknown kids for the refresh period: a flood costs one read per kid', async () => {
    const store = new InMemoryCredentialStore();
    const reads = counting(store);
    let now = 0;
    const contexts = new OscoreContexts({
      credentials: store,
      sequences: new InMemorySequenceLeaseStore(),
      refreshMs: 5000,
      now: () => now,
    });
    expect(await contexts.lookup(Buffer.from('ee', 'hex'))).toBeUndefined();
    for (let i = 0; i < 1000; i++) expect(contexts.lookup(Buffer.from('ee', 'hex'))).toBeUndefined();
    expect(reads.byKid).toBe(1);
    // Concurrent misses of one kid share one read.
    await Promise.all([contexts.lookup(Buffer.from('ef', 'hex')), contexts.lookup(Buffer.from('ef', 'hex'))]);
    expect(reads.byKid).toBe(2);
    // Provisioned meanwhile: found once the remembered absence lapses.
    await store.put('late', { type: 'oscore', oscore: { ...cred(), recipientId: Buffer.from('ee', 'hex') } });
    now += 6000;
    expect((await contexts.lookup(Buffer.from('ee', 'hex')))?.owner).toBe('late');
    // prepare() before a command: one read for an endpoint without OSCORE per refresh period.
    const before = reads.byEndpoint;
    await contexts.prepare('plain');
    await contexts.prepare('plain');
    expect(reads.byEndpoint - before).toBe(1);
  });
});
