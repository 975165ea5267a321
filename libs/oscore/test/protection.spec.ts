// RFC 8613 sections 4, 7 and 8 between our own client and server contexts: option classes, outer codes,
// the typed failures of section 8.2 (decode 4.02, context not found 4.01, replay 4.01, decryption 4.00),
// response binding, Observe notifications (4.1.3.5, 7.4.1) and the Echo recovery of Appendix B.1.2.
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
  type ContextLookup,
  protectRequest,
  protectResponse,
  RecipientReplay,
  type RequestBinding,
  SecurityContext,
  SenderSequence,
  verifyRequest,
  verifyResponse,
} from '@lwm2m/oscore';

const secret = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
const salt = Buffer.from('9e7ca92223786340', 'hex');

function pair(): { client: SecurityContext; server: SecurityContext } {
  const client = new SecurityContext({
    masterSecret: secret,
    masterSalt: salt,
    senderId: Buffer.from('c1', 'hex'),
    recipientId: Buffer.from('5e', 'hex'),
  });
  return { client, server: client.mirrored() };
}

const lookupOf =
  (ctx: SecurityContext): ContextLookup =>
  (kid) =>
    kid.equals(ctx.recipientId) ? ctx : undefined;

function get(path: string, extra: Partial<CoapMessage> = {}): CoapMessage {
  return createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    messageId: 0x1234,
    token: Buffer.from('a1b2', 'hex'),
    options: [
      { number: O.URI_HOST, value: Buffer.from('device.example') },
      ...path.split('/').map((s) => ({ number: O.URI_PATH, value: Buffer.from(s) })),
    ],
    ...extra,
  });
}

/** Over the wire and back: what a peer really receives. */
const wire = (m: CoapMessage): CoapMessage => decodeMessage(encodeMessage(m));

function protect(ctx: SecurityContext, msg: CoapMessage): { message: CoapMessage; binding: RequestBinding } {
  const r = protectRequest(ctx, msg);
  if (!r.ok) throw new Error(r.reason);
  return { message: wire(r.message), binding: r.binding };
}

function reply(binding: RequestBinding, code: number, payload: string, extra: Partial<CoapMessage> = {}) {
  const r = protectResponse(
    binding,
    createMessage({
      type: CoapType.ACK,
      code,
      messageId: 0x1234,
      token: Buffer.from('a1b2', 'hex'),
      payload: Buffer.from(payload),
      ...extra,
    }),
  );
  if (!r.ok) throw new Error(r.reason);
  return wire(r.message);
}

describe('OSCORE request and response between mirrored contexts', () => {
  it('a request protected by our client is verified by our server, and the response back', () => {
    const { client, server } = pair();
    const req = get('3/0/1', {
      code: CoapCode.PUT,
      options: [
        { number: O.URI_HOST, value: Buffer.from('device.example') },
        { number: O.URI_PATH, value: Buffer.from('3') },
        { number: O.CONTENT_FORMAT, value: Buffer.from([0x2d, 0x16]) },
      ],
      payload: Buffer.from('{"v":1}'),
    });
    const { message, binding } = protect(client, req);
    // Section 4.2: Outer Code POST; section 4.1: Uri-Host stays Outer, Uri-Path and Content-Format go Inner.
    expect(message.code).toBe(CoapCode.POST);
    expect(message.options.map((o) => o.number)).toEqual([O.URI_HOST, O.OSCORE]);
    expect(message.payload.includes(Buffer.from('{"v":1}'))).toBe(false);

    const v = verifyRequest(message, lookupOf(server));
    if (!v.ok) throw new Error(v.reason);
    expect(encodeMessage(v.message)).toEqual(encodeMessage(req));

    const res = reply(v.binding, CoapCode.CONTENT, 'hello', {
      options: [{ number: O.CONTENT_FORMAT, value: Buffer.from([0]) }],
    });
    expect(res.code).toBe(CoapCode.CHANGED);
    expect(getOption(res, O.OSCORE)?.length).toBe(0);
    const back = verifyResponse(binding, res);
    if (!back.ok) throw new Error(back.reason);
    expect(back.message.code).toBe(CoapCode.CONTENT);
    expect(back.message.payload.toString()).toBe('hello');
    expect(getOption(back.message, O.CONTENT_FORMAT)).toEqual(Buffer.from([0]));
  });

  it('Class E options an intermediary adds outside are discarded (section 8.2 step 1)', () => {
    const { client, server } = pair();
    const { message } = protect(client, get('3/0'));
    message.options.push(
      { number: O.URI_PATH, value: Buffer.from('5') },
      { number: O.URI_QUERY, value: Buffer.from('x') },
    );
    const v = verifyRequest(message, lookupOf(server));
    if (!v.ok) throw new Error(v.reason);
    expect(v.message.options.filter((o) => o.number === O.URI_PATH).map((o) => o.value.toString())).toEqual([
      '3',
      '0',
    ]);
    expect(getOption(v.message, O.URI_QUERY)).toBeUndefined();
  });

  it('a replayed request is refused with 4.01 "Replay detected" (section 7.4), a new one passes', () => {
    const { client, server } = pair();
    const first = protect(client, get('3/0')).message;
    expect(verifyRequest(first, lookupOf(server)).ok).toBe(true);
    const again = verifyRequest(first, lookupOf(server));
    expect(again).toMatchObject({
      ok: false,
      reason: 'replay',
      code: CoapCode.UNAUTHORIZED,
      diagnostic: 'Replay detected',
    });
    expect(verifyRequest(protect(client, get('3/0')).message, lookupOf(server)).ok).toBe(true);
  });

  it('requests arriving out of order inside the window pass once each', () => {
    const { client, server } = pair();
    const msgs = Array.from({ length: 5 }, () => protect(client, get('1')).message);
    for (const i of [4, 0, 2, 1, 3]) expect(verifyRequest(msgs[i], lookupOf(server)).ok).toBe(true);
    for (const m of msgs) expect(verifyRequest(m, lookupOf(server))).toMatchObject({ reason: 'replay' });
  });

  it('a request under another Master Secret fails decryption with 4.00 and moves no replay state', () => {
    const { server } = pair();
    const stranger = new SecurityContext({
      masterSecret: Buffer.alloc(16, 7),
      masterSalt: salt,
      senderId: server.recipientId,
      recipientId: server.senderId,
    });
    const { message } = protect(stranger, get('3/0'));
    expect(verifyRequest(message, lookupOf(server))).toMatchObject({
      ok: false,
      reason: 'decrypt',
      code: CoapCode.BAD_REQUEST,
      diagnostic: 'Decryption failed',
    });
    expect(server.replay.state()?.top).toBe(-1);
  });

  it('a flipped bit anywhere in the ciphertext, or a changed Partial IV, fails decryption', () => {
    const { client, server } = pair();
    const { message } = protect(client, get('3/0/1'));
    for (let i = 0; i < message.payload.length; i++) {
      const payload = Buffer.from(message.payload);
      payload[i] ^= 0x01;
      expect(verifyRequest({ ...message, payload }, lookupOf(server))).toMatchObject({ reason: 'decrypt' });
    }
    const options = message.options.map((o) =>
      o.number === O.OSCORE
        ? { number: O.OSCORE, value: Buffer.from([0x09, 0x05, ...server.recipientId]) }
        : o,
    );
    expect(verifyRequest({ ...message, options }, lookupOf(server))).toMatchObject({ reason: 'decrypt' });
    // The genuine one still passes: failures did not touch the window.
    expect(verifyRequest(message, lookupOf(server)).ok).toBe(true);
  });

  it('an unknown kid is 4.01 "Security context not found"; a malformed option or no payload is 4.02', () => {
    const { client, server } = pair();
    const { message } = protect(client, get('3'));
    expect(verifyRequest(message, () => undefined)).toMatchObject({
      reason: 'context-not-found',
      code: CoapCode.UNAUTHORIZED,
      diagnostic: 'Security context not found',
    });
    const bad = (value: Buffer, payload = message.payload) => ({
      ...message,
      payload,
      options: message.options.map((o) => (o.number === O.OSCORE ? { number: O.OSCORE, value } : o)),
    });
    for (const [value, reason] of [
      [Buffer.from([0x49, 0x01, 0xc1]), 'reserved-flags'],
      [Buffer.from([0x29, 0x01, 0xc1]), 'group-flag'],
      [Buffer.from([0x0e, 0x01]), 'reserved-piv-length'],
      [Buffer.from([0x03, 0x01]), 'truncated'],
      [Buffer.from([0x01, 0x05]), 'missing-kid-or-piv'],
      [Buffer.from([0x08, 0xc1]), 'missing-kid-or-piv'],
    ] as const) {
      const r = verifyRequest(bad(value), lookupOf(server));
      expect(r).toMatchObject({
        ok: false,
        reason: 'decode',
        code: CoapCode.BAD_OPTION,
        diagnostic: 'Failed to decode COSE',
      });
      expect(!r.ok && r.error?.reason).toBe(reason);
    }
    const noPayload = verifyRequest(bad(getOption(message, O.OSCORE)!, Buffer.alloc(0)), lookupOf(server));
    expect(noPayload).toMatchObject({ reason: 'decode', code: CoapCode.BAD_OPTION });
  });

  it('refuses to protect a message that already has an OSCORE option (no nesting, 4.1.3.7)', () => {
    const { client } = pair();
    const { message } = protect(client, get('3'));
    expect(protectRequest(client, message)).toMatchObject({ ok: false, reason: 'nested-oscore' });
  });

  it('a response is bound to its request: one made for another request does not verify', () => {
    const { client, server } = pair();
    const a = protect(client, get('a'));
    const b = protect(client, get('b'));
    const va = verifyRequest(a.message, lookupOf(server));
    const vb = verifyRequest(b.message, lookupOf(server));
    if (!va.ok || !vb.ok) throw new Error('requests did not verify');
    const resA = reply(va.binding, CoapCode.CONTENT, 'for a');
    expect(verifyResponse(b.binding, resA)).toMatchObject({ ok: false, reason: 'decrypt' });
    expect(verifyResponse(a.binding, resA).ok).toBe(true);
  });

  it('only one response to a non-Observe request is accepted (section 7.4)', () => {
    const { client, server } = pair();
    const a = protect(client, get('a'));
    const va = verifyRequest(a.message, lookupOf(server));
    if (!va.ok) throw new Error(va.reason);
    const res = reply(va.binding, CoapCode.CONTENT, 'once');
    expect(verifyResponse(a.binding, res).ok).toBe(true);
    expect(verifyResponse(a.binding, res)).toMatchObject({ ok: false, reason: 'replay' });
  });

  it("a server's second response to one request takes a Partial IV: the request's nonce is used once (D.4)", () => {
    const { client, server } = pair();
    const a = protect(client, get('a'));
    const va = verifyRequest(a.message, lookupOf(server));
    if (!va.ok) throw new Error(va.reason);
    const first = reply(va.binding, CoapCode.CONTENT, 'one');
    const second = reply(va.binding, CoapCode.CONTENT, 'two');
    expect(getOption(first, O.OSCORE)!.length).toBe(0);
    expect(getOption(second, O.OSCORE)).toEqual(Buffer.from([0x01, 0x00]));
  });

  it('splits a Proxy-Uri: Uri-Path and Uri-Query Inner, scheme and authority Outer (4.1.3.3)', () => {
    const { client, server } = pair();
    const req = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      options: [{ number: O.PROXY_URI, value: Buffer.from('coap://example.com/resource?q=1') }],
    });
    const { message } = protect(client, req);
    expect(getOption(message, O.PROXY_URI)?.toString()).toBe('coap://example.com');
    expect(getOption(message, O.URI_PATH)).toBeUndefined();
    const v = verifyRequest(message, lookupOf(server));
    if (!v.ok) throw new Error(v.reason);
    expect(getOption(v.message, O.URI_PATH)?.toString()).toBe('resource');
    expect(getOption(v.message, O.URI_QUERY)?.toString()).toBe('q=1');
  });
});

describe('OSCORE Observe (sections 4.1.3.5 and 7.4.1)', () => {
  function register() {
    const { client, server } = pair();
    const req = get('3303/0/5700', {
      options: [...get('3303/0/5700').options, { number: O.OBSERVE, value: Buffer.alloc(0) }],
    });
    const { message, binding } = protect(client, req);
    const v = verifyRequest(message, lookupOf(server));
    if (!v.ok) throw new Error(v.reason);
    return { message, binding, server: v.binding, verified: v.message };
  }
  const notify = (b: RequestBinding, value: number, text: string) =>
    reply(b, CoapCode.CONTENT, text, {
      type: CoapType.NON,
      options: [{ number: O.OBSERVE, value: Buffer.from([value]) }],
    });

  it('a registration goes out as FETCH with Inner and Outer Observe; notifications as 2.05 with a Partial IV', () => {
    const { message, verified, server } = register();
    expect(message.code).toBe(CoapCode.FETCH);
    expect(getOption(message, O.OBSERVE)).toEqual(Buffer.alloc(0));
    expect(getOption(verified, O.OBSERVE)).toEqual(Buffer.alloc(0));
    const n = notify(server, 7, '22.5');
    expect(n.code).toBe(CoapCode.CONTENT);
    expect(getOption(n, O.OBSERVE)).toEqual(Buffer.from([7]));
    expect(getOption(n, O.OSCORE)![0] & 0x07).toBeGreaterThan(0);
  });

  it('the client takes newer notifications, refuses replayed or older ones, and orders by Partial IV', () => {
    const { binding, server } = register();
    const n1 = notify(server, 7, 'a');
    const n2 = notify(server, 8, 'b');
    const n3 = notify(server, 9, 'c');
    const r2 = verifyResponse(binding, n2);
    if (!r2.ok) throw new Error(r2.reason);
    expect(r2.message.payload.toString()).toBe('b');
    // The Observe value handed up is the Partial IV's low bytes, not the unprotected Outer value.
    expect(getOption(r2.message, O.OBSERVE)).toEqual(r2.partialIv);
    expect(verifyResponse(binding, n1)).toMatchObject({ ok: false, reason: 'replay' });
    expect(verifyResponse(binding, n2)).toMatchObject({ ok: false, reason: 'replay' });
    expect(verifyResponse(binding, n3).ok).toBe(true);
    expect(binding.notificationNumber).toBeGreaterThan(0);
  });

  it('a first notification without Partial IV is accepted once and only as the oldest', () => {
    const { binding, server } = register();
    const r = protectResponse(
      server,
      createMessage({
        type: CoapType.ACK,
        code: CoapCode.CONTENT,
        token: Buffer.from('a1b2', 'hex'),
        options: [{ number: O.OBSERVE, value: Buffer.from([1]) }],
        payload: Buffer.from('first'),
      }),
      { partialIv: false },
    );
    if (!r.ok) throw new Error(r.reason);
    const first = wire(r.message);
    expect(getOption(first, O.OSCORE)!.length).toBe(0);
    const v = verifyResponse(binding, first);
    if (!v.ok) throw new Error(v.reason);
    expect(getOption(v.message, O.OBSERVE)).toEqual(Buffer.alloc(0));
    expect(verifyResponse(binding, first)).toMatchObject({ ok: false, reason: 'replay' });
    // The server cannot use the request's nonce twice: the next notification has a Partial IV.
    const next = notify(server, 2, 'next');
    expect(getOption(next, O.OSCORE)!.length).toBeGreaterThan(0);
    expect(verifyResponse(binding, next).ok).toBe(true);
  });

  it('a notification without Partial IV after one with a Partial IV is refused as older', () => {
    const { binding, server } = register();
    const withPiv = notify(server, 2, 'piv');
    const noPiv = protectResponse(
      server,
      createMessage({
        type: CoapType.NON,
        code: CoapCode.CONTENT,
        options: [{ number: O.OBSERVE, value: Buffer.from([1]) }],
        payload: Buffer.from('late'),
      }),
      { partialIv: false },
    );
    if (!noPiv.ok) throw new Error(noPiv.reason);
    expect(verifyResponse(binding, withPiv).ok).toBe(true);
    expect(verifyResponse(binding, wire(noPiv.message))).toMatchObject({ ok: false, reason: 'replay' });
  });

  it('an Inner Observe in the response to a non-Observe request is refused', () => {
    const { client, server } = pair();
    const { message, binding } = protect(client, get('1'));
    const v = verifyRequest(message, lookupOf(server));
    if (!v.ok) throw new Error(v.reason);
    v.binding.observe = true; // a server that (wrongly) sends a notification
    const n = notify(v.binding, 3, 'x');
    expect(verifyResponse(binding, n)).toMatchObject({ ok: false, reason: 'unexpected-observe' });
  });
});

describe('Echo recovery of a lost replay window (Appendix B.1.2)', () => {
  it('after a restart the first request gets a protected 4.01 with Echo; the request returning it sets the window', () => {
    const { client } = pair();
    // The server restarted: same keys, a sequence past anything used before, no replay window.
    const server = client.mirrored({ replay: RecipientReplay.unknown(), sequence: new SenderSequence(5000) });
    const old = protect(client, get('1'));
    const r1 = protect(client, get('2'));
    const first = verifyRequest(r1.message, lookupOf(server));
    expect(first).toMatchObject({ ok: false, reason: 'echo-required' });
    const challenge = !first.ok && first.challenge ? wire(first.challenge) : undefined;
    expect(challenge).toBeDefined();
    // Section B.1.2: protected, with the server's own Partial IV.
    expect(getOption(challenge!, O.OSCORE)).toEqual(Buffer.from([0x02, 0x13, 0x88]));
    const c = verifyResponse(r1.binding, challenge!);
    if (!c.ok) throw new Error(c.reason);
    expect(c.message.code).toBe(CoapCode.UNAUTHORIZED);
    const echo = getOption(c.message, O.ECHO)!;
    expect(echo.length).toBe(8);

    const retry = protect(
      client,
      get('2', { options: [...get('2').options, { number: O.ECHO, value: echo }] }),
    );
    const ok = verifyRequest(retry.message, lookupOf(server));
    expect(ok.ok).toBe(true);
    // Older requests (sent before the Echo exchange) are no longer fresh; nor is the Echo reusable.
    expect(verifyRequest(old.message, lookupOf(server))).toMatchObject({ reason: 'replay' });
    expect(verifyRequest(r1.message, lookupOf(server))).toMatchObject({ reason: 'replay' });
    expect(verifyRequest(protect(client, get('3')).message, lookupOf(server)).ok).toBe(true);
  });

  it('a request carrying a wrong Echo gets a new challenge, not acceptance', () => {
    const { client } = pair();
    const server = client.mirrored({ replay: RecipientReplay.unknown() });
    expect(verifyRequest(protect(client, get('1')).message, lookupOf(server))).toMatchObject({
      reason: 'echo-required',
    });
    const forged = protect(
      client,
      get('1', { options: [...get('1').options, { number: O.ECHO, value: Buffer.alloc(8) }] }),
    );
    expect(verifyRequest(forged.message, lookupOf(server))).toMatchObject({ reason: 'echo-required' });
    expect(server.replay.needsEcho).toBe(true);
  });
});
