// The record ciphers kept per session: AES-CCM on reused ECB/CBC contexts must give exactly what
// node:crypto's one-shot CCM gives, record after record on one context; the cache that bounds how many
// sessions keep them evicts the ones not used lately, and an evicted session sets them up again unnoticed.
import { createCipheriv, createDecipheriv, randomBytes, type CipherCCM, type DecipherCCM } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '@lwm2m/transport';
import {
  aeadCipher,
  AesCcm,
  CipherCache,
  type CipherHolder,
  CipherSuites,
  DtlsClient,
  DtlsServer,
  pooledRandomBytes,
  ReplayWindow,
} from '@lwm2m/dtls';

/** node:crypto's AES-128-CCM: ciphertext || tag. */
function nodeSeal(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer, tagLength: number): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength }) as CipherCCM;
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = c.update(pt);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

function nodeOpen(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer, tagLength: number): Buffer {
  const n = sealed.length - tagLength;
  const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength }) as DecipherCCM;
  d.setAuthTag(sealed.subarray(n));
  d.setAAD(aad, { plaintextLength: n });
  const pt = d.update(sealed.subarray(0, n));
  d.final();
  return pt;
}

describe('AES-CCM on reused contexts (NIST SP 800-38C)', () => {
  it('seals and opens exactly as node:crypto does, message after message on one context', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(8, 16),
        fc.array(
          fc.record({
            nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
            aad: fc.uint8Array({ minLength: 1, maxLength: 300 }),
            plaintext: fc.uint8Array({ minLength: 1, maxLength: 200 }),
            offset: fc.nat(20),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (tagLength, messages) => {
          const key = randomBytes(16);
          const ccm = new AesCcm(key, tagLength);
          for (const m of messages) {
            const nonce = Buffer.from(m.nonce);
            const aad = Buffer.from(m.aad);
            const pt = Buffer.from(m.plaintext);
            const buf = Buffer.alloc(m.offset + pt.length + tagLength + 5, 0xee);
            pt.copy(buf, m.offset);
            ccm.sealInPlace(nonce, aad, buf, m.offset, pt.length);
            const sealed = buf.subarray(m.offset, m.offset + pt.length + tagLength);
            expect(sealed).toEqual(nodeSeal(key, nonce, aad, pt, tagLength));
            expect(buf.subarray(m.offset + pt.length + tagLength)).toEqual(Buffer.alloc(5, 0xee));
            expect(nodeOpen(key, nonce, aad, Buffer.from(sealed), tagLength)).toEqual(pt);
            const n = pt.length;
            expect(ccm.open(nonce, aad, sealed.subarray(0, n), sealed.subarray(n))).toEqual(pt);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a flipped bit anywhere (ciphertext, tag, nonce or additional data), then still works', () => {
    const key = randomBytes(16);
    const ccm = new AesCcm(key, 8);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const pt = Buffer.from('a CoAP GET, say');
    const sealed = nodeSeal(key, nonce, aad, pt, 8);
    const n = pt.length;
    const open = (s: Buffer, no = nonce, a = aad): Buffer | undefined =>
      ccm.open(no, a, s.subarray(0, n), s.subarray(n));
    for (let bit = 0; bit < sealed.length * 8; bit += 7) {
      const bad = Buffer.from(sealed);
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(open(bad)).toBeUndefined();
    }
    const badNonce = Buffer.from(nonce);
    badNonce[11] ^= 1;
    expect(open(sealed, badNonce)).toBeUndefined();
    const badAad = Buffer.from(aad);
    badAad[0] ^= 0x80;
    expect(open(sealed, nonce, badAad)).toBeUndefined();
    expect(ccm.open(nonce, aad, sealed.subarray(0, n), sealed.subarray(n, n + 4))).toBeUndefined();
    expect(open(sealed)).toEqual(pt);
  });

  it('a session cipher takes its first record one-shot and the next ones on kept contexts, all alike', () => {
    const keys = { key: randomBytes(16), salt: randomBytes(4) };
    const seal = aeadCipher(CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys);
    const open = aeadCipher(CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys);
    for (const [i, length] of [5, 0, 17, 1, 300, 32].entries()) {
      const pt = randomBytes(length);
      const aad = randomBytes(13);
      const body = Buffer.alloc(8 + length + 8);
      body.writeUIntBE(i, 2, 6); // explicit nonce: epoch 0, sequence number i
      pt.copy(body, 8);
      seal.seal(aad, body, 0, length);
      const nonce = Buffer.concat([keys.salt, body.subarray(0, 8)]);
      if (length > 0) expect(body.subarray(8)).toEqual(nodeSeal(keys.key, nonce, aad, pt, 8));
      expect(open.open(aad, body)).toEqual(pt);
      body[body.length - 1] ^= 1;
      expect(open.open(aad, body)).toBeUndefined();
    }
  });

  it('matches node:crypto for a 16 KB record as well', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(12);
    const aad = randomBytes(31);
    const pt = randomBytes(16 * 1024 + 3);
    const buf = Buffer.from(pt);
    const out = Buffer.alloc(pt.length + 16);
    buf.copy(out);
    new AesCcm(key, 16).sealInPlace(nonce, aad, out, 0, pt.length);
    expect(out).toEqual(nodeSeal(key, nonce, aad, pt, 16));
  });
});

describe('CipherCache (CLOCK)', () => {
  const holder = (): CipherHolder & { dropped: number } => ({
    cipherUsed: false,
    dropped: 0,
    dropCiphers() {
      this.dropped++;
    },
  });

  it('never holds more than its capacity, and spares the holders used since the hand last passed', () => {
    const cache = new CipherCache(3);
    const [a, b, c, d, e] = [holder(), holder(), holder(), holder(), holder()];
    cache.add(a);
    cache.add(b);
    cache.add(c);
    cache.add(d); // a full lap clears every flag, then the oldest (a) goes
    expect(cache.size).toBe(3);
    expect([a.dropped, b.dropped, c.dropped, d.dropped]).toEqual([1, 0, 0, 0]);
    b.cipherUsed = true; // b and c send records, d stays idle
    c.cipherUsed = true;
    cache.add(e); // b and c get a second chance, d goes
    expect([b.dropped, c.dropped, d.dropped, e.dropped]).toEqual([0, 0, 1, 0]);
    expect(cache.size).toBe(3);
    cache.forget(c);
    expect(cache.size).toBe(2);
    cache.add(a);
    expect(cache.size).toBe(3);
    for (const h of [b, c, d, e, a]) cache.forget(h);
  });

  it('lets idle holders go at the second sweep without use', () => {
    const cache = new CipherCache(10);
    const [busy, idle] = [holder(), holder()];
    cache.add(busy);
    cache.add(idle);
    cache.sweep(); // both were used when added: flags cleared
    expect(cache.size).toBe(2);
    busy.cipherUsed = true;
    cache.sweep();
    expect([busy.dropped, idle.dropped]).toEqual([0, 1]);
    expect(cache.size).toBe(1);
    cache.sweep();
    expect(busy.dropped).toBe(1);
    expect(cache.size).toBe(0);
  });

  it('evicted sessions set their ciphers up again: three sessions taking turns through a cache of one', async () => {
    const net = new MemoryNetwork();
    const key = Buffer.from('cache-psk');
    const server = new DtlsServer({
      transport: net.transport('127.0.0.1', 5684),
      psk: () => key,
      cipherCacheSize: 1,
    });
    const to = { address: '127.0.0.1', port: 5684 };
    server.onDatagram((d, p) => void server.send(Buffer.concat([Buffer.from('echo '), d]), p));
    const replies: string[] = [];
    const clients = [1, 2, 3].map((i) => {
      const c = new DtlsClient({
        transport: net.transport('127.0.0.1', 40000 + i),
        psk: { identity: `d${i}`, key },
      });
      c.onDatagram((d) => replies.push(d.toString()));
      return c;
    });
    for (let round = 0; round < 4; round++)
      for (const [i, c] of clients.entries()) await c.send(Buffer.from(`${round}.${i}`), to);
    await expect.poll(() => replies.length).toBe(12);
    expect(new Set(replies).size).toBe(12);
    expect(server.counters.droppedBadMac + server.counters.droppedReplay).toBe(0);
    expect(server.counters.handshakesCompleted).toBe(3);
    for (const c of clients) await c.close();
    await server.close();
  });
});

describe('replay window kept in signed words', () => {
  it('agrees with a set of seen numbers on any order of arrivals, and snapshots unsigned words', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(300), { maxLength: 200 }), (seqs) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let top = -1;
        for (const s of seqs) {
          const fresh = s > top || (top - s < 64 && !seen.has(s));
          expect(w.check(s)).toBe(fresh);
          if (!fresh) continue;
          w.accept(s);
          seen.add(s);
          top = Math.max(top, s);
        }
        const st = w.state();
        expect(st.lo).toBeGreaterThanOrEqual(0);
        expect(st.hi).toBeGreaterThanOrEqual(0);
        const copy = ReplayWindow.from(st);
        for (let s = Math.max(0, top - 70); s <= top + 1; s++) expect(copy.check(s)).toBe(w.check(s));
      }),
    );
  });

  it('a full window is 0xffffffff in both words of a snapshot', () => {
    const w = new ReplayWindow();
    for (let s = 0; s < 64; s++) w.accept(s);
    expect(w.state()).toEqual({ top: 63, lo: 0xffffffff, hi: 0xffffffff });
  });
});

describe('pooled random bytes', () => {
  it('hands out distinct bytes in Buffers of their own that a later refill does not change', () => {
    const first = pooledRandomBytes(32);
    const copy = Buffer.from(first);
    const seen = new Set<string>([first.toString('hex')]);
    for (let i = 0; i < 1000; i++) seen.add(pooledRandomBytes(32).toString('hex'));
    expect(seen.size).toBe(1001);
    expect(first).toEqual(copy);
    expect(pooledRandomBytes(8)).toHaveLength(8);
    expect(pooledRandomBytes(5000)).toHaveLength(5000);
  });
});
