// LwM2M TS 1.2 Transport 5.2.9 / Core 6.2.1: on a secured transport the server checks that the Endpoint
// Client Name a client registers with is the one its DTLS credential was provisioned for; otherwise one
// device could register (or update, or de-register) as another. NoSec peers (CoAP on 5683) carry no
// identity: they may act only for endpoints that have no credential and no registration made over DTLS
// (issue 11: one forged datagram must not take a secured device's identity), and not at all under the
// require-secure policy.
import { createHash } from 'node:crypto';
import type { PeerIdentity } from '@lwm2m/coap';
import type { CredentialStore } from './ports';
import type { Registration } from './registration';
import { normalizeRpk, type X509EndpointFrom, x509EndpointIdentities, X509IdentityError } from './security';

export interface CredentialBindingCounters {
  /** Register/Update/De-register requests of secured peers checked. */
  checked: number;
  /** Refused: the credential belongs to another endpoint (4.03). */
  mismatches: number;
  /** Refused: the authenticated identity has no credential in the store (any more) (4.03). */
  unprovisioned: number;
  /** Refused: a NoSec request for an endpoint with a credential or a registration made over DTLS (4.03). */
  insecure: number;
  /** Refused: a NoSec request while SECURITY_POLICY=require-secure (4.03). */
  policy: number;
  /** Refused: an X.509 certificate naming no usable identity, or more than one CN (4.03). */
  badCertificate: number;
}

/**
 * allow-nosec: NoSec only for endpoints without a credential (default); require-secure: NoSec refused for
 * every endpoint.
 */
export type SecurityPolicy = 'allow-nosec' | 'require-secure';
export const SECURITY_POLICIES: readonly SecurityPolicy[] = ['allow-nosec', 'require-secure'];

export class CredentialBinding {
  readonly counters: CredentialBindingCounters = {
    checked: 0,
    mismatches: 0,
    unprovisioned: 0,
    insecure: 0,
    policy: 0,
    badCertificate: 0,
  };
  constructor(
    private readonly store: CredentialStore | undefined,
    private readonly policy: SecurityPolicy = 'allow-nosec',
    /** Which certificate field names the endpoint (X509_ENDPOINT_FROM). */
    public x509EndpointFrom: X509EndpointFrom = 'auto',
  ) {}

  /** The endpoint the identity was provisioned for, undefined when none. */
  async endpointOf(identity: PeerIdentity): Promise<string | undefined> {
    if (this.store === undefined) return undefined;
    switch (identity.type) {
      case 'psk':
        return (await this.store.pskByIdentity(identity.identity))?.endpoint;
      case 'rpk': {
        let spki: Buffer;
        try {
          spki = normalizeRpk(identity.publicKey);
        } catch {
          return undefined;
        }
        return this.store.endpointByPublicKey(spki);
      }
      case 'x509': {
        let ids: string[];
        try {
          ids = x509EndpointIdentities(identity.certificate, this.x509EndpointFrom);
        } catch {
          return undefined;
        }
        for (const id of ids) {
          const owner = await this.store.endpointBySubject(id);
          if (owner !== undefined) return owner;
        }
        return undefined;
      }
      case 'oscore':
        return identity.kid === undefined ? undefined : this.store.endpointByOscoreKid(identity.kid);
    }
  }

  /**
   * Undefined when a peer with `identity` may act as `endpoint`; else the diagnostic payload of the 4.03.
   * `registeredWith` is the security mode of the registration an Update or De-register addresses.
   */
  async refusal(
    identity: PeerIdentity | undefined,
    endpoint: string,
    registeredWith?: Registration['security'],
  ): Promise<string | undefined> {
    if (identity === undefined) {
      if (this.policy === 'require-secure') {
        this.counters.policy++;
        return 'this server accepts LwM2M clients over DTLS only (CoAP NoSec is refused)';
      }
      // One answer for both cases, so a NoSec peer cannot tell which endpoints hold a credential.
      const secured =
        (registeredWith !== undefined && registeredWith !== 'nosec') ||
        (await this.store?.get(endpoint)) !== undefined;
      if (!secured) return undefined;
      this.counters.insecure++;
      return `ep "${endpoint.slice(0, 64)}" must use its secured (DTLS) connection or OSCORE`;
    }
    this.counters.checked++;
    if (identity.type === 'x509') return this.x509Refusal(identity, endpoint);
    const owner = await this.endpointOf(identity);
    if (owner === endpoint) return undefined;
    if (owner === undefined) {
      this.counters.unprovisioned++;
      return `no credential is provisioned for this ${identity.type.toUpperCase()} identity`;
    }
    this.counters.mismatches++;
    return `ep "${endpoint.slice(0, 64)}" is not the endpoint of this ${identity.type.toUpperCase()} credential`;
  }

  /**
   * X.509 (LwM2M TS 1.1 Transport 5.2.8.5): the identity values come from the certificate's DER (SAN, then
   * CN: RFC 6125 section 6.4.4), never from its rendered subject text, where an O of "acme/CN=victim" looks
   * like a CN. A provisioned {x509:{subject}} binds that value to its endpoint; without one, a certificate
   * that chains to a trust anchor authenticates the endpoint its identity value names, unless the operator
   * provisioned another credential for that endpoint: then only that one authenticates it.
   */
  private async x509Refusal(
    identity: Extract<PeerIdentity, { type: 'x509' }>,
    endpoint: string,
  ): Promise<string | undefined> {
    let ids: string[];
    try {
      ids = x509EndpointIdentities(identity.certificate, this.x509EndpointFrom);
    } catch (err) {
      if (!(err instanceof X509IdentityError)) throw err;
      this.counters.badCertificate++;
      return err.message;
    }
    let holder: string | undefined;
    for (const id of ids) {
      const owner = await this.store?.endpointBySubject(id);
      if (owner === endpoint) return undefined;
      holder ??= owner;
    }
    if (holder === undefined && ids.includes(endpoint) && (await this.store?.get(endpoint)) === undefined)
      return undefined;
    if (holder === undefined) {
      this.counters.unprovisioned++;
      return 'no credential is provisioned for this X509 identity';
    }
    this.counters.mismatches++;
    return `ep "${endpoint.slice(0, 64)}" is not the endpoint of this X509 credential`;
  }
}

/** A loggable name of an identity: the PSK identity, a public key's SHA-256 prefix, a subject CN. */
export function describeIdentity(identity: PeerIdentity | undefined): string {
  if (identity === undefined) return 'nosec';
  if (identity.type === 'psk') return `psk:${identity.identity}`;
  if (identity.type === 'oscore') return `oscore:kid:${identity.kid?.toString('hex') ?? ''}`;
  if (identity.type === 'rpk') {
    return `rpk:sha256:${createHash('sha256').update(identity.publicKey).digest('hex').slice(0, 16)}`;
  }
  try {
    return `x509:${x509EndpointIdentities(identity.certificate).join(',')}`;
  } catch {
    return 'x509:unnamed';
  }
}
