// CredentialStore contract (LwM2M TS 1.2 Transport 5.2): credentials by endpoint, the lookups the DTLS
// handshake and the registration check make, and the PSK never leaving through a read other than
// pskByIdentity.
import { generateKeyPairSync } from 'node:crypto';
import { CredentialConflictError, normalizeRpk } from '@lwm2m/server';
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, makeRegistration, useFixture } from './fixture';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const KEY2 = Buffer.from('a1a2a3a4a5a6a7a8a9aaabacadaeafb0', 'hex');

function p256(): Buffer {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return normalizeRpk(publicKey.export({ format: 'der', type: 'spki' }));
}

/** No field of a read answer carries the key, in any encoding. */
function expectNoSecret(value: unknown, key: Buffer): void {
  const text = JSON.stringify(value) ?? '';
  expect(text).not.toContain(key.toString('hex'));
  expect(text).not.toContain(key.toString('base64'));
  expect(text).not.toContain(JSON.stringify(key.toJSON().data).slice(1, -1));
}

export function describeCredentialStoreContract(name: string, factory: FixtureFactory): void {
  describe(`CredentialStore contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('stores a PSK and gives its key only to the identity lookup, on any node', async () => {
      const { credentials: store, peer } = fx();
      expect(await store.put('urn:sec:1', { type: 'psk', identity: 'id-1', key: KEY })).toEqual({});
      const info = await peer.credentials.get('urn:sec:1');
      expect(info).toEqual({ type: 'psk', identity: 'id-1' });
      expectNoSecret(info, KEY);
      expect(await peer.credentials.pskByIdentity('id-1')).toEqual({ endpoint: 'urn:sec:1', key: KEY });
      expect(await store.pskByIdentity('id-2')).toBeUndefined();
    });

    it('finds the endpoint of a raw public key and of a certificate subject', async () => {
      const { credentials: store, peer } = fx();
      const pk = p256();
      await store.put('urn:sec:rpk', { type: 'rpk', publicKey: pk });
      await store.put('urn:sec:x509', { type: 'x509', subject: 'urn:sec:x509' });
      expect(await peer.credentials.endpointByPublicKey(pk)).toBe('urn:sec:rpk');
      expect(await peer.credentials.endpointByPublicKey(p256())).toBeUndefined();
      expect(await peer.credentials.endpointBySubject('urn:sec:x509')).toBe('urn:sec:x509');
      expect(await peer.credentials.endpointBySubject('urn:sec:other')).toBeUndefined();
      expect(await peer.credentials.get('urn:sec:rpk')).toEqual({ type: 'rpk', publicKey: pk });
      expect(await peer.credentials.get('urn:sec:x509')).toEqual({ type: 'x509', subject: 'urn:sec:x509' });
      // An RPK or X.509 endpoint has no PSK to hand out.
      expect(await store.pskByIdentity('urn:sec:x509')).toBeUndefined();
    });

    it('replacing a credential removes the old identity from every index', async () => {
      const { credentials: store, peer } = fx();
      await store.put('urn:sec:r', { type: 'psk', identity: 'old-id', key: KEY });
      const r1 = await store.put('urn:sec:r', { type: 'psk', identity: 'new-id', key: KEY2 });
      expect(r1).toEqual({ replaced: { type: 'psk', identity: 'old-id' } });
      expectNoSecret(r1, KEY);
      expect(await peer.credentials.pskByIdentity('old-id')).toBeUndefined();
      expect(await peer.credentials.pskByIdentity('new-id')).toEqual({ endpoint: 'urn:sec:r', key: KEY2 });
      // Another kind replaces it too.
      const pk = p256();
      const r2 = await store.put('urn:sec:r', { type: 'rpk', publicKey: pk });
      expect(r2).toEqual({ replaced: { type: 'psk', identity: 'new-id' } });
      expect(await peer.credentials.pskByIdentity('new-id')).toBeUndefined();
      expect(await peer.credentials.endpointByPublicKey(pk)).toBe('urn:sec:r');
      await store.put('urn:sec:r', { type: 'x509', subject: 'CN-r' });
      expect(await peer.credentials.endpointByPublicKey(pk)).toBeUndefined();
      expect(await peer.credentials.endpointBySubject('CN-r')).toBe('urn:sec:r');
      // The freed identity is free for another endpoint.
      await store.put('urn:sec:s', { type: 'psk', identity: 'old-id', key: KEY });
      expect((await peer.credentials.pskByIdentity('old-id'))?.endpoint).toBe('urn:sec:s');
    });

    it('rotates the key of the same identity', async () => {
      const { credentials: store } = fx();
      await store.put('urn:sec:rot', { type: 'psk', identity: 'rot', key: KEY });
      await store.put('urn:sec:rot', { type: 'psk', identity: 'rot', key: KEY2 });
      expect(await store.pskByIdentity('rot')).toEqual({ endpoint: 'urn:sec:rot', key: KEY2 });
    });

    it('refuses an identity, key or subject another endpoint holds, and changes nothing', async () => {
      const { credentials: store, peer } = fx();
      const pk = p256();
      await store.put('urn:sec:a', { type: 'psk', identity: 'shared', key: KEY });
      await store.put('urn:sec:b', { type: 'rpk', publicKey: pk });
      await store.put('urn:sec:c', { type: 'x509', subject: 'taken' });
      await store.put('urn:sec:d', { type: 'psk', identity: 'd-id', key: KEY2 });
      for (const cred of [
        { type: 'psk', identity: 'shared', key: KEY2 },
        { type: 'rpk', publicKey: pk },
        { type: 'x509', subject: 'taken' },
      ] as const) {
        const err = await store.put('urn:sec:d', cred).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CredentialConflictError);
        expect((err as CredentialConflictError).type).toBe(cred.type);
        expect(String(err)).not.toContain(KEY2.toString('hex'));
      }
      expect(await peer.credentials.pskByIdentity('shared')).toEqual({ endpoint: 'urn:sec:a', key: KEY });
      expect(await peer.credentials.pskByIdentity('d-id')).toEqual({ endpoint: 'urn:sec:d', key: KEY2 });
      expect(await peer.credentials.endpointByPublicKey(pk)).toBe('urn:sec:b');
      expect(await peer.credentials.endpointBySubject('taken')).toBe('urn:sec:c');
    });

    it('lets exactly one of two endpoints racing for one identity win', async () => {
      const { credentials: store, peer } = fx();
      const results = await Promise.allSettled([
        store.put('urn:sec:race1', { type: 'psk', identity: 'race', key: KEY }),
        peer.credentials.put('urn:sec:race2', { type: 'psk', identity: 'race', key: KEY2 }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const winner = results[0]!.status === 'fulfilled' ? 'urn:sec:race1' : 'urn:sec:race2';
      expect((await store.pskByIdentity('race'))?.endpoint).toBe(winner);
      const loser = winner === 'urn:sec:race1' ? 'urn:sec:race2' : 'urn:sec:race1';
      expect(await store.get(loser)).toBeUndefined();
    });

    it('removes a credential with its index entry, once', async () => {
      const { credentials: store, peer } = fx();
      await store.put('urn:sec:rm', { type: 'psk', identity: 'rm-id', key: KEY });
      const removed = await peer.credentials.remove('urn:sec:rm');
      expect(removed).toEqual({ type: 'psk', identity: 'rm-id' });
      expectNoSecret(removed, KEY);
      expect(await store.remove('urn:sec:rm')).toBeUndefined();
      expect(await store.get('urn:sec:rm')).toBeUndefined();
      expect(await store.pskByIdentity('rm-id')).toBeUndefined();
    });

    it('keeps credentials apart from registrations: provisioned before, kept after de-registration', async () => {
      const { credentials: store, registrations } = fx();
      await store.put('urn:sec:life', { type: 'psk', identity: 'life', key: KEY });
      const reg = makeRegistration('urn:sec:life', { security: 'psk' });
      await registrations.register(reg);
      await registrations.deregister(reg.registrationId);
      expect(await store.get('urn:sec:life')).toEqual({ type: 'psk', identity: 'life' });
    });

    it('keeps identities and endpoint names with any characters apart', async () => {
      const { credentials: store } = fx();
      const odd = ['a"b', 'ä:{x}', 'with space', '\\'];
      for (const [i, id] of odd.entries()) {
        await store.put(`urn:sec:odd:${id}`, { type: 'psk', identity: id, key: Buffer.from([i + 1]) });
      }
      for (const [i, id] of odd.entries()) {
        expect(await store.pskByIdentity(id)).toEqual({
          endpoint: `urn:sec:odd:${id}`,
          key: Buffer.from([i + 1]),
        });
      }
    });
  });
}
