// X.509 chain validation against configured trust anchors (RFC 5280 path validation as node:crypto's
// X509Certificate offers it: signatures, validity periods, CA flag), and the leaf's P-256 key.
import { X509Certificate } from 'node:crypto';
import { AlertDescription } from '../constants';
import { DtlsAlertError } from '../errors';
import { rawFromSpki } from './ecc';

export interface ValidatedChain {
  subject: string;
  /** The leaf's uncompressed P-256 point. */
  publicKey: Buffer;
  leaf: Buffer;
}

/** Parses PEM bundles or DER certificates into X509Certificate objects. */
export function loadCertificates(input: (string | Buffer)[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const item of input) {
    if (typeof item === 'string' || item.subarray(0, 10).toString('latin1').includes('-----')) {
      const text = item.toString();
      const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      for (const p of pems) out.push(new X509Certificate(p));
    } else out.push(new X509Certificate(item));
  }
  return out;
}

/**
 * Validates a peer's chain (leaf first, RFC 5246 section 7.4.2) up to one of `anchors`; throws a
 * DtlsAlertError with the RFC 5246 alert that fits.
 */
export function validateChain(chain: Buffer[], anchors: X509Certificate[], now = new Date()): ValidatedChain {
  if (chain.length === 0)
    throw new DtlsAlertError(AlertDescription.bad_certificate, 'empty certificate chain');
  let certs: X509Certificate[];
  try {
    certs = chain.map((c) => new X509Certificate(c));
  } catch {
    throw new DtlsAlertError(AlertDescription.bad_certificate, 'undecodable certificate');
  }
  for (const c of certs) {
    if (new Date(c.validFrom) > now || new Date(c.validTo) < now)
      throw new DtlsAlertError(
        AlertDescription.certificate_expired,
        'certificate outside its validity period',
      );
  }
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i];
    const anchor = anchors.find((a) => cert.checkIssued(a) && cert.verify(a.publicKey));
    if (anchor !== undefined || anchors.some((a) => a.fingerprint256 === cert.fingerprint256)) {
      return leafInfo(certs[0], chain[0]);
    }
    const issuer = certs[i + 1];
    if (issuer === undefined) break;
    if (!issuer.ca || !cert.checkIssued(issuer) || !cert.verify(issuer.publicKey))
      throw new DtlsAlertError(AlertDescription.bad_certificate, 'broken certificate chain');
  }
  throw new DtlsAlertError(AlertDescription.unknown_ca, 'certificate chain does not reach a trust anchor');
}

function leafInfo(leaf: X509Certificate, der: Buffer): ValidatedChain {
  const spki = leaf.publicKey.export({ format: 'der', type: 'spki' });
  const publicKey = rawFromSpki(spki);
  if (publicKey === undefined)
    throw new DtlsAlertError(AlertDescription.unsupported_certificate, 'leaf key is not P-256');
  return { subject: leaf.subject, publicKey, leaf: der };
}
