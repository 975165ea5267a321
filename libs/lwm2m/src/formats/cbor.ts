// RFC 8949 (CBOR) through cbor-x, as SenML CBOR (RFC 8428 section 6) and LwM2M CBOR (TS 1.2 Core
// 7.4.6) use it: maps decode as Map (integer and array keys), and every cbor-x failure becomes a
// DecodeError so that nothing else escapes a decoder of network input.
import { DecodeError } from '@lwm2m/bytes';
import { addExtension, Decoder, Encoder, FLOAT32_OPTIONS, Tag } from 'cbor-x';

export { Tag };

/*
 * cbor-x bounds allocation by the input itself: a definite array/map/string longer than the bytes
 * left fails before anything is allocated (and nested array counts share one budget of the
 * remaining bytes), and indefinite-length containers grow one decoded item at a time. Deep
 * nesting ends in a RangeError (stack), which is caught below like any other failure.
 * 64-bit integers (additional information 27) decode as bigint, the rest as number.
 */
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/*
 * RFC 8949 3.4.3 bignums (tags 2 and 3): cbor-x builds the value one byte at a time by shifting a
 * growing bigint, which is quadratic (0.3 s for a 64 KiB payload, 40 s for 256 KiB). Going through
 * a hex string gives the same value in linear time. cbor-x keeps its tag readers in one process-wide
 * table, so this replaces its reader for every Decoder, with exactly the results it gave before
 * (0n for a content that is not a byte string).
 */
function bignum(content: unknown): bigint {
  if (!(content instanceof Uint8Array) || content.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(content.buffer, content.byteOffset, content.length).toString('hex'));
}
// decode-only extensions: without a Class, cbor-x's addExtension registers no encoder
type Extension = Parameters<typeof addExtension>[0];
addExtension({ tag: 2, decode: (c: unknown) => bignum(c) } as unknown as Extension);
addExtension({ tag: 3, decode: (c: unknown) => -1n - bignum(c) } as unknown as Extension);

/*
 * Preferred serialization (RFC 8949 4.2.1) for integers and lengths. Floats are written as
 * binary64: cbor-x's float32 modes round to 32 bits without checking the value stays exact, and
 * it never writes binary16. An integral float (2.0) is written as the integer 2.
 */
const encoder = new Encoder({
  mapsAsObjects: false,
  useRecords: false,
  variableMapSize: true,
  useFloat32: FLOAT32_OPTIONS.NEVER,
});

/** Decodes exactly one CBOR item filling the whole buffer (trailing bytes fail). Throws only DecodeError. */
export function decodeCbor(payload: Buffer, codec: string): unknown {
  try {
    return decoder.decode(payload);
  } catch (e) {
    // cbor-x marks reads past the end as `incomplete`; anything else is malformed input
    const incomplete = (e as { incomplete?: unknown } | null)?.incomplete === true;
    const message = e instanceof Error ? e.message : String(e);
    throw new DecodeError(incomplete ? 'truncated' : 'bad-cbor', message, codec);
  }
}

export function encodeCbor(value: unknown): Buffer {
  return encoder.encode(value);
}

const TWO_32 = 2 ** 32;

/**
 * An integer in the form cbor-x writes in preferred serialization: a number within 32 bits (cbor-x
 * writes wider numbers as floats), a bigint beyond (always 8 bytes, the shortest form there).
 */
export function cborInteger(v: number | bigint): number | bigint {
  if (typeof v === 'bigint') return v >= -BigInt(TWO_32) && v < BigInt(TWO_32) ? Number(v) : v;
  return Number.isSafeInteger(v) && (v >= TWO_32 || v < -TWO_32) ? BigInt(v) : v;
}

/** A byte string as an owned Buffer (cbor-x returns views into the input). */
export function ownBytes(v: Uint8Array): Buffer {
  return Buffer.from(v);
}
