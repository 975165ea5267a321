// Client certificates for X.509 LwM2M Server accounts (TS 1.2 Core E.1 Security Mode 2) that a bootstrap
// configuration leaves to be generated: a P-256 key per bootstrap and an RFC 5280 certificate for it, subject
// CN = the endpoint (the identity value the LwM2M server's X509_ENDPOINT_FROM "auto" and "cn" read), signed
// ECDSA-SHA256 by the CA whose certificate the gateway trusts for clients (DTLS_CA_FILE, key DTLS_CA_KEY_FILE).
// Built with the ASN.1 schema the server already parses certificates with (@peculiar/asn1-x509).
import { createPublicKey, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  ExtendedKeyUsage,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_kp_clientAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

/** The CA that signs generated client certificates: its certificate (DER) and its private key. */
export interface X509Issuer {
  certificate: Buffer;
  privateKey: KeyObject;
  /** Validity of an issued certificate, days (default 365). */
  days?: number;
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** A certificate (DER) for `publicKey` (SubjectPublicKeyInfo DER) naming `commonName`, signed by `issuer`. */
export function issueClientCertificate(
  issuer: X509Issuer,
  commonName: string,
  publicKey: Buffer,
  now = new Date(),
): Buffer {
  const ca = AsnConvert.parse(issuer.certificate, Certificate);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // a positive INTEGER (RFC 5280 4.1.2.2)
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
    issuer: ca.tbsCertificate.subject,
    validity: new Validity({
      // An hour back: a device whose clock is a little behind still accepts it.
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + (issuer.days ?? 365) * 86_400_000),
    }),
    subject: new Name([
      new RelativeDistinguishedName([
        new AttributeTypeAndValue({
          type: COMMON_NAME,
          value: new AttributeValue({ utf8String: commonName }),
        }),
      ]),
    ]),
    subjectPublicKeyInfo: AsnConvert.parse(publicKey, SubjectPublicKeyInfo),
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth])),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, issuer.privateKey); // ECDSA-Sig-Value DER (RFC 5758 3.2)
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
    signatureValue: new Uint8Array(signature).buffer,
  });
  return Buffer.from(AsnConvert.serialize(cert));
}

/**
 * The issuer from PEM files: the CA key and, of the certificates given (DTLS_CA_FILE may hold several), the
 * one whose public key is that key's. Throws when none matches.
 */
export function x509IssuerFromPem(privateKey: KeyObject, certificatesPem: string, days?: number): X509Issuer {
  const pub = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const blocks = certificatesPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const pem of blocks) {
    const cert = new X509Certificate(pem);
    if (cert.publicKey.export({ type: 'spki', format: 'der' }).equals(pub))
      return { certificate: cert.raw, privateKey, ...(days !== undefined ? { days } : {}) };
  }
  throw new Error('no certificate of the CA file belongs to the CA key');
}
