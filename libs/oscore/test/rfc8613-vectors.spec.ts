// RFC 8613 Appendix C test vectors (vectors/rfc8613-appendix-c.json), section 5.4's AAD example and
// section 6.3's compressed COSE objects: exact bytes both ways.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '@lwm2m/coap';
import {
  aadArray,
  aeadNonce,
  decodeOscoreOption,
  deriveKeys,
  encodeOscoreOption,
  encodePartialIv,
  encStructure,
  hkdfInfo,
  protectRequest,
  protectResponse,
  SecurityContext,
  SenderSequence,
  verifyRequest,
  verifyResponse,
  type RequestBinding,
} from '@lwm2m/oscore';
import vectors from './vectors/rfc8613-appendix-c.json';

const h = (s: string): Buffer => Buffer.from(s, 'hex');
type Derivation = (typeof vectors.derivation)[number];

function inputOf(v: Derivation) {
  return {
    masterSecret: h(v.masterSecret),
    ...('masterSalt' in v && v.masterSalt ? { masterSalt: h(v.masterSalt) } : {}),
    ...('idContext' in v && v.idContext ? { idContext: h(v.idContext) } : {}),
    senderId: h(v.senderId),
    recipientId: h(v.recipientId),
  };
}

function derivation(name: string): Derivation {
  const v = vectors.derivation.find((d) => d.name === name);
  if (v === undefined) throw new Error(`no vector ${name}`);
  return v;
}

function contextAt(name: string, seq: number): SecurityContext {
  return new SecurityContext(inputOf(derivation(name)), { sequence: new SenderSequence(seq) });
}

describe('RFC 8613 C.1-C.3: security context derivation', () => {
  for (const v of vectors.derivation) {
    it(`${v.name}: HKDF info, Sender Key, Recipient Key, Common IV and nonces match`, () => {
      const input = inputOf(v);
      const idContext = 'idContext' in input ? input.idContext : undefined;
      expect(hkdfInfo(input.senderId, idContext, 10, 'Key', 16).toString('hex')).toBe(v.infoSenderKey);
      expect(hkdfInfo(input.recipientId, idContext, 10, 'Key', 16).toString('hex')).toBe(v.infoRecipientKey);
      expect(hkdfInfo(Buffer.alloc(0), idContext, 10, 'IV', 13).toString('hex')).toBe(v.infoCommonIv);
      const keys = deriveKeys(input);
      expect(keys.senderKey.toString('hex')).toBe(v.senderKey);
      expect(keys.recipientKey.toString('hex')).toBe(v.recipientKey);
      expect(keys.commonIv.toString('hex')).toBe(v.commonIv);
      const piv0 = encodePartialIv(0);
      expect(aeadNonce(keys.commonIv, input.senderId, piv0).toString('hex')).toBe(v.senderNonce);
      expect(aeadNonce(keys.commonIv, input.recipientId, piv0).toString('hex')).toBe(v.recipientNonce);
    });
  }
});

describe('RFC 8613 section 5.4 and 6.3 examples', () => {
  it('builds the AAD of the section 5.4 example (kid 0x00, Partial IV 0x25)', () => {
    const arr = aadArray(10, h('00'), h('25'));
    expect(arr.toString('hex')).toBe('8501810a4100412540');
    expect(encStructure(arr).toString('hex')).toBe('8368456e63727970743040498501810a4100412540');
  });

  const examples = [
    { option: '090525', value: { partialIv: h('05'), kid: h('25') } },
    { option: '0900', value: { partialIv: h('00'), kid: h('') } },
    { option: '19050544616c656b', value: { partialIv: h('05'), kidContext: h('44616c656b'), kid: h('') } },
    { option: '', value: {} },
    { option: '0107', value: { partialIv: h('07') } },
  ];
  for (const [i, ex] of examples.entries()) {
    it(`encodes and decodes compressed COSE object example ${i + 1} (option ${ex.option || 'empty'})`, () => {
      expect(encodeOscoreOption(ex.value).toString('hex')).toBe(ex.option);
      expect(decodeOscoreOption(h(ex.option))).toEqual(ex.value);
    });
  }
});

/** C.4-C.6 requests, each protected by the client and verified by the mirrored server context. */
function protectVector(v: (typeof vectors.requests)[number]): { binding: RequestBinding; wire: Buffer } {
  const ctx = contextAt(v.context, v.sequenceNumber);
  const r = protectRequest(ctx, decodeMessage(h(v.unprotected)), { kidContext: v.kidContext });
  if (!r.ok) throw new Error(r.reason);
  return { binding: r.binding, wire: encodeMessage(r.message) };
}

describe('RFC 8613 C.4-C.6: protected requests', () => {
  for (const v of vectors.requests) {
    it(`${v.name}: the client's OSCORE request is byte for byte the RFC's`, () => {
      const { binding, wire } = protectVector(v);
      expect(binding.piv.toString('hex')).toBe(v.partialIv);
      expect(binding.nonce.toString('hex')).toBe(v.nonce);
      expect(encStructure(aadArray(10, binding.kid, binding.piv)).toString('hex')).toBe(v.aad);
      expect(aadArray(10, binding.kid, binding.piv).toString('hex')).toBe(v.aadArray);
      expect(wire.toString('hex')).toBe(v.protected);
      const msg = decodeMessage(wire);
      expect(msg.options.find((o) => o.number === 9)?.value.toString('hex')).toBe(v.option);
      expect(msg.payload.toString('hex')).toBe(v.ciphertext);
    });

    it(`${v.name}: the server verifies the RFC's bytes back to the unprotected request`, () => {
      const client = derivation(v.context);
      const server = new SecurityContext({
        ...inputOf(client),
        senderId: h(client.recipientId),
        recipientId: h(client.senderId),
      });
      const r = verifyRequest(decodeMessage(h(v.protected)), (kid, kidContext) => {
        expect(kid.equals(server.recipientId)).toBe(true);
        expect(kidContext?.toString('hex')).toBe(v.kidContext ? client.idContext : undefined);
        return server;
      });
      if (!r.ok) throw new Error(r.reason);
      expect(encodeMessage(r.message).toString('hex')).toBe(v.unprotected);
      expect(r.binding.nonce.toString('hex')).toBe(v.nonce);
    });
  }
});

describe('RFC 8613 C.7-C.8: protected responses', () => {
  for (const v of vectors.responses) {
    const request = vectors.requests.find((r) => r.name === v.request)!;

    it(`${v.name}: the server's OSCORE response is byte for byte the RFC's`, () => {
      const server = contextAt(v.context, v.sequenceNumber);
      const verified = verifyRequest(decodeMessage(h(request.protected)), () => server);
      if (!verified.ok) throw new Error(verified.reason);
      const r = protectResponse(verified.binding, decodeMessage(h(v.unprotected)), {
        partialIv: v.partialIv,
      });
      if (!r.ok) throw new Error(r.reason);
      const wire = encodeMessage(r.message);
      expect(wire.toString('hex')).toBe(v.protected);
      expect(r.message.options.find((o) => o.number === 9)?.value.toString('hex')).toBe(v.option);
      expect(r.message.payload.toString('hex')).toBe(v.ciphertext);
    });

    it(`${v.name}: the client verifies the RFC's bytes back to the unprotected response`, () => {
      const { binding } = protectVector(request);
      const r = verifyResponse(binding, decodeMessage(h(v.protected)));
      if (!r.ok) throw new Error(r.reason);
      expect(encodeMessage(r.message).toString('hex')).toBe(v.unprotected);
      expect(r.partialIv?.toString('hex')).toBe(v.partialIv ? '00' : undefined);
    });
  }
});
