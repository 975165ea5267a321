// RFC 5246 section 7.4.1.4 Hello extensions, and the data of the ones this library speaks:
// connection_id (RFC 9146 section 3), extended_master_secret (RFC 7627 section 5.1), supported_groups and
// ec_point_formats (RFC 8422 section 5.1), signature_algorithms (RFC 5246 section 7.4.1.4.1),
// client/server_certificate_type (RFC 7250 section 3), renegotiation_info (RFC 5746 section 3.2).
import { ByteReader, ByteWriter } from '@lwm2m/bytes';

export interface Extension {
  type: number;
  data: Buffer;
}

/** Reads the optional extensions block at the end of a hello; rejects duplicates (RFC 5246 7.4.1.4). */
export function decodeExtensions(r: ByteReader): Extension[] {
  if (r.done) return [];
  const block = r.sub(r.u16('extensions length'), 'extensions');
  if (!r.done) r.fail('trailing-bytes', 'bytes after extensions');
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (!block.done) {
    const type = block.u16('extension type');
    const data = block.bytes(block.u16('extension length'), 'extension data');
    if (seen.has(type)) block.fail('duplicate-extension', `extension ${type} twice`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function encodeExtensions(w: ByteWriter, exts: Extension[]): void {
  if (exts.length === 0) return;
  const at = w.reserve(2);
  const start = w.length;
  for (const e of exts) w.u16(e.type).u16(e.data.length).bytes(e.data);
  w.patchU16(at, w.length - start);
}

export function findExtension(exts: Extension[], type: number): Buffer | undefined {
  for (const e of exts) if (e.type === type) return e.data;
  return undefined;
}

function reader(data: Buffer, what: string): ByteReader {
  return new ByteReader(data, `dtls-ext-${what}`);
}

function end(r: ByteReader): void {
  if (!r.done) r.fail('trailing-bytes', 'bytes after extension data');
}

/** RFC 9146 section 3: struct { opaque cid<0..2^8-1>; } ConnectionId. */
export function decodeConnectionId(data: Buffer): Buffer {
  const r = reader(data, 'cid');
  const cid = r.bytes(r.u8('cid length'), 'cid');
  end(r);
  return cid;
}

export function encodeConnectionId(cid: Buffer): Buffer {
  return Buffer.concat([Buffer.from([cid.length]), cid]);
}

/** A list of uint16 with a uint16 byte length (supported_groups, signature_algorithms). */
export function decodeU16List(data: Buffer, what: string): number[] {
  const r = reader(data, what);
  const len = r.u16('list length');
  if (len % 2 !== 0) r.fail('bad-list', `${what}: odd length`);
  const list = r.sub(len, what);
  end(r);
  const out: number[] = [];
  while (!list.done) out.push(list.u16());
  return out;
}

export function encodeU16List(values: number[]): Buffer {
  const w = new ByteWriter(2 + values.length * 2).u16(values.length * 2);
  for (const v of values) w.u16(v);
  return w.toBuffer();
}

/** A list of uint8 with a uint8 byte length (ec_point_formats, client certificate_type lists). */
export function decodeU8List(data: Buffer, what: string): number[] {
  const r = reader(data, what);
  const list = r.bytes(r.u8('list length'), what);
  end(r);
  return [...list];
}

export function encodeU8List(values: number[]): Buffer {
  return Buffer.from([values.length, ...values]);
}

/** ServerHello form of a certificate_type extension: one uint8 (RFC 7250 section 3). */
export function decodeSingleU8(data: Buffer, what: string): number {
  const r = reader(data, what);
  const v = r.u8(what);
  end(r);
  return v;
}
