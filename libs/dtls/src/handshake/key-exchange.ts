// ServerKeyExchange and ClientKeyExchange for PSK (RFC 4279 section 2) and ECDHE_ECDSA (RFC 8422 sections
// 5.4 and 5.7), and the Finished message (RFC 5246 section 7.4.9).
import { ByteReader, ByteWriter } from '@lwm2m/bytes';
import { EC_CURVE_TYPE_NAMED } from '../constants';

/** RFC 4279 section 2: struct { opaque psk_identity_hint<0..2^16-1>; } ServerKeyExchange. */
export function decodePskServerKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body, 'dtls-psk-ske');
  const hint = r.bytes(r.u16('hint length'), 'psk_identity_hint');
  if (!r.done) r.fail('trailing-bytes', 'bytes after psk_identity_hint');
  return hint;
}

/** RFC 4279 section 2: struct { opaque psk_identity<0..2^16-1>; } ClientKeyExchange (also the SKE hint). */
export function encodePskIdentity(identity: Buffer): Buffer {
  return new ByteWriter(2 + identity.length).u16(identity.length).bytes(identity).toBuffer();
}

export function decodePskClientKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body, 'dtls-psk-cke');
  const identity = r.bytes(r.u16('identity length'), 'psk_identity');
  if (!r.done) r.fail('trailing-bytes', 'bytes after psk_identity');
  return identity;
}

export interface EcdheServerKeyExchange {
  namedCurve: number;
  publicKey: Buffer;
  /** ServerECDHParams as sent: the signed part besides the randoms. */
  params: Buffer;
  signatureAlgorithm: number;
  signature: Buffer;
}

/** RFC 8422 section 5.4: ServerECDHParams + digitally-signed (SignatureAndHashAlgorithm + signature). */
export function decodeEcdheServerKeyExchange(body: Buffer): EcdheServerKeyExchange {
  const r = new ByteReader(body, 'dtls-ecdhe-ske');
  const curveType = r.u8('curve_type');
  if (curveType !== EC_CURVE_TYPE_NAMED) r.fail('bad-curve-type', `curve_type ${curveType}`);
  const namedCurve = r.u16('named_curve');
  const pkLen = r.u8('point length');
  if (pkLen < 1) r.fail('bad-point', 'empty point');
  const publicKey = r.bytes(pkLen, 'point');
  const params = body.subarray(0, r.offset);
  const signatureAlgorithm = r.u16('signature algorithm');
  const signature = r.bytes(r.u16('signature length'), 'signature');
  if (!r.done) r.fail('trailing-bytes', 'bytes after signature');
  return { namedCurve, publicKey, params, signatureAlgorithm, signature };
}

export function encodeEcdheParams(namedCurve: number, publicKey: Uint8Array): Buffer {
  return new ByteWriter(4 + publicKey.length)
    .u8(EC_CURVE_TYPE_NAMED)
    .u16(namedCurve)
    .u8(publicKey.length)
    .bytes(publicKey)
    .toBuffer();
}

/** A digitally-signed struct of TLS 1.2 (RFC 5246 section 4.7): algorithm + signature<0..2^16-1>. */
export function encodeSigned(algorithm: number, signature: Uint8Array): Buffer {
  return new ByteWriter(4 + signature.length)
    .u16(algorithm)
    .u16(signature.length)
    .bytes(signature)
    .toBuffer();
}

/** RFC 8422 section 5.7: struct { opaque point <1..2^8-1>; } ClientECDiffieHellmanPublic. */
export function decodeEcdheClientKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body, 'dtls-ecdhe-cke');
  const len = r.u8('point length');
  if (len < 1) r.fail('bad-point', 'empty point');
  const point = r.bytes(len, 'point');
  if (!r.done) r.fail('trailing-bytes', 'bytes after point');
  return point;
}

export function encodeEcdheClientKeyExchange(point: Uint8Array): Buffer {
  return new ByteWriter(1 + point.length).u8(point.length).bytes(point).toBuffer();
}

/** RFC 5246 section 7.4.8: struct { digitally-signed struct { ... } } CertificateVerify. */
export function decodeSigned(body: Buffer, codec: string): { algorithm: number; signature: Buffer } {
  const r = new ByteReader(body, codec);
  const algorithm = r.u16('signature algorithm');
  const signature = r.bytes(r.u16('signature length'), 'signature');
  if (!r.done) r.fail('trailing-bytes', 'bytes after signature');
  return { algorithm, signature };
}

/** RFC 5246 section 7.4.9: verify_data[12]. */
export function decodeFinished(body: Buffer): Buffer {
  const r = new ByteReader(body, 'dtls-finished');
  const v = r.bytes(12, 'verify_data');
  if (!r.done) r.fail('trailing-bytes', 'bytes after verify_data');
  return v;
}
