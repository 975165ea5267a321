// AES-CCM (NIST SP 800-38C, RFC 3610) for the TLS 1.2 CCM suites (RFC 6655 section 3: 12-byte nonce, so
// a 3-byte length field), on two AES contexts that live as long as the key. node:crypto's own CCM cipher
// takes a new context (an OpenSSL fetch and a key schedule) per record, most of the cost of a small record;
// ECB (for the CTR key stream) and CBC (for CBC-MAC) contexts can be reused from record to record. AES
// itself stays in OpenSSL; only the CCM formatting (B0, A_i, padding) and XORs are done here.
import { createCipheriv, type Cipher } from 'node:crypto';

const BLOCK = 16;
/** Length of the message-length field: 15 - 12 bytes of nonce. */
const L = 3;
const ZERO_IV = Buffer.alloc(BLOCK);

/**
 * Formatting scratch shared by every context: filled and handed to OpenSSL (which copies it) within one
 * synchronous call, so no two uses overlap.
 */
let scratch = Buffer.alloc(1024);

function scratchOf(length: number): Buffer {
  if (scratch.length < length) scratch = Buffer.alloc(Math.max(length, 2 * scratch.length));
  return scratch;
}

/** The B0 flags and the 2-byte AAD length below assume 0 < a < 0xff00 (SP 800-38C A.2.2). */
function checkAad(aad: Buffer): void {
  if (aad.length === 0 || aad.length >= 0xff00) throw new RangeError('ccm: additional data length');
}

export class AesCcm {
  private readonly ecb: Cipher;
  private readonly cbc: Cipher;
  /**
   * The CBC context's chaining value (its last output block). XORed into B0 of the next message, it cancels
   * out: the first block is encrypted as if under a zero IV, so each CBC-MAC starts afresh.
   */
  private readonly chain = Buffer.alloc(BLOCK);

  constructor(
    key: Buffer,
    readonly tagLength: number,
  ) {
    this.ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    this.cbc = createCipheriv('aes-128-cbc', key, ZERO_IV).setAutoPadding(false);
  }

  /**
   * Encrypts buf[start, start + length) in place and writes the tag right after it. `nonce` is 12 bytes;
   * `aad` is non-empty and shorter than 0xff00 bytes (DTLS additional data is 13 to 278 bytes).
   */
  sealInPlace(nonce: Buffer, aad: Buffer, buf: Buffer, start: number, length: number): void {
    checkAad(aad);
    const mac = this.cbcMac(nonce, aad, buf, start, length);
    const ks = this.keyStream(nonce, length);
    for (let i = 0; i < length; i++) buf[start + i] ^= ks[BLOCK + i];
    const tagAt = start + length;
    for (let i = 0; i < this.tagLength; i++) buf[tagAt + i] = mac[i] ^ ks[i];
  }

  /** The plaintext of `ciphertext` (a new Buffer), or undefined when `tag` does not verify. */
  open(nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
    if (tag.length !== this.tagLength) return undefined;
    checkAad(aad);
    const n = ciphertext.length;
    const ks = this.keyStream(nonce, n);
    const plaintext = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) plaintext[i] = ciphertext[i] ^ ks[BLOCK + i];
    const mac = this.cbcMac(nonce, aad, plaintext, 0, n);
    // every byte compared, whatever the first difference (no timing hint about the tag)
    let diff = 0;
    for (let i = 0; i < this.tagLength; i++) diff |= mac[i] ^ ks[i] ^ tag[i];
    return diff === 0 ? plaintext : undefined;
  }

  /** S_0 || S_1 .. S_m: E(A_i) for the counter blocks A_i = flags || nonce || i (SP 800-38C A.3). */
  private keyStream(nonce: Buffer, length: number): Buffer {
    const blocks = 1 + Math.ceil(length / BLOCK);
    const a = scratchOf(blocks * BLOCK);
    for (let i = 0; i < blocks; i++) {
      const o = i * BLOCK;
      a[o] = L - 1;
      nonce.copy(a, o + 1, 0, 12);
      a[o + 13] = i >>> 16;
      a[o + 14] = (i >>> 8) & 0xff;
      a[o + 15] = i & 0xff;
    }
    return this.ecb.update(a.subarray(0, blocks * BLOCK));
  }

  /** The unencrypted tag T (in `chain`, first tagLength bytes) over B0 || AAD || payload (SP 800-38C A.2). */
  private cbcMac(nonce: Buffer, aad: Buffer, payload: Buffer, start: number, length: number): Buffer {
    const aadBlocks = Math.ceil((2 + aad.length) / BLOCK);
    const total = (1 + aadBlocks + Math.ceil(length / BLOCK)) * BLOCK;
    const b = scratchOf(total);
    // B0: flags (Adata, (t-2)/2, q-1), nonce, message length
    b[0] = 0x40 | (((this.tagLength - 2) / 2) << 3) | (L - 1);
    nonce.copy(b, 1, 0, 12);
    b[13] = length >>> 16;
    b[14] = (length >>> 8) & 0xff;
    b[15] = length & 0xff;
    for (let i = 0; i < BLOCK; i++) b[i] ^= this.chain[i];
    // AAD with its 2-byte length, then the payload, each zero-padded to a block boundary
    b.writeUInt16BE(aad.length, BLOCK);
    aad.copy(b, BLOCK + 2);
    const payloadAt = (1 + aadBlocks) * BLOCK;
    b.fill(0, BLOCK + 2 + aad.length, payloadAt);
    payload.copy(b, payloadAt, start, start + length);
    b.fill(0, payloadAt + length, total);
    const out = this.cbc.update(b.subarray(0, total));
    out.copy(this.chain, 0, total - BLOCK, total);
    return this.chain;
  }
}
