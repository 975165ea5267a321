// Group OSCORE (draft-ietf-core-oscore-groupcomm): the draft's compressed COSE examples (section 4.3), the
// group context derivation, group mode with Ed25519 and P-256 countersignatures, pairwise mode, and key
// update from the Group Manager's configuration. The draft has no crypto test vectors: these are round
// trips between independently derived member contexts, and tampering, impersonation and replay tests.
import { describe, expect, it } from 'vitest';
import {
  CoapCode,
  type CoapMessage,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  getOption,
  OptionNumber as O,
} from '@lwm2m/coap';
import {
  AeadAlgorithms,
  decodeOscoreOption,
  encodeOscoreOption,
  type GroupManagerConfig,
  groupProtectRequest,
  groupProtectResponse,
  GroupSecurityContext,
  type GroupSelf,
  groupVerifyRequest,
  groupVerifyResponse,
  type SignatureAlgorithm,
  SignatureAlgorithms,
  verifyRequest,
} from '@lwm2m/oscore';

const h = (s: string): Buffer => Buffer.from(s, 'hex');
const wire = (m: CoapMessage): CoapMessage => decodeMessage(encodeMessage(m));

function member(alg: SignatureAlgorithm, id: string): GroupSelf {
  const privateKey = alg.randomPrivateKey();
  const publicKey = alg.publicKey(privateKey);
  // A stand-in credential: opaque bytes that carry the public key (a CCS in a real group).
  const credential = Buffer.concat([Buffer.from(`cred-${id}:`), Buffer.from(publicKey)]);
  return { senderId: h(id), privateKey, publicKey, credential };
}

function config(
  alg: SignatureAlgorithm,
  members: GroupSelf[],
  gid = 'feedca57f00d',
  secret = '0102030405060708090a0b0c0d0e0f10',
): GroupManagerConfig {
  return {
    gid,
    masterSecret: secret,
    masterSalt: '9e7ca92223786340',
    groupEncryptionAlg: AeadAlgorithms.AES_CCM_16_64_128.id,
    signatureAlg: alg.id,
    aeadAlg: AeadAlgorithms.AES_CCM_16_64_128.id,
    gmCredential: Buffer.from('group-manager-credential').toString('hex'),
    members: members.map((m) => ({
      senderId: m.senderId.toString('hex'),
      credential: m.credential.toString('hex'),
      publicKey: Buffer.from(m.publicKey).toString('hex'),
    })),
  };
}

function group(alg: SignatureAlgorithm) {
  const [a, b, c] = ['0a', '0b', '0c'].map((id) => member(alg, id));
  const cfg = config(alg, [a, b, c]);
  return {
    a,
    b,
    c,
    cfg,
    A: GroupSecurityContext.fromConfig(cfg, a),
    B: GroupSecurityContext.fromConfig(cfg, b),
    C: GroupSecurityContext.fromConfig(cfg, c),
  };
}

const req = (path: string) =>
  createMessage({
    type: CoapType.NON,
    code: CoapCode.GET,
    messageId: 7,
    token: h('77'),
    options: [{ number: O.URI_PATH, value: Buffer.from(path) }],
  });
const res = (text: string) =>
  createMessage({
    type: CoapType.NON,
    code: CoapCode.CONTENT,
    messageId: 8,
    token: h('77'),
    payload: Buffer.from(text),
  });
const lookup = (ctx: GroupSecurityContext) => (gid: Buffer) => (gid.equals(ctx.gid) ? ctx : undefined);

describe('Group OSCORE compressed COSE objects (section 4.3 examples)', () => {
  const cases = [
    [
      'group mode request',
      '390503446' + '16c25',
      { group: true, partialIv: h('05'), kidContext: h('44616c'), kid: h('25') },
    ],
    ['group mode response', '2852', { group: true, kid: h('52') }],
    [
      'pairwise mode request',
      '19050344616c25',
      { partialIv: h('05'), kidContext: h('44616c'), kid: h('25') },
    ],
    ['pairwise mode response', '', {}],
  ] as const;
  for (const [name, option, value] of cases) {
    it(`${name}: option 0x${option || '(empty)'} both ways`, () => {
      expect(encodeOscoreOption(value).toString('hex')).toBe(option);
      expect(decodeOscoreOption(h(option))).toEqual(value);
    });
  }

  it('a plain OSCORE endpoint refuses a message with the Group Flag as undecodable (4.02)', () => {
    const { A } = group(SignatureAlgorithms.EdDSA_Ed25519);
    const r = groupProtectRequest(A, req('x'));
    if (!r.ok) throw new Error(r.reason);
    expect(verifyRequest(wire(r.message), () => undefined)).toMatchObject({
      reason: 'decode',
      code: CoapCode.BAD_OPTION,
    });
  });
});

describe('Group OSCORE security context (section 2)', () => {
  it('members derive matching keys: my Sender Key is your Recipient Key for me, pairwise keys mirror', () => {
    const { a, b, A, B } = group(SignatureAlgorithms.EdDSA_Ed25519);
    expect(A.commonIv.equals(B.commonIv)).toBe(true);
    expect(A.commonIv.length).toBe(13);
    expect(A.signatureEncryptionKey!.length).toBe(16);
    expect(A.signatureEncryptionKey!.equals(B.signatureEncryptionKey!)).toBe(true);
    expect(B.recipient(a.senderId)!.recipientKey.equals(A.senderKey)).toBe(true);
    expect(
      A.recipient(b.senderId)!.pairwiseSenderKey!.equals(B.recipient(a.senderId)!.pairwiseRecipientKey!),
    ).toBe(true);
    expect(A.recipient(b.senderId)!.pairwiseSenderKey!.equals(A.senderKey)).toBe(false);
    expect(A.pairwiseAlgId).toBe(-27);
  });

  it('refuses a Sender ID longer than the nonce allows', () => {
    const alg = SignatureAlgorithms.EdDSA_Ed25519;
    const long = member(alg, '0102030405060708');
    expect(() => GroupSecurityContext.fromConfig(config(alg, [long]), member(alg, '01'))).toThrow(RangeError);
  });
});

for (const alg of [SignatureAlgorithms.EdDSA_Ed25519, SignatureAlgorithms.ES256]) {
  describe(`Group OSCORE group mode with ${alg.name}`, () => {
    it('a group request verifies at every member; each server answers and the client verifies both', () => {
      const { a, b, c, A, B, C } = group(alg);
      const r = groupProtectRequest(A, req('temp'));
      if (!r.ok) throw new Error(r.reason);
      const sent = wire(r.message);
      expect(getOption(sent, O.OSCORE)![0] & 0x20).toBe(0x20);
      // Payload: ciphertext (plaintext + 8-byte tag) then the 64-byte encrypted countersignature.
      expect(sent.payload.length).toBe(1 + 5 + 8 + 64);
      for (const [server, self] of [
        [B, b],
        [C, c],
      ] as const) {
        const v = groupVerifyRequest(sent, lookup(server));
        if (!v.ok) throw new Error(v.reason);
        expect(v.message.code).toBe(CoapCode.GET);
        expect(v.sender.senderId).toEqual(a.senderId);
        const answer = groupProtectResponse(v.binding, res(`from ${self.senderId.toString('hex')}`));
        if (!answer.ok) throw new Error(answer.reason);
        const got = groupVerifyResponse(r.binding, wire(answer.message));
        if (!got.ok) throw new Error(got.reason);
        expect(got.sender.senderId).toEqual(self.senderId);
        expect(got.message.payload.toString()).toBe(`from ${self.senderId.toString('hex')}`);
        // One response per server to a non-Observe request.
        expect(groupVerifyResponse(r.binding, wire(answer.message))).toMatchObject({
          ok: false,
          reason: 'replay',
        });
      }
      expect(groupVerifyRequest(sent, lookup(B))).toMatchObject({
        ok: false,
        reason: 'replay',
        code: CoapCode.UNAUTHORIZED,
      });
    });

    it('a member cannot impersonate another: the group keys are shared, the signature is not', () => {
      const { b, c, cfg, A } = group(alg);
      // C knows the Master Secret, so it derives B's Sender Key; it signs with its own private key.
      const forger = GroupSecurityContext.fromConfig(cfg, { ...b, privateKey: c.privateKey });
      const r = groupProtectRequest(forger, req('unlock'));
      if (!r.ok) throw new Error(r.reason);
      expect(groupVerifyRequest(wire(r.message), lookup(A))).toMatchObject({
        ok: false,
        reason: 'decrypt',
        code: CoapCode.BAD_REQUEST,
        diagnostic: 'Decryption failed',
      });
      expect(A.recipient(b.senderId)!.replay.state()!.top).toBe(-1);
    });

    it('any flipped bit of ciphertext or encrypted signature is refused, and the replay window does not move', () => {
      const { a, A, B } = group(alg);
      const r = groupProtectRequest(A, req('x'));
      if (!r.ok) throw new Error(r.reason);
      const sent = wire(r.message);
      for (let i = 0; i < sent.payload.length; i += 7) {
        const payload = Buffer.from(sent.payload);
        payload[i] ^= 0x04;
        expect(groupVerifyRequest({ ...sent, payload }, lookup(B))).toMatchObject({
          ok: false,
          reason: 'decrypt',
        });
      }
      expect(B.recipient(a.senderId)!.replay.state()!.top).toBe(-1);
      expect(groupVerifyRequest(sent, lookup(B)).ok).toBe(true);
    });

    it('replay: false verifies a request as often as it comes and leaves the window alone (a phantom request)', () => {
      const { a, A, B } = group(alg);
      const r = groupProtectRequest(A, req('x'));
      if (!r.ok) throw new Error(r.reason);
      const sent = wire(r.message);
      for (let i = 0; i < 3; i++)
        expect(groupVerifyRequest(sent, lookup(B), { replay: false }).ok).toBe(true);
      expect(B.recipient(a.senderId)!.replay.state()!.top).toBe(-1);
      const payload = Buffer.from(sent.payload);
      payload[0] ^= 1;
      expect(groupVerifyRequest({ ...sent, payload }, lookup(B), { replay: false })).toMatchObject({
        reason: 'decrypt',
      });
      // The ordinary check still applies afterwards: once, then a replay.
      expect(groupVerifyRequest(sent, lookup(B)).ok).toBe(true);
      expect(groupVerifyRequest(sent, lookup(B))).toMatchObject({ reason: 'replay' });
    });

    it('an unknown Gid or Sender ID is 4.01 "Security context not found"', () => {
      const { A, B } = group(alg);
      const r = groupProtectRequest(A, req('x'));
      if (!r.ok) throw new Error(r.reason);
      expect(groupVerifyRequest(wire(r.message), () => undefined)).toMatchObject({
        reason: 'context-not-found',
        code: CoapCode.UNAUTHORIZED,
      });
      const stranger = GroupSecurityContext.fromConfig(config(alg, [member(alg, '0b')]), member(alg, '0d'));
      const s = groupProtectRequest(stranger, req('x'));
      if (!s.ok) throw new Error(s.reason);
      expect(groupVerifyRequest(wire(s.message), lookup(B))).toMatchObject({ reason: 'context-not-found' });
    });

    it('notifications carry a Partial IV; the client orders them per server', () => {
      const { A, B } = group(alg);
      const r = groupProtectRequest(A, {
        ...req('obs'),
        options: [...req('obs').options, { number: O.OBSERVE, value: Buffer.alloc(0) }],
      });
      if (!r.ok) throw new Error(r.reason);
      expect(r.message.code).toBe(CoapCode.FETCH);
      const v = groupVerifyRequest(wire(r.message), lookup(B));
      if (!v.ok) throw new Error(v.reason);
      const note = (t: string) => {
        const n = groupProtectResponse(v.binding, {
          ...res(t),
          options: [{ number: O.OBSERVE, value: Buffer.from([3]) }],
        });
        if (!n.ok) throw new Error(n.reason);
        return wire(n.message);
      };
      const n1 = note('1');
      const n2 = note('2');
      expect(groupVerifyResponse(r.binding, n2).ok).toBe(true);
      expect(groupVerifyResponse(r.binding, n1)).toMatchObject({ ok: false, reason: 'replay' });
    });
  });
}

describe('Group OSCORE pairwise mode (section 8)', () => {
  it('a pairwise request is for one member only; its response needs no kid and no signature', () => {
    const { a, b, A, B, C } = group(SignatureAlgorithms.EdDSA_Ed25519);
    const r = groupProtectRequest(A, req('one'), { pairwiseTo: b.senderId });
    if (!r.ok) throw new Error(r.reason);
    const sent = wire(r.message);
    expect(getOption(sent, O.OSCORE)![0] & 0x20).toBe(0);
    expect(sent.payload.length).toBe(1 + 4 + 8);
    expect(groupVerifyRequest(sent, lookup(C))).toMatchObject({ ok: false, reason: 'decrypt' });
    const v = groupVerifyRequest(sent, lookup(B));
    if (!v.ok) throw new Error(v.reason);
    expect(v.sender.senderId).toEqual(a.senderId);
    const answer = groupProtectResponse(v.binding, res('only for a'));
    if (!answer.ok) throw new Error(answer.reason);
    expect(getOption(answer.message, O.OSCORE)!.length).toBe(0);
    const got = groupVerifyResponse(r.binding, wire(answer.message));
    if (!got.ok) throw new Error(got.reason);
    expect(got.message.payload.toString()).toBe('only for a');
  });

  it('works on P-256 keys too (ECDH of the signing keys)', () => {
    const { b, A, B } = group(SignatureAlgorithms.ES256);
    const r = groupProtectRequest(A, req('one'), { pairwiseTo: b.senderId });
    if (!r.ok) throw new Error(r.reason);
    expect(groupVerifyRequest(wire(r.message), lookup(B)).ok).toBe(true);
  });
});

describe('Group OSCORE key update by the Group Manager (section 11)', () => {
  it('a new configuration replaces the keys: old-context messages fail, new ones pass, a late response carries the new Gid', () => {
    const alg = SignatureAlgorithms.EdDSA_Ed25519;
    const { a, b, c, A, B } = group(alg);
    const pending = groupProtectRequest(A, req('long'));
    if (!pending.ok) throw new Error(pending.reason);
    const atB = groupVerifyRequest(wire(pending.message), lookup(B));
    if (!atB.ok) throw new Error(atB.reason);

    // The Group Manager rekeys: new Gid and Master Secret, C evicted.
    const next = config(alg, [a, b], 'feedca57f00e', 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
    const A2 = GroupSecurityContext.fromConfig(next, a);
    const B2 = GroupSecurityContext.fromConfig(next, b);
    expect(A2.recipient(c.senderId)).toBeUndefined();
    expect(A2.senderKey.equals(A.senderKey)).toBe(false);
    expect(A2.sequence.next).toBe(0);

    const old = groupProtectRequest(A, req('stale'));
    if (!old.ok) throw new Error(old.reason);
    expect(groupVerifyRequest(wire(old.message), lookup(B2))).toMatchObject({ reason: 'context-not-found' });
    const fresh = groupProtectRequest(A2, req('fresh'));
    if (!fresh.ok) throw new Error(fresh.reason);
    expect(groupVerifyRequest(wire(fresh.message), lookup(B2)).ok).toBe(true);

    // B answers the pending request under the new context: new Gid in 'kid context', a Partial IV.
    const late = groupProtectResponse(atB.binding, res('late'), { context: B2 });
    if (!late.ok) throw new Error(late.reason);
    const opt = decodeOscoreOption(getOption(late.message, O.OSCORE)!);
    expect(opt.kidContext).toEqual(B2.gid);
    expect(opt.partialIv).toBeDefined();
    const got = groupVerifyResponse(pending.binding, wire(late.message), { context: A2 });
    if (!got.ok) throw new Error(got.reason);
    expect(got.message.payload.toString()).toBe('late');
    // The evicted member cannot read or forge under the new keys.
    const evicted = groupProtectRequest(GroupSecurityContext.fromConfig(config(alg, [a, b, c]), c), req('x'));
    if (!evicted.ok) throw new Error(evicted.reason);
    expect(groupVerifyRequest(wire(evicted.message), lookup(A2))).toMatchObject({ ok: false });
  });
});
