// The security credentials a device authenticates with on CoAP over DTLS (LwM2M TS 1.2 Transport 5.2:
// Pre-Shared Key, Raw Public Key, X.509 certificate) and the rule that binds them to an endpoint name
// (TS 1.2 Core 6.2.1 / Transport 5.2.9: the server checks that the Endpoint Client Name of a Register is the
// one the credential was provisioned for). Plain data; the stores are in ./ports (CredentialStore).
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { PeerIdentity } from '@lwm2m/coap';

export type SecurityMode = 'psk' | 'rpk' | 'x509';

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
      /** The certificate's subject Common Name the device must present (default: the endpoint name). */
      subject: string;
    };

/** A credential as every read API returns it: without the PSK. */
export type CredentialInfo =
  { type: 'psk'; identity: string } | { type: 'rpk'; publicKey: Buffer } | { type: 'x509'; subject: string };

/** Strips the secret. */
export function credentialInfo(c: Credential): CredentialInfo {
  switch (c.type) {
    case 'psk':
      return { type: 'psk', identity: c.identity };
    case 'rpk':
      return { type: 'rpk', publicKey: Buffer.from(c.publicKey) };
    case 'x509':
      return { type: 'x509', subject: c.subject };
  }
}

/** The value a credential is looked up by (PSK identity, SPKI hex, subject). */
export function credentialIndexValue(c: Credential | CredentialInfo): string {
  if (c.type === 'psk') return c.identity;
  if (c.type === 'rpk') return c.publicKey.toString('hex');
  return c.subject;
}

/** Two endpoints can't share a PSK identity, a public key or a certificate subject. */
export class CredentialConflictError extends Error {
  constructor(
    readonly type: SecurityMode,
    /** The endpoint that already holds it. */
    readonly holder: string,
  ) {
    super(
      `this ${type === 'psk' ? 'PSK identity' : type === 'rpk' ? 'public key' : 'subject'} belongs to another endpoint`,
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
 * The Common Name of an X.509 subject as libs/dtls or node:crypto renders it ("C=FI\nCN=dev-1" or
 * "CN=dev-1, O=ACME"); the text itself when it names no CN.
 */
export function subjectCommonName(subject: string): string {
  const m = /(?:^|[\n,/+]\s*)CN=((?:\\.|[^\n,+/])*)/.exec(subject);
  return m ? m[1]!.trim().replace(/\\(.)/g, '$1') : subject;
}

/** The security mode of an authenticated peer identity (libs/coap Peer.identity). */
export function securityModeOf(identity: PeerIdentity): SecurityMode {
  return identity.type;
}
