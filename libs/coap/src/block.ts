// RFC 7959 section 2.2: the Block1/Block2 option value (NUM, M, SZX in a 0..3 byte uint).
import { DecodeError } from '@lwm2m/bytes';

export interface BlockValue {
  /** Block number, 0..2^20-1. */
  num: number;
  /** More blocks follow (Block2 in responses, Block1 in requests) or "last block" when false. */
  more: boolean;
  /** Size exponent: block size is 2^(szx+4), szx 0..6 over UDP. */
  szx: number;
}

/** Largest block number a 3-byte option can carry (20 bits). */
export const MAX_BLOCK_NUM = 0xfffff;
/** Section 2.2: SZX 7 is reserved (RFC 8323 uses it for BERT, which is TCP only). */
export const MAX_SZX = 6;

export function blockSize(szx: number): number {
  return 2 ** (szx + 4);
}

/** The SZX of the largest block size that fits `bytes` (16..1024); e.g. 1024 -> 6, 100 -> 2 (64). */
export function szxForSize(bytes: number): number {
  if (!(bytes >= 16)) throw new RangeError(`block size ${bytes} is below 16`);
  let szx = 0;
  while (szx < MAX_SZX && blockSize(szx + 1) <= bytes) szx++;
  return szx;
}

/** Byte offset of a block in the body (NUM * size). */
export function blockOffset(b: BlockValue): number {
  return b.num * blockSize(b.szx);
}

export function encodeBlock(b: BlockValue): Buffer {
  if (!Number.isInteger(b.num) || b.num < 0 || b.num > MAX_BLOCK_NUM) {
    throw new RangeError(`block number ${b.num} not in 0..2^20-1`);
  }
  if (!Number.isInteger(b.szx) || b.szx < 0 || b.szx > MAX_SZX)
    throw new RangeError(`szx ${b.szx} not in 0..6`);
  const v = b.num * 16 + (b.more ? 8 : 0) + b.szx;
  // Section 2.2: the value is a uint, so 0 is the empty value and lengths are minimal.
  if (v === 0) return Buffer.alloc(0);
  const len = v < 0x100 ? 1 : v < 0x10000 ? 2 : 3;
  const out = Buffer.allocUnsafe(len);
  out.writeUIntBE(v, 0, len);
  return out;
}

export function decodeBlock(buf: Buffer): BlockValue {
  if (buf.length > 3)
    throw new DecodeError('bad-block-length', `block option of ${buf.length} bytes exceeds 3`, 'coap');
  let v = 0;
  for (let i = 0; i < buf.length; i++) v = (v << 8) | buf[i];
  const szx = v & 7;
  if (szx === 7) throw new DecodeError('bad-block-szx', 'SZX 7 is reserved (BERT is TCP only)', 'coap');
  return { num: v >>> 4, more: (v & 8) !== 0, szx };
}
