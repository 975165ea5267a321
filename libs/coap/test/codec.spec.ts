import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generate, parse } from 'coap-packet';
import { DecodeError } from '@lwm2m/bytes';
import { fuzzDecoder } from '../../../test/support/fuzz';
import {
  type CoapMessage,
  type CoapOption,
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  encodeUint,
  formatCode,
  OptionNumber,
  peekHeader,
} from '../src';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const uriPath = (s: string): CoapOption => ({ number: OptionNumber.URI_PATH, value: Buffer.from(s) });
const temperature = Buffer.from('temperature').toString('hex');
const payload223 = Buffer.from('22.3 C').toString('hex');

function expectDecodeError(buf: Buffer, reason: string): void {
  let caught: unknown;
  try {
    decodeMessage(buf);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  expect((caught as DecodeError).reason).toBe(reason);
  expect((caught as DecodeError).codec).toBe('coap');
}

/** Vectors from RFC 7252 Appendix A (Figures 16-23): message, then its exact bytes. */
const appendixA: [string, CoapMessage, string][] = [
  [
    'Figure 16 request: CON GET MID 0x7d34, Uri-Path "temperature", empty token (16 bytes)',
    createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 0x7d34,
      options: [uriPath('temperature')],
    }),
    `40 01 7d34 bb ${temperature}`,
  ],
  [
    'Figure 16 response: ACK 2.05 MID 0x7d34, payload "22.3 C" (11 bytes)',
    createMessage({
      type: CoapType.ACK,
      code: CoapCode.CONTENT,
      messageId: 0x7d34,
      payload: Buffer.from('22.3 C'),
    }),
    `60 45 7d34 ff ${payload223}`,
  ],
  [
    'Figure 17 request: token 0x20 (17 bytes)',
    createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 0x7d35,
      token: hex('20'),
      options: [uriPath('temperature')],
    }),
    `41 01 7d35 20 bb ${temperature}`,
  ],
  [
    'Figure 17 response: token 0x20 (12 bytes)',
    createMessage({
      type: CoapType.ACK,
      code: CoapCode.CONTENT,
      messageId: 0x7d35,
      token: hex('20'),
      payload: Buffer.from('22.3 C'),
    }),
    `61 45 7d35 20 ff ${payload223}`,
  ],
  [
    'Figure 20 empty ACK: T=ACK, Code=0.00, MID=0x7d38',
    createMessage({ type: CoapType.ACK, code: CoapCode.EMPTY, messageId: 0x7d38 }),
    '60 00 7d38',
  ],
  [
    'Figure 20 separate response: CON 2.05 MID 0xad7b token 0x53',
    createMessage({
      type: CoapType.CON,
      code: CoapCode.CONTENT,
      messageId: 0xad7b,
      token: hex('53'),
      payload: Buffer.from('22.3 C'),
    }),
    `41 45 ad7b 53 ff ${payload223}`,
  ],
  [
    'Figure 21 reset: T=RST, Code=0.00, MID=0xad7c',
    createMessage({ type: CoapType.RST, code: CoapCode.EMPTY, messageId: 0xad7c }),
    '70 00 ad7c',
  ],
  [
    'Figure 22 request: NON GET MID 0x7d40 token 0x75',
    createMessage({
      type: CoapType.NON,
      code: CoapCode.GET,
      messageId: 0x7d40,
      token: hex('75'),
      options: [uriPath('temperature')],
    }),
    `51 01 7d40 75 bb ${temperature}`,
  ],
  [
    'Figure 23 response from C: NON 4.04 MID 0x952a token 0x86, no payload',
    createMessage({ type: CoapType.NON, code: CoapCode.NOT_FOUND, messageId: 0x952a, token: hex('86') }),
    '51 84 952a 86',
  ],
];

describe('RFC 7252 Appendix A examples', () => {
  it.each(appendixA)('%s encodes to the exact bytes and decodes back', (_name, msg, bytes) => {
    const wire = encodeMessage(msg);
    expect(wire.toString('hex')).toBe(hex(bytes).toString('hex'));
    expect(decodeMessage(wire)).toEqual(msg);
  });

  it('gives the sizes the text states (16, 11, 17 and 12 bytes)', () => {
    expect(appendixA.slice(0, 4).map(([, m]) => encodeMessage(m).length)).toEqual([16, 11, 17, 12]);
  });
});

describe('RFC 7641 Observe values at the codec level', () => {
  // RFC 7641 section 1.2 Figure 2: registration with Observe 0, notifications 12, 44, 60.
  it('encodes the registration Observe: 0 as an empty option value', () => {
    const msg = createMessage({
      type: CoapType.CON,
      code: CoapCode.GET,
      messageId: 1,
      token: hex('4a'),
      options: [{ number: OptionNumber.OBSERVE, value: encodeUint(0) }, uriPath('temperature')],
    });
    expect(encodeMessage(msg).toString('hex')).toBe(`41010001 4a 60 5b ${temperature}`.replace(/ /g, ''));
  });

  it.each([
    [12, '610c'],
    [44, '612c'],
    [60, '613c'],
    [0xffffff, '63ffffff'],
  ])('encodes a notification with Observe: %d as a minimal uint', (n, optionHex) => {
    const msg = createMessage({
      type: CoapType.NON,
      code: CoapCode.CONTENT,
      messageId: 2,
      token: hex('4a'),
      options: [{ number: OptionNumber.OBSERVE, value: encodeUint(n) }],
    });
    const wire = encodeMessage(msg);
    expect(wire.subarray(5).toString('hex')).toBe(optionHex);
    expect(decodeMessage(wire)).toEqual(msg);
  });
});

describe('option delta and length encoding (RFC 7252 section 3.1)', () => {
  const one = (number: number, len: number): Buffer =>
    encodeMessage(
      createMessage({ type: CoapType.CON, code: 1, options: [{ number, value: Buffer.alloc(len, 0x61) }] }),
    ).subarray(4);

  it.each([
    [12, 'c0'],
    [13, 'd000'],
    [268, 'd0ff'],
    [269, 'e00000'],
    [65535, 'e0fef2'],
  ])('writes option number %d with the right delta form', (number, head) => {
    expect(one(number, 0).toString('hex')).toBe(head);
  });

  it.each([
    [12, '0c'],
    [13, '0d00'],
    [268, '0dff'],
    [269, '0e0000'],
    [65804, '0effff'],
  ])('writes a value of %d bytes with the right length form', (len, head) => {
    const wire = one(0, len);
    expect(wire.subarray(0, head.length / 2).toString('hex')).toBe(head);
    expect(wire.length).toBe(head.length / 2 + len);
  });

  it.each([12, 13, 268, 269, 65804])('decodes a value of %d bytes back', (len) => {
    const msg = createMessage({
      type: CoapType.CON,
      code: 1,
      options: [{ number: 2000, value: Buffer.alloc(len, 7) }],
      payload: Buffer.from('x'),
    });
    expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
  });

  it('matches known single-option encodings (Uri-Port 1234, No-Response 26, Request-Tag, Echo)', () => {
    expect(one(OptionNumber.URI_PORT, 0).toString('hex')).toBe('70');
    const opt = (number: number, value: Buffer): string =>
      encodeMessage(createMessage({ type: CoapType.CON, code: 1, options: [{ number, value }] }))
        .subarray(4)
        .toString('hex');
    expect(opt(OptionNumber.URI_PORT, encodeUint(1234))).toBe('7204d2');
    expect(opt(OptionNumber.NO_RESPONSE, encodeUint(26))).toBe('d1f51a');
    expect(opt(OptionNumber.REQUEST_TAG, hex('010203'))).toBe('e30017010203');
    expect(opt(OptionNumber.EDHOC, Buffer.alloc(0))).toBe('d008');
    expect(opt(OptionNumber.SIZE1, encodeUint(255))).toBe('d12fff');
  });
});

describe('encodeMessage', () => {
  it('sorts options stably by number, keeping repeated options in order', () => {
    const msg = createMessage({
      type: CoapType.CON,
      code: CoapCode.POST,
      options: [uriPath('rd'), { number: OptionNumber.URI_QUERY, value: Buffer.from('ep=a') }, uriPath('x')],
    });
    msg.options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(40) });
    const back = decodeMessage(encodeMessage(msg));
    expect(back.options.map((o) => [o.number, o.value.toString()])).toEqual([
      [11, 'rd'],
      [11, 'x'],
      [12, '('],
      [15, 'ep=a'],
    ]);
    // the caller's array is left as it was
    expect(msg.options[0].number).toBe(11);
    expect(msg.options[1].number).toBe(15);
  });

  it('writes no payload marker for an empty payload', () => {
    const wire = encodeMessage(createMessage({ type: CoapType.ACK, code: CoapCode.CHANGED, messageId: 9 }));
    expect(wire.toString('hex')).toBe('60440009');
  });

  it.each<[string, Partial<CoapMessage>, new (...a: never[]) => Error]>([
    ['a 9-byte token', { token: Buffer.alloc(9) }, RangeError],
    ['a Message ID above 65535', { messageId: 65536 }, RangeError],
    ['a negative Message ID', { messageId: -1 }, RangeError],
    ['a code above 255', { code: 256 }, RangeError],
    ['a type of 4', { type: 4 as CoapType }, RangeError],
    ['an option value of 65805 bytes', { options: [{ number: 1, value: Buffer.alloc(65805) }] }, RangeError],
    ['an option number above 65535', { options: [{ number: 65536, value: Buffer.alloc(0) }] }, RangeError],
    ['a token that is not a Buffer', { token: 'ab' as unknown as Buffer }, TypeError],
    ['an Empty message with a token', { code: 0, token: Buffer.from([1]) }, RangeError],
    ['an Empty message with a payload', { code: 0, payload: Buffer.from([1]) }, RangeError],
  ])('refuses %s', (_name, fields, err) => {
    expect(() => encodeMessage(createMessage({ type: CoapType.CON, code: 1, ...fields }))).toThrow(err);
  });
});

describe('decodeMessage', () => {
  it('returns views of the input for token, option values and payload (no copies)', () => {
    const wire = hex(`41 45 ad7b 53 b3 616263 ff ${payload223}`);
    const msg = decodeMessage(wire);
    expect(msg.token.buffer).toBe(wire.buffer);
    expect(msg.options[0].value.buffer).toBe(wire.buffer);
    expect(msg.payload.buffer).toBe(wire.buffer);
  });

  it('keeps unknown options (the message layer decides what is critical)', () => {
    const msg = decodeMessage(hex('4001 0001 e4 fc e2 24232221'));
    expect(msg.options).toEqual([{ number: 65007, value: hex('24232221') }]);
  });

  it.each([
    ['an empty datagram', '', 'truncated'],
    ['a 3-byte header', '400100', 'truncated'],
    ['version 0', '000100 01', 'bad-version'],
    ['version 2', '800100 01', 'bad-version'],
    ['token length 9', '49010001 000000000000000000', 'bad-token-length'],
    ['token length 15', '4f010001', 'bad-token-length'],
    ['a token longer than the datagram', '44010001 0102', 'truncated'],
    ['an Empty message with a token', '61000001 01', 'bad-empty-message'],
    ['an Empty message with a payload marker', '60000001 ff01', 'bad-empty-message'],
    ['an Empty message with an option', '60000001 b0', 'bad-empty-message'],
    ['a payload marker with no payload', '40010001 ff', 'empty-payload'],
    ['option delta nibble 15', '40010001 f1 00', 'bad-option-delta'],
    ['option length nibble 15', '40010001 1f 00', 'bad-option-length'],
    ['a 1-byte extended delta missing', '40010001 d0', 'truncated'],
    ['a 2-byte extended delta cut short', '40010001 e0 01', 'truncated'],
    ['a 2-byte extended length missing', '40010001 0e', 'truncated'],
    ['an option value longer than the datagram', '40010001 b5 6162', 'truncated'],
    ['an option number above 65535', '40010001 e0 fef2 e0 0000', 'bad-option-number'],
  ])('rejects %s', (_name, bytes, reason) => {
    expectDecodeError(hex(bytes), reason);
  });

  it('accepts an option value of the largest length 65804 and number 65535', () => {
    const wire = Buffer.concat([hex('40010001 ee fef2 ffff'), Buffer.alloc(65804, 1)]);
    const msg = decodeMessage(wire);
    expect(msg.options[0].number).toBe(65535);
    expect(msg.options[0].value.length).toBe(65804);
  });
});

describe('peekHeader', () => {
  it('reads type, code, Message ID and TKL even when the rest is malformed', () => {
    expect(peekHeader(hex('4f01 7d34 ff'))).toEqual({
      type: CoapType.CON,
      code: 1,
      messageId: 0x7d34,
      tokenLength: 15,
    });
  });

  it('returns undefined for less than 4 bytes or a version other than 1', () => {
    expect(peekHeader(hex('400100'))).toBeUndefined();
    expect(peekHeader(hex('80010001'))).toBeUndefined();
  });
});

/** Arbitrary well-formed messages: options sorted by number as the decoder returns them. */
const arbMessage: fc.Arbitrary<CoapMessage> = fc
  .record({
    type: fc.constantFrom(CoapType.CON, CoapType.NON, CoapType.ACK, CoapType.RST),
    code: fc.integer({ min: 1, max: 255 }),
    messageId: fc.integer({ min: 0, max: 0xffff }),
    token: fc.uint8Array({ minLength: 0, maxLength: 8 }).map((a) => Buffer.from(a)),
    options: fc.array(
      fc.record({
        number: fc.oneof(
          fc.integer({ min: 0, max: 300 }),
          fc.constantFrom(12, 13, 268, 269, 65535),
          fc.integer({ min: 0, max: 0xffff }),
        ),
        value: fc.oneof(
          { weight: 5, arbitrary: fc.uint8Array({ maxLength: 20 }) },
          { weight: 1, arbitrary: fc.uint8Array({ minLength: 260, maxLength: 300 }) },
        ),
      }),
      { maxLength: 12 },
    ),
    payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  })
  .map((m) => ({
    ...m,
    options: m.options
      .map((o) => ({ number: o.number, value: Buffer.from(o.value) }))
      .sort((a, b) => a.number - b.number),
  }));

describe('round trip (fast-check)', () => {
  it('decodeMessage(encodeMessage(m)) equals m for arbitrary messages', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('encodeMessage(decodeMessage(b)) gives back b for every accepted input', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const wire = encodeMessage(m);
        expect(encodeMessage(decodeMessage(wire))).toEqual(wire);
      }),
      { numRuns: 1000 },
    );
  });

  it('the Empty message round-trips for every type and Message ID', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }), (type, messageId) => {
        const m = createMessage({ type, code: 0, messageId });
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
    );
  });
});

// Seeds: RFC 7252 Appendix A bytes, an LwM2M registration and generated messages.
const register = createMessage({
  type: CoapType.CON,
  code: CoapCode.POST,
  messageId: 0x1234,
  token: hex('0102030405060708'),
  options: [
    { number: 11, value: Buffer.from('rd') },
    { number: 12, value: encodeUint(40) },
    { number: 15, value: Buffer.from('ep=urn:imei:123456789012345') },
    { number: 15, value: Buffer.from('lt=300') },
    { number: 23, value: encodeBlock({ num: 1, more: true, szx: 6 }) },
    { number: 292, value: hex('01') },
  ],
  payload: Buffer.from('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1,</3303/0>'),
});
const seeds = [
  hex('40017d34bb74656d7065726174757265'),
  hex('61457d3520ff32322e332043'),
  hex('60007d38'),
  encodeMessage(register),
  hex('40010001 ee fef2 0001 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
  ...fc.sample(arbMessage, { numRuns: 20, seed: 7 }).map(encodeMessage),
];

describe('decodeMessage under fuzzing', () => {
  it('throws only DecodeError, never hangs and allocates little over 100k mutated datagrams', () => {
    const report = fuzzDecoder({ name: 'coap decodeMessage', decode: decodeMessage, seeds, seed: 0xc0a9 });
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.rejected).toBeGreaterThan(1000);
    for (const r of [
      'truncated',
      'bad-version',
      'bad-token-length',
      'bad-option-delta',
      'bad-option-length',
    ]) {
      expect(report.reasons).toContain(r);
    }
  });
});

describe('interop with coap-packet (node-coap), a codec nobody here wrote', () => {
  const typeOf = (m: CoapMessage) => ({
    confirmable: m.type === CoapType.CON,
    ack: m.type === CoapType.ACK,
    reset: m.type === CoapType.RST,
  });

  it('coap-packet parses what encodeMessage writes', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const p = parse(encodeMessage(m));
        expect(p.messageId).toBe(m.messageId);
        expect(p.code).toBe(formatCode(m.code));
        expect({ confirmable: p.confirmable, ack: p.ack, reset: p.reset }).toEqual(typeOf(m));
        expect(Buffer.compare(p.token, m.token)).toBe(0);
        expect(Buffer.compare(p.payload, m.payload)).toBe(0);
        expect(p.options.map((o) => Buffer.from(o.value).toString('hex'))).toEqual(
          m.options.map((o) => o.value.toString('hex')),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('decodeMessage reads what coap-packet generates, byte for byte the same as ours', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const wire = generate(
          {
            ...typeOf(m),
            code: formatCode(m.code),
            messageId: m.messageId,
            token: m.token,
            payload: m.payload,
            options: m.options.map((o) => ({ name: o.number, value: o.value })),
          },
          70_000,
        );
        expect(decodeMessage(wire)).toEqual(m);
        expect(wire.toString('hex')).toBe(encodeMessage(m).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });
});
