// The security credentials a device authenticates with on CoAP over DTLS (LwM2M TS 1.2 Transport 5.2:
// Pre-Shared Key, Raw Public Key, X.509 certificate) and the rule that binds them to an endpoint name
// (TS 1.2 Core 6.2.1 / Transport 5.2.9: the server checks that the Endpoint Client Name of a Register is the
// one the credential was provisioned for). Plain data; the stores are in ./ports (CredentialStore).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_subjectAltName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import type { PeerIdentity } from '@lwm2m/coap';

export type SecurityMode = 'psk' | 'rpk' | 'x509' | 'oscore';

/**
 * An OSCORE security context's input parameters (RFC 8613 section 3.2; LwM2M object 21, OSCORE Security),
 * from the server's point of view: `senderId` is the server's Sender ID (the device's Recipient ID) and
 * `recipientId` the device's Sender ID, the 'kid' of its requests, by which the context is found.
 */
export interface OscoreCredential {
  /** Secret: never logged, never returned. */
  masterSecret: Buffer;
  /** Secret too (kept sealed with the Master Secret); default empty. */
  masterSalt?: Buffer;
  senderId: Buffer;
  recipientId: Buffer;
  idContext?: Buffer;
  /** COSE algorithm id of the AEAD (default 10, AES-CCM-16-64-128). */
  aead?: number;
  /** HKDF hash (default sha256). */
  hkdf?: 'sha256' | 'sha512';
}

/** An OSCORE credential without the Master Secret and Salt. */
export type OscoreCredentialInfo = Omit<OscoreCredential, 'masterSecret' | 'masterSalt'>;

/** RFC 8613 section 3.3 / 5.2: with a 13-byte nonce (every AEAD the server offers) an ID has at most 7 bytes. */
export const MAX_OSCORE_ID_BYTES = 7;
export const MAX_OSCORE_SECRET_BYTES = 64;
export const MAX_OSCORE_ID_CONTEXT_BYTES = 32;

/** Validates an OSCORE credential's sizes; throws InvalidCredentialError (never naming key bytes). */
export function checkOscore(c: OscoreCredential): void {
  if (c.masterSecret.length < 16 || c.masterSecret.length > MAX_OSCORE_SECRET_BYTES)
    throw new InvalidCredentialError(
      `the OSCORE masterSecret must have 16..${MAX_OSCORE_SECRET_BYTES} bytes`,
    );
  if ((c.masterSalt?.length ?? 0) > MAX_OSCORE_SECRET_BYTES)
    throw new InvalidCredentialError(
      `the OSCORE masterSalt must have at most ${MAX_OSCORE_SECRET_BYTES} bytes`,
    );
  for (const [name, id] of [
    ['senderId', c.senderId],
    ['recipientId', c.recipientId],
  ] as const) {
    if (id.length > MAX_OSCORE_ID_BYTES)
      throw new InvalidCredentialError(`the OSCORE ${name} must have at most ${MAX_OSCORE_ID_BYTES} bytes`);
  }
  // RFC 8613 Appendix D.4: nonces are unique only when the two IDs differ.
  if (c.senderId.equals(c.recipientId))
    throw new InvalidCredentialError('the OSCORE senderId and recipientId must differ');
  if ((c.idContext?.length ?? 0) > MAX_OSCORE_ID_CONTEXT_BYTES)
    throw new InvalidCredentialError(
      `the OSCORE idContext must have at most ${MAX_OSCORE_ID_CONTEXT_BYTES} bytes`,
    );
}

function oscoreInfo(c: OscoreCredentialInfo): OscoreCredentialInfo {
  return {
    senderId: Buffer.from(c.senderId),
    recipientId: Buffer.from(c.recipientId),
    ...(c.idContext !== undefined ? { idContext: Buffer.from(c.idContext) } : {}),
    ...(c.aead !== undefined ? { aead: c.aead } : {}),
    ...(c.hkdf !== undefined ? { hkdf: c.hkdf } : {}),
  };
}

/** What an operator provisions for an endpoint. */
export type Credential =
  | {
      type: 'psk';
      /** PSK identity (RFC 4279 psk_identity), UTF-8. */
      identity: string;
      /** The pre-shared key. Secret: never logged, never returned by a read other than pskByIdentity. */
      key: Buffer;
    }
  | {
      type: 'rpk';
      /** DER SubjectPublicKeyInfo of a P-256 key (RFC 7250 section 3), normalized by normalizeRpk. */
      publicKey: Buffer;
    }
  | {
      type: 'x509';
      /**
       * The identity value the device's certificate must carry (default: the endpoint name): a SAN URI or
       * DNS name, or the subject Common Name, as X509_ENDPOINT_FROM selects (x509EndpointIdentities).
       */
      subject: string;
    }
  | {
      type: 'oscore';
      /** RFC 8613 section 3.2 input parameters; the Master Secret and Salt are sealed at rest. */
      oscore: OscoreCredential;
    };

/** A credential as every read API returns it: without the PSK. */
export type CredentialInfo =
  | { type: 'psk'; identity: string }
  | { type: 'rpk'; publicKey: Buffer }
  | { type: 'x509'; subject: string }
  | { type: 'oscore'; oscore: OscoreCredentialInfo };

/** Strips the secret. */
export function credentialInfo(c: Credential): CredentialInfo {
  switch (c.type) {
    case 'psk':
      return { type: 'psk', identity: c.identity };
    case 'rpk':
      return { type: 'rpk', publicKey: Buffer.from(c.publicKey) };
    case 'x509':
      return { type: 'x509', subject: c.subject };
    case 'oscore':
      return { type: 'oscore', oscore: oscoreInfo(c.oscore) };
  }
}

/** The value a credential is looked up by (PSK identity, SPKI hex, subject). */
export function credentialIndexValue(c: Credential | CredentialInfo): string {
  if (c.type === 'psk') return c.identity;
  if (c.type === 'rpk') return c.publicKey.toString('hex');
  if (c.type === 'oscore') return oscoreKidIndex(c.oscore.recipientId);
  return c.subject;
}

/** The index value of an OSCORE context: the kid the device sends (its Sender ID), hex. Unique per server. */
export function oscoreKidIndex(kid: Buffer): string {
  return kid.toString('hex');
}

/** Two endpoints can't share a PSK identity, a public key or a certificate subject. */
export class CredentialConflictError extends Error {
  constructor(
    readonly type: SecurityMode,
    /** The endpoint that already holds it. */
    readonly holder: string,
  ) {
    super(
      `this ${type === 'psk' ? 'PSK identity' : type === 'rpk' ? 'public key' : type === 'oscore' ? 'OSCORE recipientId (kid)' : 'subject'} belongs to another endpoint`,
    );
    this.name = 'CredentialConflictError';
  }
}

/** A credential the server refuses (bad key size, not P-256, ...). The message never contains key bytes. */
export class InvalidCredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCredentialError';
  }
}

/** RFC 4279 section 5.3: identities up to 128 octets and keys up to 64 octets MUST be supported. */
export const MAX_PSK_IDENTITY_BYTES = 128;
export const MAX_PSK_KEY_BYTES = 64;

/** Validates the sizes of a PSK credential; throws InvalidCredentialError. */
export function checkPsk(identity: string, key: Buffer): void {
  const idBytes = Buffer.byteLength(identity, 'utf8');
  if (idBytes === 0 || idBytes > MAX_PSK_IDENTITY_BYTES)
    throw new InvalidCredentialError(`the PSK identity must have 1..${MAX_PSK_IDENTITY_BYTES} bytes (UTF-8)`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(identity))
    throw new InvalidCredentialError('the PSK identity contains control characters');
  if (key.length === 0 || key.length > MAX_PSK_KEY_BYTES)
    throw new InvalidCredentialError(`the PSK must have 1..${MAX_PSK_KEY_BYTES} bytes`);
}

/**
 * A P-256 public key as DER SubjectPublicKeyInfo with the uncompressed point (the form RFC 7250 devices
 * send), from PEM "PUBLIC KEY" text, or hex / base64 of the DER. Throws InvalidCredentialError when it is
 * not an EC key on P-256 (LwM2M TS 1.2 Transport 5.2.9.3 / RFC 7925 section 4.4: secp256r1).
 */
export function normalizeRpk(input: string | Buffer): Buffer {
  let key: KeyObject;
  try {
    if (Buffer.isBuffer(input)) key = createPublicKey({ key: input, format: 'der', type: 'spki' });
    else {
      const text = input.trim();
      if (text.startsWith('-----BEGIN')) key = createPublicKey({ key: text, format: 'pem' });
      else {
        const der = /^(?:[0-9a-fA-F]{2})+$/.test(text)
          ? Buffer.from(text, 'hex')
          : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)
            ? Buffer.from(text, 'base64')
            : undefined;
        if (der === undefined || der.length === 0) throw new Error('not PEM, hex or base64');
        key = createPublicKey({ key: der, format: 'der', type: 'spki' });
      }
    }
  } catch {
    throw new InvalidCredentialError(
      'publicKey must be a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") or hex/base64 of its DER',
    );
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ec')
    throw new InvalidCredentialError('publicKey must be an EC public key on P-256');
  if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new InvalidCredentialError(
      `publicKey must be on P-256 (secp256r1), not ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}`,
    );
  // Through JWK: OpenSSL keeps a compressed point compressed in the SPKI export; the JWK round trip
  // yields the uncompressed form (RFC 7250 devices send it, and the index needs one spelling).
  const jwk = key.export({ format: 'jwk' });
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
}

/** PEM text of a DER SubjectPublicKeyInfo. */
export function rpkToPem(spki: Buffer): string {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({
    format: 'pem',
    type: 'spki',
  }) as string;
}

/**
 * Where the identity an X.509 client may register as is read from (LwM2M TS 1.1 Transport 5.2.8.5: the
 * certificate must identify the endpoint; RFC 6125 section 6.4.4: when a certificate carries a subjectAltName
 * of a supported type, the CN is not used). `auto`: SAN URIs and DNS names when the certificate has any,
 * else the subject CN. `san-uri`, `san-dns`, `cn`: only that field.
 */
export type X509EndpointFrom = 'auto' | 'san-uri' | 'san-dns' | 'cn';
export const X509_ENDPOINT_FROM_VALUES: readonly X509EndpointFrom[] = ['auto', 'san-uri', 'san-dns', 'cn'];

/** The names a certificate carries, read from its DER structure (never from a rendered subject text). */
export interface X509Names {
  /** Every commonName (2.5.4.3) attribute of the subject, in order, multi-valued RDNs included. */
  commonNames: string[];
  /** subjectAltName uniformResourceIdentifier entries (RFC 5280 section 4.2.1.6). */
  sanUris: string[];
  /** subjectAltName dNSName entries. */
  sanDns: string[];
}

/** A certificate that names no usable identity, or an ambiguous one. The message names no secret. */
export class X509IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'X509IdentityError';
  }
}

const ID_AT_COMMON_NAME = '2.5.4.3';

/** Parses the DER certificate's subject and subjectAltName with an ASN.1 schema (@peculiar/asn1-x509). */
export function x509Names(der: Buffer): X509Names {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    throw new X509IdentityError('the certificate does not decode');
  }
  const names: X509Names = { commonNames: [], sanUris: [], sanDns: [] };
  for (const rdn of cert.tbsCertificate.subject) {
    for (const atv of rdn) if (atv.type === ID_AT_COMMON_NAME) names.commonNames.push(atv.value.toString());
  }
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    if (ext.extnID !== id_ce_subjectAltName) continue;
    let san: SubjectAlternativeName;
    try {
      san = AsnConvert.parse(ext.extnValue, SubjectAlternativeName);
    } catch {
      throw new X509IdentityError('the subjectAltName extension does not decode');
    }
    for (const g of san) {
      if (g.uniformResourceIdentifier !== undefined) names.sanUris.push(g.uniformResourceIdentifier);
      if (g.dNSName !== undefined) names.sanDns.push(g.dNSName);
    }
  }
  return names;
}

// One parse per certificate: a session's identity keeps the same Buffer for every datagram.
const namesCache = new WeakMap<Buffer, X509Names>();

function cachedNames(der: Buffer): X509Names {
  let names = namesCache.get(der);
  if (names === undefined) {
    names = x509Names(der);
    namesCache.set(der, names);
  }
  return names;
}

/**
 * The identity values a validated client certificate authenticates, per `from`; throws X509IdentityError
 * when it names none, or when its subject holds more than one CN (which one a CA vetted is unknowable).
 */
export function x509EndpointIdentities(der: Buffer, from: X509EndpointFrom = 'auto'): string[] {
  const n = cachedNames(der);
  const cn = (): string[] => {
    if (n.commonNames.length > 1) throw new X509IdentityError('the certificate subject has more than one CN');
    if (n.commonNames.length === 0) throw new X509IdentityError('the certificate subject has no CN');
    return n.commonNames;
  };
  let ids: string[];
  if (from === 'san-uri') ids = n.sanUris;
  else if (from === 'san-dns') ids = n.sanDns;
  else if (from === 'cn') ids = cn();
  else ids = n.sanUris.length + n.sanDns.length > 0 ? [...n.sanUris, ...n.sanDns] : cn();
  if (ids.length === 0)
    throw new X509IdentityError(`the certificate has no ${from === 'san-uri' ? 'SAN URI' : 'SAN DNS name'}`);
  return ids;
}

/** The security mode of an authenticated peer identity (libs/coap Peer.identity). */
export function securityModeOf(identity: PeerIdentity): SecurityMode {
  return identity.type;
}
