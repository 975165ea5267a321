// RFC 6347 section 4.2.2: the DTLS handshake message header (msg_type, length, message_seq,
// fragment_offset, fragment_length) and fragmentation of a message over several records.
import { ByteReader } from '@lwm2m/bytes';
import { HANDSHAKE_HEADER_LENGTH } from '../constants';

export interface HandshakeFragment {
  msgType: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  /** A view of this fragment's bytes. */
  body: Buffer;
}

/** Largest handshake message accepted (a certificate chain fits; RFC 7925 keeps IoT ones far smaller). */
export const MAX_HANDSHAKE_MESSAGE = 32 * 1024;

/** The handshake fragments in one handshake record (several may share a record). Throws DecodeError only. */
export function decodeHandshakeFragments(data: Buffer): HandshakeFragment[] {
  const r = new ByteReader(data, 'dtls-handshake');
  const out: HandshakeFragment[] = [];
  while (!r.done) {
    const msgType = r.u8('msg_type');
    const length = r.u24('length');
    const messageSeq = r.u16('message_seq');
    const fragmentOffset = r.u24('fragment_offset');
    const fragmentLength = r.u24('fragment_length');
    if (length > MAX_HANDSHAKE_MESSAGE) r.fail('handshake-too-long', `handshake message of ${length} bytes`);
    if (fragmentOffset + fragmentLength > length)
      r.fail('bad-fragment', `fragment ${fragmentOffset}+${fragmentLength} beyond length ${length}`);
    const body = r.bytes(fragmentLength, 'fragment');
    out.push({ msgType, length, messageSeq, fragmentOffset, body });
  }
  return out;
}

/** A whole handshake message as one fragment: exactly the form that enters the handshake hash. */
export function encodeHandshake(msgType: number, messageSeq: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + body.length);
  writeHeader(out, msgType, body.length, messageSeq, 0, body.length);
  body.copy(out, HANDSHAKE_HEADER_LENGTH);
  return out;
}

function writeHeader(
  out: Buffer,
  type: number,
  length: number,
  seq: number,
  offset: number,
  fragLength: number,
): void {
  out[0] = type;
  out.writeUIntBE(length, 1, 3);
  out.writeUInt16BE(seq, 4);
  out.writeUIntBE(offset, 6, 3);
  out.writeUIntBE(fragLength, 9, 3);
}

/**
 * Splits a whole message (as from encodeHandshake) into fragments of at most `maxBody` body bytes each,
 * every one with its own header (RFC 6347 section 4.2.3).
 */
export function fragmentHandshake(message: Buffer, maxBody: number): Buffer[] {
  const body = message.subarray(HANDSHAKE_HEADER_LENGTH);
  if (body.length <= maxBody) return [message];
  const type = message[0];
  const seq = message.readUInt16BE(4);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += maxBody) {
    const n = Math.min(maxBody, body.length - off);
    const frag = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + n);
    writeHeader(frag, type, body.length, seq, off, n);
    body.copy(frag, HANDSHAKE_HEADER_LENGTH, off, off + n);
    out.push(frag);
  }
  return out;
}
