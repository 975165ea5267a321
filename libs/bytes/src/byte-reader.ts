import { DecodeError } from './decode-error';

/**
 * A bounds-checked cursor over a Buffer. Every read checks the remaining length first, so a
 * truncated or lying length field becomes a DecodeError, never an out-of-range read or a huge
 * allocation (slices are views, never copies).
 */
export class ByteReader {
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly buf: Buffer,
    private readonly codec = 'bytes',
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(reason: string, message: string): never {
    throw new DecodeError(reason, `${message} (at offset ${this.pos})`, this.codec);
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      this.fail('truncated', `${what}: need ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  peekU8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos];
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(what = 'u24'): number {
    this.need(3, what);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u48(what = 'u48'): number {
    this.need(6, what);
    const v = this.buf.readUIntBE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  /** Big-endian unsigned integer of 0..6 bytes (CoAP uint options, TLV lengths). */
  uintN(n: number, what = 'uint'): number {
    this.need(n, what);
    const v = n === 0 ? 0 : this.buf.readUIntBE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A view of everything left. */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A reader over the next n bytes; this reader moves past them. */
  sub(n: number, what = 'sub'): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, this.codec, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}
