// Section 2.2.1: Encoding of Transport-Independent Message Information ('ph_req' and 'last_notif'):
// the Code byte, the serialized options, and 0xff + payload when the payload is not empty. It is a
// CoAP message without its first byte, Message ID and Token, so libs/coap's codec reads and writes it.
import { DecodeError } from '@lwm2m/bytes';
import { CoapType, decodeMessage, encodeMessage, type CoapMessage, type CoapOption } from '@lwm2m/coap';

/** The transport-independent part of a CoAP message. */
export interface MessageInfo {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

/** Section 2.2.1 serialization. */
export function encodeMessageInfo(m: MessageInfo): Buffer {
  const wire = encodeMessage({
    type: CoapType.NON,
    code: m.code,
    messageId: 0,
    token: Buffer.alloc(0),
    options: m.options,
    payload: m.payload,
  });
  // Drop Ver/T/TKL and the Message ID; keep the Code byte and everything after the (empty) token.
  return Buffer.concat([wire.subarray(1, 2), wire.subarray(4)]);
}

/** Parses a section 2.2.1 serialization. Throws only DecodeError (codec 'informative-response'). */
export function decodeMessageInfo(bytes: Uint8Array, what: string): MessageInfo {
  if (bytes.length < 1) {
    throw new DecodeError('truncated', `${what} has no Code byte`, 'informative-response');
  }
  if (bytes[0] === 0) {
    throw new DecodeError('bad-code', `${what} carries the Empty code 0.00`, 'informative-response');
  }
  const b = Buffer.from(bytes);
  const header = Buffer.from([0x50, b[0], 0, 0]); // Ver 1, NON, TKL 0
  let msg: CoapMessage;
  try {
    msg = decodeMessage(Buffer.concat([header, b.subarray(1)]));
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new DecodeError(err.reason, `${what}: ${err.message}`, 'informative-response');
  }
  return { code: msg.code, options: msg.options, payload: msg.payload };
}

/** Section 3.2 steps 2 and 4: a message rebuilt from its transport-independent part and the Token T. */
export function rebuildMessage(info: MessageInfo, token: Buffer, type: CoapType = CoapType.NON): CoapMessage {
  return { type, code: info.code, messageId: 0, token, options: info.options, payload: info.payload };
}
