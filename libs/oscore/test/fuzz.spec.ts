// The OSCORE decoders of network input, fuzzed like the others (test/support/fuzz): the option value
// decoder and the plaintext decoder with 100k seeded mutated inputs each, fast-check round trips of valid
// option values, and verifyRequest/verifyResponse on mutated OSCORE messages: a typed failure, never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  OptionNumber as O,
} from '@lwm2m/coap';
import {
  decodeOscoreOption,
  decodePlaintext,
  encodeOscoreOption,
  encodePlaintext,
  GroupSecurityContext,
  groupProtectRequest,
  groupVerifyRequest,
  SignatureAlgorithms,
  protectRequest,
  protectResponse,
  SecurityContext,
  verifyRequest,
  verifyResponse,
} from '@lwm2m/oscore';
import { fuzzDecoder, mutate, prng } from '../../../test/support/fuzz';
import vectors from './vectors/rfc8613-appendix-c.json';

const h = (s: string): Buffer => Buffer.from(s, 'hex');

describe('OSCORE option value decoder', () => {
  it('random and mutated bytes give a value or a DecodeError, nothing else', () => {
    const seeds = ['0914', '091400', '19140837cbf3210017a2d3', '0100', '090525', '19050544616c656b', ''].map(
      h,
    );
    const report = fuzzDecoder({
      name: 'decodeOscoreOption',
      decode: decodeOscoreOption,
      seeds,
      seed: 0x8613,
    });
    expect(report.accepted).toBeGreaterThan(1000);
    for (const r of [
      'reserved-flags',
      'reserved-piv-length',
      'truncated',
      'non-minimal-piv',
      'trailing-bytes',
      'too-long',
    ])
      expect(report.reasons).toContain(r);
  });

  it('every valid value round-trips through encode and decode', () => {
    const piv = fc
      .integer({ min: 0, max: 2 ** 40 - 1 })
      .map((n) =>
        n === 0
          ? Buffer.from([0])
          : Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex'),
      );
    const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
    fc.assert(
      fc.property(
        fc.record(
          { partialIv: piv, kidContext: bytes(40), kid: bytes(7), group: fc.constant(true) },
          { requiredKeys: [] },
        ),
        (v) => {
          const enc = encodeOscoreOption(v);
          expect(decodeOscoreOption(enc)).toEqual(v);
          // And the encoding is the only one: decoding then encoding gives the same bytes.
          expect(encodeOscoreOption(decodeOscoreOption(enc))).toEqual(enc);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('OSCORE plaintext decoder', () => {
  it('random and mutated plaintexts give a value or a DecodeError', () => {
    const seeds = [
      h('01b3747631'),
      h('45ff48656c6c6f20576f726c6421'),
      encodePlaintext({
        code: 0x45,
        options: [
          { number: O.OBSERVE, value: Buffer.alloc(0) },
          { number: 12, value: h('2d16') },
        ],
        payload: Buffer.from('x'),
      }),
    ];
    const report = fuzzDecoder({ name: 'decodePlaintext', decode: decodePlaintext, seeds, seed: 0x5e3 });
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.reasons.size).toBeGreaterThan(2);
  });
});

describe('verifying mutated OSCORE messages', () => {
  const client = new SecurityContext({
    masterSecret: h('0102030405060708090a0b0c0d0e0f10'),
    senderId: h('00'),
    recipientId: h('01'),
  });
  const server = client.mirrored();
  const requests = vectors.requests.map((v) => h(v.protected));
  const own = protectRequest(
    client,
    createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      token: h('01'),
      options: [{ number: O.URI_PATH, value: Buffer.from('x') }],
    }),
  );
  if (!own.ok) throw new Error(own.reason);
  requests.push(encodeMessage(own.message));

  it('verifyRequest returns a typed result for 20k mutated requests and never accepts a changed one', () => {
    const rand = prng(0x0c0e);
    let accepted = 0;
    const reasons = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const seed = requests[(rand() * requests.length) | 0];
      const bytes = mutate(rand, seed, requests);
      let msg;
      try {
        msg = decodeMessage(bytes);
      } catch {
        continue;
      }
      // A fresh window each time, so that replay never hides a wrongly accepted mutation.
      const ctx = server.mirrored().mirrored();
      const r = verifyRequest(msg, () => ctx);
      if (r.ok) {
        accepted++;
        // Only messages whose protected parts (ciphertext, kid, Partial IV) are a genuine request's verify.
        const oscore = msg.options.find((o) => o.number === O.OSCORE)!.value;
        const genuine = requests
          .map(decodeMessage)
          .some(
            (g) =>
              g.payload.equals(msg.payload) &&
              g.options.find((o) => o.number === O.OSCORE)!.value.equals(oscore),
          );
        expect(genuine).toBe(true);
      } else {
        reasons.add(r.reason);
        expect(typeof r.code === 'number').toBe(true);
      }
    }
    expect(reasons).toEqual(new Set(['decode', 'decrypt']));
    expect(accepted).toBeLessThan(20_000);
  });

  it('verifyResponse returns a typed result for 20k mutated responses', () => {
    const rand = prng(0xc0e5);
    const v = verifyRequest(own.message, () => server.mirrored().mirrored());
    if (!v.ok) throw new Error(v.reason);
    const res = protectResponse(
      v.binding,
      createMessage({ type: CoapType.ACK, code: CoapCode.CONTENT, payload: Buffer.from('ok') }),
      { partialIv: true },
    );
    if (!res.ok) throw new Error(res.reason);
    const seeds = [encodeMessage(res.message), ...vectors.responses.map((r) => h(r.protected))];
    const reasons = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      let msg;
      try {
        msg = decodeMessage(mutate(rand, seeds[(rand() * seeds.length) | 0], seeds));
      } catch {
        continue;
      }
      const binding = { ...own.binding, nonceUsed: false, answered: false, notificationNumber: -1 };
      const r = verifyResponse(binding, msg);
      if (!r.ok) reasons.add(r.reason);
    }
    expect(reasons.has('decrypt')).toBe(true);
    expect(reasons.has('decode')).toBe(true);
  });
});

describe('verifying mutated Group OSCORE messages', () => {
  it('groupVerifyRequest returns a typed result for 5k mutated group and pairwise requests', () => {
    const alg = SignatureAlgorithms.EdDSA_Ed25519;
    const mk = (id: string) => {
      const privateKey = alg.randomPrivateKey();
      const publicKey = alg.publicKey(privateKey);
      return { senderId: h(id), privateKey, publicKey, credential: Buffer.from(publicKey) };
    };
    const a = mk('0a');
    const b = mk('0b');
    const cfg = {
      gid: '0102',
      masterSecret: '0102030405060708090a0b0c0d0e0f10',
      groupEncryptionAlg: 10,
      signatureAlg: alg.id,
      aeadAlg: 10,
      gmCredential: 'aa',
      members: [a, b].map((m) => ({
        senderId: m.senderId.toString('hex'),
        credential: m.credential.toString('hex'),
        publicKey: Buffer.from(m.publicKey).toString('hex'),
      })),
    };
    const A = GroupSecurityContext.fromConfig(cfg, a);
    const seeds: Buffer[] = [];
    for (const to of [undefined, b.senderId]) {
      const r = groupProtectRequest(
        A,
        createMessage({
          type: CoapType.NON,
          code: CoapCode.GET,
          options: [{ number: O.URI_PATH, value: Buffer.from('x') }],
        }),
        to ? { pairwiseTo: to } : {},
      );
      if (!r.ok) throw new Error(r.reason);
      seeds.push(encodeMessage(r.message));
    }
    // One server context (its ECDH at setup is the slow part); a genuine copy verifies once, then is a replay.
    const B = GroupSecurityContext.fromConfig(cfg, b);
    const rand = prng(0x9c0e);
    const reasons = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      let msg;
      try {
        msg = decodeMessage(mutate(rand, seeds[(rand() * seeds.length) | 0], seeds));
      } catch {
        continue;
      }
      const r = groupVerifyRequest(msg, (gid) => (gid.equals(B.gid) ? B : undefined));
      if (!r.ok) reasons.add(r.reason);
    }
    expect(reasons.has('decrypt')).toBe(true);
    expect(reasons.has('decode')).toBe(true);
  });
});
