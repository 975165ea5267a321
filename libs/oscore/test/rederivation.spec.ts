// RFC 8613 Appendix B.2: a client and a server that share only the preestablished inputs derive a new
// context with random ID Contexts (R1, R2, R3), and the server keeps no state for R2 (B.2.1).
import { describe, expect, it } from 'vitest';
import {
  CoapCode,
  type CoapMessage,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  OptionNumber as O,
} from '@lwm2m/coap';
import {
  B2Responder,
  b2Continue,
  b2Start,
  decodeOscoreOption,
  protectRequest,
  protectResponse,
  SecurityContext,
  verifyRequest,
  verifyResponse,
  type VerifyRequestResult,
} from '@lwm2m/oscore';

const wire = (m: CoapMessage): CoapMessage => decodeMessage(encodeMessage(m));
const base = (sender: string, recipient: string) =>
  new SecurityContext({
    masterSecret: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
    masterSalt: Buffer.from('9e7ca92223786340', 'hex'),
    senderId: Buffer.from(sender, 'hex'),
    recipientId: Buffer.from(recipient, 'hex'),
  });
const get = (path: string) =>
  createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    token: Buffer.from([7]),
    options: [{ number: O.URI_PATH, value: Buffer.from(path) }],
  });

function unwrap<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error(`failed: ${(r as unknown as { reason: string }).reason}`);
  return r as Extract<T, { ok: true }>;
}

/** The server's lookup: its installed contexts by ID Context, else B.2 with the base context of the kid. */
function serverSide(responder: B2Responder, serverBase: SecurityContext) {
  const installed = new Map<string, SecurityContext>();
  const receive = (msg: CoapMessage): { result: VerifyRequestResult; phase: string } => {
    let phase = 'installed';
    let third: SecurityContext | undefined;
    const result = verifyRequest(msg, (kid, kidContext) => {
      if (!kid.equals(serverBase.recipientId) || kidContext === undefined) return undefined;
      const known = installed.get(kidContext.toString('hex'));
      if (known) return known;
      third = responder.third('c1', serverBase, kidContext);
      if (third) {
        phase = 'request #2';
        return third;
      }
      phase = 'request #1';
      return responder.first(serverBase, kidContext);
    });
    if (result.ok && phase === 'request #2') {
      responder.complete('c1');
      installed.set(third!.idContext!.toString('hex'), third!);
    }
    return { result, phase };
  };
  return { receive, installed };
}

describe('Appendix B.2 context re-derivation', () => {
  it('runs R1 -> R2 -> R3 to a new context both sides use, with the server holding no R2', () => {
    const clientBase = base('c1', '5e');
    const serverBase = clientBase.mirrored();
    const responder = new B2Responder();
    const server = serverSide(responder, serverBase);

    // 1. Request #1 under ID1 = R1, kid context R1.
    const first = b2Start(clientBase);
    expect(first.idContext!.length).toBe(8);
    const req1 = unwrap(protectRequest(first, get('rekey'), { kidContext: true }));
    const got1 = server.receive(wire(req1.message));
    expect(got1.phase).toBe('request #1');
    const v1 = unwrap(got1.result);
    expect(v1.kidContext).toEqual(first.idContext);

    // 2. Response #1: a 4.01 under R2 || ID1, kid context R2, with the server's own Partial IV.
    const { r2, context: second } = responder.second('c1', serverBase, v1.kidContext!);
    const res1 = unwrap(
      protectResponse(
        { ...v1.binding, context: second },
        createMessage({ type: CoapType.ACK, code: CoapCode.UNAUTHORIZED, token: Buffer.from([7]) }),
        { partialIv: true, kidContext: r2 },
      ),
    );

    // 3. The client verifies it under R2 || ID1 and sends request #2 under ID3 = R2 || R3.
    const res1wire = wire(res1.message);
    const sentR2 = decodeOscoreOption(res1wire.options.find((o) => o.number === O.OSCORE)!.value).kidContext;
    const next = b2Continue(clientBase, first, sentR2);
    expect(next).toBeDefined();
    const r1verified = unwrap(verifyResponse(req1.binding, res1wire, { context: next!.second }));
    expect(r1verified.kidContext).toEqual(r2);
    expect(r1verified.message.code).toBe(CoapCode.UNAUTHORIZED);
    const req2 = unwrap(protectRequest(next!.third, get('temp'), { kidContext: true }));

    // Under ID1 alone (the first context) response #1 does not verify.
    expect(verifyResponse({ ...req1.binding, answered: false }, res1wire).ok).toBe(false);

    // 4. The server recognises its R2 (no cache), verifies, installs ID3.
    const got2 = server.receive(wire(req2.message));
    expect(got2.phase).toBe('request #2');
    const v2 = unwrap(got2.result);
    expect(server.installed.size).toBe(1);

    // 5. Response #2 under ID3; the client verifies it: both now share the new context.
    const res2 = unwrap(
      protectResponse(
        v2.binding,
        createMessage({ type: CoapType.ACK, code: CoapCode.CONTENT, payload: Buffer.from('21') }),
      ),
    );
    expect(unwrap(verifyResponse(req2.binding, wire(res2.message))).message.payload.toString()).toBe('21');

    // A replay of request #2 meets the installed context's replay window.
    expect(server.receive(wire(req2.message)).result).toMatchObject({ ok: false, reason: 'replay' });
  });

  it('refuses a forged R2, an R2 from a completed run, and an expired one', () => {
    let now = 0;
    const responder = new B2Responder({ lifetimeMs: 1000, now: () => now });
    const serverBase = base('5e', 'c1');
    const { r2 } = responder.second('c1', serverBase, Buffer.alloc(8, 1));
    const id3 = (r: Buffer) => Buffer.concat([r, Buffer.alloc(8, 3)]);
    expect(responder.third('c1', serverBase, id3(r2))).toBeDefined();
    const forged = Buffer.from(r2);
    forged[forged.length - 1] ^= 1;
    expect(responder.third('c1', serverBase, id3(forged))).toBeUndefined();
    expect(responder.third('other', serverBase, id3(r2))).toBeUndefined();
    expect(responder.third('c1', serverBase, r2)).toBeUndefined(); // no R3
    responder.complete('c1');
    expect(responder.third('c1', serverBase, id3(r2))).toBeUndefined();
    const again = responder.second('c1', serverBase, Buffer.alloc(8, 1)).r2;
    now = 1000;
    expect(responder.third('c1', serverBase, id3(again))).toBeUndefined();
  });

  it('each request #1 gets a fresh R2, so response #1 never reuses a key and nonce', () => {
    const responder = new B2Responder();
    const serverBase = base('5e', 'c1');
    const a = responder.second('c1', serverBase, Buffer.alloc(8, 1));
    const b = responder.second('c1', serverBase, Buffer.alloc(8, 1));
    expect(a.r2.equals(b.r2)).toBe(false);
    expect(a.context.senderKey.equals(b.context.senderKey)).toBe(false);
  });
});
