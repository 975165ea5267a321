// One contract for the bootstrap stores: the in-memory twins and the Redis implementations pass the same suite.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BootstrapConfigStore, BootstrapSession, BootstrapSessionStore } from '../src';

export function bootstrapStoreContract(
  name: string,
  make: () => Promise<{ configs: BootstrapConfigStore; sessions: BootstrapSessionStore }>,
): void {
  const session = (over: Partial<BootstrapSession> = {}): BootstrapSession => ({
    id: 's1',
    endpoint: 'ep1',
    state: 'running',
    node: 'a',
    leaseUntil: 2000,
    step: 0,
    startedAt: 1,
    updatedAt: 1,
    contentFormat: 11542,
    usesDefault: false,
    keys: { 1: randomBytes(16) },
    ...over,
  });

  describe(`${name}: bootstrap configurations`, () => {
    it('keeps keys, indexes the bootstrap identity, and un-indexes it on replace and remove', async () => {
      const { configs } = await make();
      const key = randomBytes(16);
      const bkey = randomBytes(16);
      await configs.put('ep1', {
        servers: [{ shortServerId: 1, uri: 'coaps://h:5684', security: 'psk', psk: { identity: 'i', key } }],
        bootstrapPsk: { identity: 'factory-1', key: bkey },
      });
      const got = await configs.get('ep1');
      expect(got?.servers[0]?.psk?.key?.equals(key)).toBe(true);
      expect((await configs.bootstrapPskByIdentity('factory-1'))?.key.equals(bkey)).toBe(true);
      // Another endpoint can't take the identity.
      await expect(
        configs.put('ep2', { servers: [], bootstrapPsk: { identity: 'factory-1', key: randomBytes(16) } }),
      ).rejects.toThrow(/another endpoint/);
      await configs.put('ep1', { servers: [{ shortServerId: 1, uri: 'coap://h', security: 'nosec' }] });
      expect(await configs.bootstrapPskByIdentity('factory-1')).toBeUndefined();
      expect(await configs.remove('ep1')).toBe(true);
      expect(await configs.get('ep1')).toBeUndefined();
      expect(await configs.remove('ep1')).toBe(false);
    });

    it('keeps an OSCORE account as given, and one with only some parts given', async () => {
      const { configs } = await make();
      const oscore = {
        masterSecret: randomBytes(16),
        masterSalt: randomBytes(8),
        senderId: Buffer.from('01', 'hex'),
        recipientId: Buffer.from('a1b2', 'hex'),
        idContext: Buffer.from('37', 'hex'),
        aead: 10,
      };
      await configs.put('ep-osc', {
        servers: [
          { shortServerId: 1, uri: 'coap://h:5683', security: 'oscore', oscore },
          {
            shortServerId: 2,
            uri: 'coap://h:5683',
            security: 'oscore',
            oscore: { senderId: Buffer.alloc(0) },
          },
        ],
      });
      const got = await configs.get('ep-osc');
      expect(got?.servers[0]?.oscore).toEqual(oscore);
      expect(got?.servers[1]?.oscore).toEqual({ senderId: Buffer.alloc(0) });
    });

    it('keeps the bootstrap OSCORE context, indexes its kid (the empty kid too), un-indexes it on replace and remove', async () => {
      const { configs } = await make();
      const bootstrapOscore = {
        masterSecret: randomBytes(16),
        masterSalt: randomBytes(4),
        senderId: Buffer.from('01', 'hex'),
        recipientId: Buffer.from('c0ffee', 'hex'),
      };
      const servers = [{ shortServerId: 1, uri: 'coap://h', security: 'nosec' as const }];
      await configs.put('ep-bso', { servers, bootstrapOscore });
      expect((await configs.get('ep-bso'))?.bootstrapOscore).toEqual(bootstrapOscore);
      expect(await configs.bootstrapOscoreByKid(Buffer.from('c0ffee', 'hex'))).toEqual({
        endpoint: 'ep-bso',
        oscore: bootstrapOscore,
      });
      expect(await configs.bootstrapOscoreByKid(Buffer.from('c0ff', 'hex'))).toBeUndefined();
      // Another endpoint can't take the kid; its own replace can.
      await expect(configs.put('ep-bso2', { servers, bootstrapOscore })).rejects.toThrow(/another endpoint/);
      const empty = { ...bootstrapOscore, recipientId: Buffer.alloc(0) };
      await configs.put('ep-bso', { servers, bootstrapOscore: empty });
      expect(await configs.bootstrapOscoreByKid(Buffer.from('c0ffee', 'hex'))).toBeUndefined();
      expect((await configs.bootstrapOscoreByKid(Buffer.alloc(0)))?.endpoint).toBe('ep-bso');
      await configs.put('ep-bso2', { servers, bootstrapOscore });
      expect((await configs.bootstrapOscoreByKid(Buffer.from('c0ffee', 'hex')))?.endpoint).toBe('ep-bso2');
      expect(await configs.remove('ep-bso')).toBe(true);
      expect(await configs.bootstrapOscoreByKid(Buffer.alloc(0))).toBeUndefined();
      await configs.put('ep-bso2', { servers });
      expect(await configs.bootstrapOscoreByKid(Buffer.from('c0ffee', 'hex'))).toBeUndefined();
    });

    it('keeps an RPK account: the server key and the client private key', async () => {
      const { configs } = await make();
      const rpk = { serverPublicKey: randomBytes(91), privateKey: randomBytes(138) };
      await configs.put('ep-rpk', {
        servers: [
          { shortServerId: 1, uri: 'coaps://h', security: 'rpk', rpk },
          { shortServerId: 2, uri: 'coaps://h', security: 'rpk', rpk: {} },
        ],
      });
      const got = await configs.get('ep-rpk');
      expect(got?.servers[0]?.rpk).toEqual(rpk);
      expect(got?.servers[1]?.rpk).toEqual({});
    });

    it('keeps an X.509 account: the certificates and the client private key', async () => {
      const { configs } = await make();
      const x509 = {
        certificate: randomBytes(300),
        privateKey: randomBytes(138),
        serverCertificate: randomBytes(310),
      };
      await configs.put('ep-x509', {
        servers: [
          { shortServerId: 1, uri: 'coaps://h', security: 'x509', x509 },
          { shortServerId: 2, uri: 'coaps://h', security: 'x509', x509: {} },
        ],
      });
      const got = await configs.get('ep-x509');
      expect(got?.servers[0]?.x509).toEqual(x509);
      expect(got?.servers[1]?.x509).toEqual({});
    });
  });

  describe(`${name}: bootstrap sessions`, () => {
    it('a live lease of another node refuses a claim; an expired or released one lets it through', async () => {
      const { sessions } = await make();
      expect(await sessions.claim(session(), 1000)).toEqual({ ok: true });
      const byB = session({ id: 's2', node: 'b' });
      const refused = await sessions.claim(byB, 1500);
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.holder.node).toBe('a');
      expect(await sessions.claim(byB, 2500)).toEqual({ ok: true });
      // The old node can no longer save.
      expect(await sessions.save(session({ step: 3 }))).toBe(false);
      expect(await sessions.save({ ...byB, step: 4 })).toBe(true);
      const cur = await sessions.get('ep1');
      expect(cur?.step).toBe(4);
      expect(cur?.keys[1]?.equals(byB.keys[1]!)).toBe(true);
    });

    it('keeps the certificates issued for a session as they were', async () => {
      const { sessions } = await make();
      const s = session({ endpoint: 'ep-cert', certificates: { 1: randomBytes(300).toString('base64') } });
      expect(await sessions.claim(s, 1000)).toEqual({ ok: true });
      expect((await sessions.get('ep-cert'))?.certificates).toEqual(s.certificates);
    });

    it('a finished session does not hold a new claim', async () => {
      const { sessions } = await make();
      await sessions.claim(session({ endpoint: 'ep9', state: 'finished', leaseUntil: 0 }), 1000);
      expect(await sessions.claim(session({ endpoint: 'ep9', id: 'n', node: 'b' }), 1000)).toEqual({
        ok: true,
      });
    });
  });
}
