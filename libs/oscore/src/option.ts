// RFC 8613 section 6.1: the OSCORE option value, the compressed COSE header
//   flags (0 0 g h k n n n) | Partial IV (n bytes) | [s | kid context (s bytes)] | kid (the rest),
// where g is the Group Flag of Group OSCORE (draft-ietf-core-oscore-groupcomm section 4.1).
import { ByteReader, ByteWriter, DecodeError } from '@lwm2m/bytes';

export interface OscoreOptionValue {
  /** 1..5 bytes, no leading zero byte except the single 0x00 (section 5). */
  partialIv?: Buffer;
  /** 0..255 bytes. */
  kidContext?: Buffer;
  kid?: Buffer;
  /** The Group Flag: the message is protected in Group OSCORE's group mode. */
  group?: boolean;
}

const FLAG_KID = 0x08;
const FLAG_KID_CONTEXT = 0x10;
const FLAG_GROUP = 0x20;
/** Bits 6 and 7 are reserved: set, the message is malformed (section 6.1). */
const RESERVED = 0xc0;
const MAX_PIV = 5;
/** Section 2: the option is 0..255 bytes. */
export const MAX_OSCORE_OPTION_LENGTH = 255;

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, 'oscore');
}

/**
 * Decodes an OSCORE option value. Throws only DecodeError (codec 'oscore'): reserved flags or Partial IV
 * lengths, a truncated value, a Partial IV with a leading zero byte, flags 0x00 written out (section 2:
 * the value is then empty), a longer value than the option allows.
 */
export function decodeOscoreOption(value: Buffer): OscoreOptionValue {
  if (value.length === 0) return {};
  if (value.length > MAX_OSCORE_OPTION_LENGTH)
    fail('too-long', `option of ${value.length} bytes exceeds 255`);
  const r = new ByteReader(value, 'oscore');
  const flags = r.u8('flags');
  if ((flags & RESERVED) !== 0) fail('reserved-flags', `reserved flag bits set (0x${flags.toString(16)})`);
  if (flags === 0) fail('non-minimal', 'flags 0x00 must be sent as an empty option');
  const n = flags & 0x07;
  if (n > MAX_PIV) fail('reserved-piv-length', `Partial IV length ${n} is reserved`);
  const out: OscoreOptionValue = {};
  if (flags & FLAG_GROUP) out.group = true;
  if (n > 0) {
    const piv = r.bytes(n, 'Partial IV');
    if (n > 1 && piv[0] === 0) fail('non-minimal-piv', 'Partial IV has a leading zero byte');
    out.partialIv = piv;
  }
  if (flags & FLAG_KID_CONTEXT) {
    const s = r.u8('kid context length');
    out.kidContext = r.bytes(s, 'kid context');
  }
  if (flags & FLAG_KID) out.kid = r.rest();
  else if (!r.done) fail('trailing-bytes', `${r.remaining} bytes after the header without the kid flag`);
  return out;
}

/** Encodes an OSCORE option value; the empty value when nothing is present. RangeError for impossible values. */
export function encodeOscoreOption(v: OscoreOptionValue): Buffer {
  const piv = v.partialIv;
  if (piv !== undefined && (piv.length < 1 || piv.length > MAX_PIV || (piv.length > 1 && piv[0] === 0)))
    throw new RangeError('Partial IV must be 1..5 bytes without a leading zero byte');
  if (v.kidContext !== undefined && v.kidContext.length > 255)
    throw new RangeError('kid context is at most 255 bytes');
  const flags =
    (piv?.length ?? 0) |
    (v.kid !== undefined ? FLAG_KID : 0) |
    (v.kidContext !== undefined ? FLAG_KID_CONTEXT : 0) |
    (v.group ? FLAG_GROUP : 0);
  if (flags === 0) return Buffer.alloc(0);
  const w = new ByteWriter(16).u8(flags);
  if (piv !== undefined) w.bytes(piv);
  if (v.kidContext !== undefined) w.u8(v.kidContext.length).bytes(v.kidContext);
  if (v.kid !== undefined) w.bytes(v.kid);
  if (w.length > MAX_OSCORE_OPTION_LENGTH) throw new RangeError('OSCORE option value exceeds 255 bytes');
  return w.toBuffer();
}
