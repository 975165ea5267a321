// RFC 8613 section 4.1 (which options are Inner, Class E, and which Outer, Class U) and section 5.3 (the
// plaintext: Code | Class E options | 0xFF payload). The options are encoded by libs/coap's message codec,
// so there is one CoAP option encoder.
import { DecodeError } from '@lwm2m/bytes';
import { decodeMessage, encodeMessage } from '@lwm2m/coap';
import { type CoapOption, CoapType } from '@lwm2m/coap';
import { OptionNumber } from '@lwm2m/coap';

const O = OptionNumber;

/**
 * Options that are only Outer (Class U): Figure 5, Hop-Limit (RFC 8768 section 3) and EDHOC (RFC 9668
 * section 3.1). Observe is both (section 4.1.3.5); every other option, unknown ones too, is Inner (4.1).
 */
const OUTER_ONLY: ReadonlySet<number> = new Set([
  O.URI_HOST,
  O.URI_PORT,
  O.OSCORE,
  O.HOP_LIMIT,
  O.EDHOC,
  O.PROXY_URI,
  O.PROXY_SCHEME,
]);

/** Whether option `n` travels only in the OSCORE message's options (Class U). */
export function isOuterOnly(n: number): boolean {
  return OUTER_ONLY.has(n);
}

export interface Plaintext {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

/** Section 5.3. */
export function encodePlaintext(p: Plaintext): Buffer {
  // A message with an empty header, whose 4 header bytes become the one Code byte.
  const wire = encodeMessage({
    type: CoapType.CON,
    code: p.code,
    messageId: 0,
    token: Buffer.alloc(0),
    options: p.options,
    payload: p.payload,
  });
  wire[3] = p.code;
  return wire.subarray(3);
}

/** Section 5.3; throws only DecodeError (the option and payload rules of RFC 7252 section 3). */
export function decodePlaintext(plain: Buffer): Plaintext {
  if (plain.length === 0) throw new DecodeError('empty-plaintext', 'plaintext without a Code', 'oscore');
  const code = plain[0];
  if (code === 0) throw new DecodeError('bad-inner-code', 'inner Code 0.00', 'oscore');
  const wire = Buffer.allocUnsafe(plain.length + 3);
  wire[0] = 0x40;
  wire[1] = code;
  wire[2] = 0;
  plain.copy(wire, 3);
  wire[3] = 0;
  const m = decodeMessage(wire);
  return { code, options: m.options, payload: m.payload };
}
