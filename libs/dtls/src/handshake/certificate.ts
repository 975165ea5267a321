// RFC 5246 section 7.4.2 Certificate (X.509 chain), RFC 7250 section 3 (raw public key form), and
// RFC 5246 section 7.4.4 CertificateRequest.
import { ByteReader, ByteWriter } from '@lwm2m/bytes';

/** X.509: ASN.1Cert certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1>. */
export function decodeX509Certificate(body: Buffer): Buffer[] {
  const r = new ByteReader(body, 'dtls-certificate');
  const list = r.sub(r.u24('certificate_list length'), 'certificate_list');
  if (!r.done) r.fail('trailing-bytes', 'bytes after certificate_list');
  const out: Buffer[] = [];
  while (!list.done) {
    const len = list.u24('certificate length');
    if (len < 1) list.fail('bad-certificate', 'empty certificate');
    out.push(list.bytes(len, 'certificate'));
  }
  return out;
}

export function encodeX509Certificate(chain: Buffer[]): Buffer {
  const total = chain.reduce((n, c) => n + 3 + c.length, 0);
  const w = new ByteWriter(3 + total).u24(total);
  for (const c of chain) w.u24(c.length).bytes(c);
  return w.toBuffer();
}

/** RFC 7250 section 3: opaque ASN.1_subjectPublicKeyInfo<1..2^24-1>. */
export function decodeRawPublicKeyCertificate(body: Buffer): Buffer {
  const r = new ByteReader(body, 'dtls-certificate-rpk');
  const len = r.u24('subjectPublicKeyInfo length');
  if (len < 1) r.fail('bad-certificate', 'empty subjectPublicKeyInfo');
  const spki = r.bytes(len, 'subjectPublicKeyInfo');
  if (!r.done) r.fail('trailing-bytes', 'bytes after subjectPublicKeyInfo');
  return spki;
}

export function encodeRawPublicKeyCertificate(spki: Buffer): Buffer {
  return new ByteWriter(3 + spki.length).u24(spki.length).bytes(spki).toBuffer();
}

export interface CertificateRequest {
  certificateTypes: number[];
  signatureAlgorithms: number[];
  /** DistinguishedName certificate_authorities<0..2^16-1>, kept raw. */
  authorities: Buffer;
}

export function decodeCertificateRequest(body: Buffer): CertificateRequest {
  const r = new ByteReader(body, 'dtls-certificate-request');
  const typesLen = r.u8('certificate_types length');
  if (typesLen < 1) r.fail('bad-certificate-request', 'no certificate type');
  const certificateTypes = [...r.bytes(typesLen, 'certificate_types')];
  const algLen = r.u16('supported_signature_algorithms length');
  if (algLen < 2 || algLen % 2 !== 0) r.fail('bad-certificate-request', 'signature algorithms length');
  const algs = r.sub(algLen, 'supported_signature_algorithms');
  const signatureAlgorithms: number[] = [];
  while (!algs.done) signatureAlgorithms.push(algs.u16());
  const authorities = r.bytes(r.u16('certificate_authorities length'), 'certificate_authorities');
  if (!r.done) r.fail('trailing-bytes', 'bytes after certificate_authorities');
  return { certificateTypes, signatureAlgorithms, authorities };
}

export function encodeCertificateRequest(m: CertificateRequest): Buffer {
  const w = new ByteWriter(16);
  w.u8(m.certificateTypes.length).bytes(Buffer.from(m.certificateTypes));
  w.u16(m.signatureAlgorithms.length * 2);
  for (const a of m.signatureAlgorithms) w.u16(a);
  w.u16(m.authorities.length).bytes(m.authorities);
  return w.toBuffer();
}
