// RFC 8613 section 4.1.3.4.2 and 8.2.1: an OSCORE request fragmented with Outer Block1 is reassembled by
// libs/coap's Block1Assembler (bounded by MAX_UNFRAGMENTED_SIZE) and only then verified.
import { describe, expect, it } from 'vitest';
import {
  Block1Assembler,
  CoapCode,
  CoapType,
  createMessage,
  decodeBlock,
  decodeMessage,
  DEFAULT_BLOCKWISE_LIMITS,
  encodeMessage,
  getOption,
  getUintOption,
  OptionNumber as O,
} from '@lwm2m/coap';
import { fragmentOuter, protectRequest, SecurityContext, verifyRequest } from '@lwm2m/oscore';

const client = new SecurityContext({
  masterSecret: Buffer.alloc(16, 9),
  senderId: Buffer.from([1]),
  recipientId: Buffer.from([2]),
});
const server = client.mirrored();

function bigRequest(bytes: number) {
  const body = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) body[i] = i & 0xff;
  const r = protectRequest(
    client,
    createMessage({
      type: CoapType.CON,
      code: CoapCode.POST,
      options: [{ number: O.URI_PATH, value: Buffer.from('dp') }],
      payload: body,
    }),
  );
  if (!r.ok) throw new Error(r.reason);
  return { message: r.message, body };
}

function reassemble(fragments: ReturnType<typeof fragmentOuter>, maxUnfragmented: number) {
  const assembler = new Block1Assembler(DEFAULT_BLOCKWISE_LIMITS, 60_000);
  for (const f of fragments) {
    const wire = decodeMessage(encodeMessage(f));
    const block = decodeBlock(getOption(wire, O.BLOCK1)!);
    const r = assembler.add(
      'oscore',
      'peer',
      block,
      wire.payload,
      6,
      0,
      getUintOption(wire, O.SIZE1),
      maxUnfragmented,
    );
    if (r.kind === 'complete') return { ...wire, payload: r.body };
    if (r.kind !== 'continue') return r.kind;
  }
  return 'incomplete';
}

describe('Outer Block-wise OSCORE requests', () => {
  it('fragments, reassembles and then verifies a 3000-byte protected request', () => {
    const { message, body } = bigRequest(3000);
    const fragments = fragmentOuter(message, 2, 'request'); // 64-byte blocks
    expect(fragments.length).toBe(Math.ceil(message.payload.length / 64));
    expect(getUintOption(fragments[0], O.SIZE1)).toBe(message.payload.length);
    const whole = reassemble(fragments, 64 * 1024);
    if (typeof whole === 'string') throw new Error(whole);
    const v = verifyRequest(whole, (kid) => (kid.equals(server.recipientId) ? server : undefined));
    if (!v.ok) throw new Error(v.reason);
    expect(v.message.payload.equals(body)).toBe(true);
    // The Outer Block options are not handed up: only the Inner message's options are.
    expect(getOption(v.message, O.BLOCK1)).toBeUndefined();
  });

  it('discards a message larger than MAX_UNFRAGMENTED_SIZE before any decryption', () => {
    const { message } = bigRequest(5000);
    expect(reassemble(fragmentOuter(message, 4, 'request'), 4096)).toBe('too-large');
  });

  it('a block changed in transit makes the reassembled message fail verification', () => {
    const { message } = bigRequest(1000);
    const fragments = fragmentOuter(message, 3, 'request');
    const payload = Buffer.from(fragments[3].payload);
    payload[5] ^= 0x80;
    fragments[3] = { ...fragments[3], payload };
    const whole = reassemble(fragments, 64 * 1024);
    if (typeof whole === 'string') throw new Error(whole);
    expect(verifyRequest(whole, () => server)).toMatchObject({ ok: false, reason: 'decrypt' });
  });

  it('leaves a message that fits one block whole', () => {
    const { message } = bigRequest(10);
    expect(fragmentOuter(message, 6, 'response')).toEqual([message]);
  });
});
