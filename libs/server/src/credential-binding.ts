// LwM2M TS 1.2 Transport 5.2.9 / Core 6.2.1: on a secured transport the server checks that the Endpoint
// Client Name a client registers with is the one its DTLS credential was provisioned for; otherwise one
// device could register (or update, or de-register) as another. NoSec peers (CoAP on 5683) carry no
// identity and are not checked, except that they may not touch a registration made with a credential.
import { createHash } from 'node:crypto';
import type { PeerIdentity } from '@lwm2m/coap';
import type { CredentialStore } from './ports';
import type { Registration } from './registration';
import { normalizeRpk, subjectCommonName } from './security';

export interface CredentialBindingCounters {
  /** Register/Update/De-register requests of secured peers checked. */
  checked: number;
  /** Refused: the credential belongs to another endpoint (4.03). */
  mismatches: number;
  /** Refused: the authenticated identity has no credential in the store (any more) (4.03). */
  unprovisioned: number;
  /** Refused: a NoSec peer addressed a registration made over DTLS (4.03). */
  insecure: number;
}

export class CredentialBinding {
  readonly counters: CredentialBindingCounters = { checked: 0, mismatches: 0, unprovisioned: 0, insecure: 0 };

  constructor(private readonly store: CredentialStore | undefined) {}

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
      case 'x509':
        return this.store.endpointBySubject(subjectCommonName(identity.subject));
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
      if (registeredWith === undefined || registeredWith === 'nosec') return undefined;
      this.counters.insecure++;
      return `registration of "${endpoint.slice(0, 64)}" was made over DTLS; use the secured connection`;
    }
    this.counters.checked++;
    const owner = await this.endpointOf(identity);
    if (owner === endpoint) return undefined;
    // Without a provisioned subject, a certificate that chains to a trust anchor authenticates the
    // endpoint named by its subject CN (the usual LwM2M convention), unless the operator provisioned
    // another credential for that endpoint: then only that one authenticates it.
    if (
      owner === undefined &&
      identity.type === 'x509' &&
      subjectCommonName(identity.subject) === endpoint &&
      (await this.store?.get(endpoint)) === undefined
    ) {
      return undefined;
    }
    if (owner === undefined) {
      this.counters.unprovisioned++;
      return `no credential is provisioned for this ${identity.type.toUpperCase()} identity`;
    }
    this.counters.mismatches++;
    return `ep "${endpoint.slice(0, 64)}" is not the endpoint of this ${identity.type.toUpperCase()} credential`;
  }
}

/** A loggable name of an identity: the PSK identity, a public key's SHA-256 prefix, a subject CN. */
export function describeIdentity(identity: PeerIdentity | undefined): string {
  if (identity === undefined) return 'nosec';
  if (identity.type === 'psk') return `psk:${identity.identity}`;
  if (identity.type === 'rpk') {
    return `rpk:sha256:${createHash('sha256').update(identity.publicKey).digest('hex').slice(0, 16)}`;
  }
  return `x509:${subjectCommonName(identity.subject)}`;
}
