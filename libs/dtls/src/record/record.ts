// DTLS 1.2 records (RFC 6347 section 4.1) and the RFC 9146 section 4 tls12_cid record: header codec,
// and AEAD protection with the RFC 5246 section 6.2.3.3 / RFC 9146 section 5 additional data.
import { ByteReader, DecodeError } from '@lwm2m/bytes';
import { ContentType, DTLS_1_2, MAX_PLAINTEXT, RECORD_HEADER_LENGTH } from '../constants';
import { aeadCipher, type AeadCipher, type DirectionKeys } from '../crypto/aead';
import type { CipherSuite } from '../crypto/suites';

export interface DtlsRecord {
  /** Outer content type (25 for a tls12_cid record). */
  type: number;
  version: number;
  epoch: number;
  /** 48-bit sequence number (exact in a JS number). */
  seq: number;
  /** The CID of a tls12_cid record. */
  cid?: Buffer;
  /** DTLSPlaintext.fragment or the protected payload (a view into the datagram). */
  fragment: Buffer;
}

/** Room for the AEAD expansion and CID padding beyond 2^14 (RFC 6347 section 4.1: 2^14 + 2048). */
const MAX_FRAGMENT = MAX_PLAINTEXT + 2048;

const KNOWN_TYPES = new Set<number>([
  ContentType.change_cipher_spec,
  ContentType.alert,
  ContentType.handshake,
  ContentType.application_data,
  ContentType.tls12_cid,
]);

/**
 * Splits a datagram into its records (RFC 6347 section 4.1.1: several records may share one datagram).
 * `cidLength` is the length of the CIDs this endpoint issued: the tls12_cid header has no length field for
 * the CID (RFC 9146 section 4), the receiver knows it. Throws DecodeError only.
 */
export function decodeRecords(datagram: Buffer, cidLength: number): DtlsRecord[] {
  const r = new ByteReader(datagram, 'dtls-record');
  const out: DtlsRecord[] = [];
  while (!r.done) {
    const type = r.u8('content type');
    if (!KNOWN_TYPES.has(type)) r.fail('bad-content-type', `unknown content type ${type}`);
    const version = r.u16('version');
    if (version >>> 8 !== 0xfe) r.fail('bad-version', `not a DTLS version: 0x${version.toString(16)}`);
    const epoch = r.u16('epoch');
    const seq = r.u48('sequence number');
    let cid: Buffer | undefined;
    if (type === ContentType.tls12_cid) {
      if (cidLength === 0) r.fail('unexpected-cid', 'tls12_cid record but no CID was negotiated');
      if (epoch === 0) r.fail('bad-epoch', 'tls12_cid record in epoch 0');
      cid = r.bytes(cidLength, 'cid');
    }
    const length = r.u16('length');
    if (length > MAX_FRAGMENT) r.fail('record-overflow', `record length ${length}`);
    const fragment = r.bytes(length, 'fragment');
    out.push({ type, version, epoch, seq, cid, fragment });
  }
  return out;
}

/** An unprotected record (epoch 0). */
export function encodePlainRecord(type: number, epoch: number, seq: number, fragment: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + fragment.length);
  writeHeader(out, type, epoch, seq, fragment.length);
  fragment.copy(out, RECORD_HEADER_LENGTH);
  return out;
}

function writeHeader(out: Buffer, type: number, epoch: number, seq: number, length: number): void {
  out[0] = type;
  out.writeUInt16BE(DTLS_1_2, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  out.writeUInt16BE(length, 11);
}

/** RFC 5246 section 6.2.3.3 with the DTLS seq_num = epoch + sequence_number (RFC 6347 section 4.1.2.1). */
export function standardAad(
  type: number,
  version: number,
  epoch: number,
  seq: number,
  length: number,
): Buffer {
  return writeStandardAad(Buffer.allocUnsafe(13), type, version, epoch, seq, length);
}

function writeStandardAad(
  aad: Buffer,
  type: number,
  version: number,
  epoch: number,
  seq: number,
  length: number,
): Buffer {
  aad.writeUInt16BE(epoch, 0);
  aad.writeUIntBE(seq, 2, 6);
  aad[8] = type;
  aad.writeUInt16BE(version, 9);
  aad.writeUInt16BE(length, 11);
  return aad.subarray(0, 13);
}

/**
 * RFC 9146 section 5 (AEAD): seq_num_placeholder (8 x 0xff) + tls12_cid + cid_length + tls12_cid +
 * DTLSCiphertext.version + epoch + sequence_number + cid + length_of_DTLSInnerPlaintext.
 */
export function cidAad(
  version: number,
  epoch: number,
  seq: number,
  cid: Buffer,
  innerLength: number,
): Buffer {
  return writeCidAad(Buffer.allocUnsafe(23 + cid.length), version, epoch, seq, cid, innerLength);
}

function writeCidAad(
  aad: Buffer,
  version: number,
  epoch: number,
  seq: number,
  cid: Buffer,
  innerLength: number,
): Buffer {
  aad.fill(0xff, 0, 8);
  aad[8] = ContentType.tls12_cid;
  aad[9] = cid.length;
  aad[10] = ContentType.tls12_cid;
  aad.writeUInt16BE(version, 11);
  aad.writeUInt16BE(epoch, 13);
  aad.writeUIntBE(seq, 15, 6);
  cid.copy(aad, 21);
  aad.writeUInt16BE(innerLength, 21 + cid.length);
  return aad.subarray(0, 23 + cid.length);
}

/**
 * Additional data of the record being protected or opened: written and used within one synchronous call,
 * so one buffer serves every record (room for the longest, a 255-byte CID).
 */
const aadScratch = Buffer.alloc(23 + 255);

/** A session's cipher, kept from record to record, or keys to set one up for this record alone. */
export type WriteProtection = { suite: CipherSuite; keys: DirectionKeys } | { cipher: AeadCipher };

function cipherOf(p: WriteProtection): AeadCipher {
  return 'cipher' in p ? p.cipher : aeadCipher(p.suite, p.keys);
}

/**
 * A protected record. With a non-empty `cid` it is a tls12_cid record whose DTLSInnerPlaintext is
 * content + real type + `padding` zero bytes (RFC 9146 section 4); a zero-length CID means the peer
 * asked for none, so the RFC 6347 format is used. Written in one Buffer: header, explicit nonce (epoch and
 * sequence number), then the plaintext, encrypted where it lies.
 */
export function encodeProtectedRecord(
  type: number,
  epoch: number,
  seq: number,
  plaintext: Buffer,
  protection: WriteProtection,
  cid?: Buffer,
  padding = 0,
): Buffer {
  const cipher = cipherOf(protection);
  const withCid = cid !== undefined && cid.length > 0;
  const headerLength = RECORD_HEADER_LENGTH + (withCid ? cid.length : 0);
  const innerLength = withCid ? plaintext.length + 1 + padding : plaintext.length;
  const bodyLength = 8 + innerLength + cipher.tagLength;
  const out = Buffer.allocUnsafe(headerLength + bodyLength);
  out[0] = withCid ? ContentType.tls12_cid : type;
  out.writeUInt16BE(DTLS_1_2, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  if (withCid) cid.copy(out, 11);
  out.writeUInt16BE(bodyLength, headerLength - 2);
  out.writeUInt16BE(epoch, headerLength);
  out.writeUIntBE(seq, headerLength + 2, 6);
  plaintext.copy(out, headerLength + 8);
  let aad: Buffer;
  if (withCid) {
    const typeAt = headerLength + 8 + plaintext.length;
    out[typeAt] = type;
    out.fill(0, typeAt + 1, typeAt + 1 + padding);
    aad = writeCidAad(aadScratch, DTLS_1_2, epoch, seq, cid, innerLength);
  } else {
    aad = writeStandardAad(aadScratch, type, DTLS_1_2, epoch, seq, innerLength);
  }
  cipher.seal(aad, out, headerLength, innerLength);
  return out;
}

export interface OpenedRecord {
  /** The real content type (from DTLSInnerPlaintext for tls12_cid). */
  type: number;
  data: Buffer;
}

/**
 * Removes the protection of a record; undefined when it does not authenticate or its inner plaintext is
 * malformed (RFC 6347 section 4.1.2.7: such records are silently discarded).
 */
export function openProtectedRecord(rec: DtlsRecord, protection: WriteProtection): OpenedRecord | undefined {
  const cipher = cipherOf(protection);
  const n = rec.fragment.length - 8 - cipher.tagLength;
  if (n < 0) return undefined;
  if (rec.type === ContentType.tls12_cid) {
    const aad = writeCidAad(aadScratch, rec.version, rec.epoch, rec.seq, rec.cid!, n);
    const inner = cipher.open(aad, rec.fragment);
    if (inner === undefined) return undefined;
    // RFC 9146 section 4: strip the zero padding; the last non-zero byte is the real content type.
    let i = inner.length - 1;
    while (i >= 0 && inner[i] === 0) i--;
    if (i < 0) return undefined;
    const type = inner[i];
    if (type === ContentType.tls12_cid || type === 0) return undefined;
    return { type, data: inner.subarray(0, i) };
  }
  const aad = writeStandardAad(aadScratch, rec.type, rec.version, rec.epoch, rec.seq, n);
  const data = cipher.open(aad, rec.fragment);
  return data === undefined ? undefined : { type: rec.type, data };
}

/** Throws a DecodeError unless the record's plaintext fits RFC 6347 limits. */
export function assertPlaintextSize(data: Buffer): void {
  if (data.length > MAX_PLAINTEXT)
    throw new DecodeError('record-overflow', 'plaintext over 2^14', 'dtls-record');
}
