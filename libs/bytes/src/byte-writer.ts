/** A growable big-endian writer. Encoders build into it, then take one Buffer. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 64) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntBE(v, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u48(v: number): this {
    this.ensure(6);
    this.buf.writeUIntBE(v, this.pos, 6);
    this.pos += 6;
    return this;
  }

  /** Big-endian unsigned integer in exactly n bytes (n = 0..6). */
  uintN(v: number, n: number): this {
    if (n === 0) return this;
    this.ensure(n);
    this.buf.writeUIntBE(v, this.pos, n);
    this.pos += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Reserve n bytes now, fill them later (length prefixes). Returns the offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  patchU24(at: number, v: number): void {
    this.buf.writeUIntBE(v, at, 3);
  }

  /** The written bytes, copied into an exactly-sized Buffer. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Minimal number of bytes to hold an unsigned integer (0 -> 0 bytes), as CoAP uint options need. */
export function uintLength(v: number): number {
  if (v === 0) return 0;
  if (v < 0x100) return 1;
  if (v < 0x10000) return 2;
  if (v < 0x1000000) return 3;
  if (v < 0x100000000) return 4;
  if (v < 0x10000000000) return 5;
  return 6;
}
