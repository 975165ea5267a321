// In-memory CredentialStore for unit tests and examples; same semantics as RedisCredentialStore (contract suite).
import type { CredentialStore } from '../ports';
import {
  type Credential,
  CredentialConflictError,
  type CredentialInfo,
  credentialIndexValue,
  credentialInfo,
  oscoreKidIndex,
  type OscoreCredential,
  type SecurityMode,
} from '../security';

function copy(c: Credential): Credential {
  if (c.type === 'psk') return { type: 'psk', identity: c.identity, key: Buffer.from(c.key) };
  if (c.type === 'rpk') return { type: 'rpk', publicKey: Buffer.from(c.publicKey) };
  if (c.type === 'oscore') return { type: 'oscore', oscore: copyOscore(c.oscore) };
  return { type: 'x509', subject: c.subject };
}

function copyOscore(o: OscoreCredential): OscoreCredential {
  const b = (x: Buffer | undefined) => (x === undefined ? undefined : Buffer.from(x));
  return {
    ...o,
    masterSecret: Buffer.from(o.masterSecret),
    senderId: Buffer.from(o.senderId),
    recipientId: Buffer.from(o.recipientId),
    ...(o.masterSalt !== undefined ? { masterSalt: b(o.masterSalt) } : {}),
    ...(o.idContext !== undefined ? { idContext: b(o.idContext) } : {}),
  };
}

export class InMemoryCredentialStore implements CredentialStore {
  private readonly byEndpoint = new Map<string, Credential>();
  private readonly index: Record<SecurityMode, Map<string, string>> = {
    psk: new Map(),
    rpk: new Map(),
    x509: new Map(),
    oscore: new Map(),
  };

  async put(endpoint: string, credential: Credential): Promise<{ replaced?: CredentialInfo }> {
    const value = credentialIndexValue(credential);
    const holder = this.index[credential.type].get(value);
    if (holder !== undefined && holder !== endpoint)
      throw new CredentialConflictError(credential.type, holder);
    const prev = this.byEndpoint.get(endpoint);
    if (prev !== undefined) this.unindex(endpoint, prev);
    this.byEndpoint.set(endpoint, copy(credential));
    this.index[credential.type].set(value, endpoint);
    return prev ? { replaced: credentialInfo(prev) } : {};
  }

  async get(endpoint: string): Promise<CredentialInfo | undefined> {
    const c = this.byEndpoint.get(endpoint);
    return c && credentialInfo(c);
  }

  async remove(endpoint: string): Promise<CredentialInfo | undefined> {
    const c = this.byEndpoint.get(endpoint);
    if (c === undefined) return undefined;
    this.byEndpoint.delete(endpoint);
    this.unindex(endpoint, c);
    return credentialInfo(c);
  }

  async pskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined> {
    const endpoint = this.index.psk.get(identity);
    const c = endpoint === undefined ? undefined : this.byEndpoint.get(endpoint);
    if (endpoint === undefined || c?.type !== 'psk' || c.identity !== identity) return undefined;
    return { endpoint, key: Buffer.from(c.key) };
  }

  async endpointByPublicKey(publicKey: Buffer): Promise<string | undefined> {
    return this.index.rpk.get(publicKey.toString('hex'));
  }

  async endpointBySubject(subject: string): Promise<string | undefined> {
    return this.index.x509.get(subject);
  }

  async endpointByOscoreKid(kid: Buffer): Promise<string | undefined> {
    return this.index.oscore.get(oscoreKidIndex(kid));
  }

  async oscoreByKid(kid: Buffer): Promise<{ endpoint: string; oscore: OscoreCredential } | undefined> {
    const endpoint = this.index.oscore.get(oscoreKidIndex(kid));
    const oscore = endpoint === undefined ? undefined : await this.oscoreOf(endpoint);
    return endpoint === undefined || oscore === undefined ? undefined : { endpoint, oscore };
  }

  async oscoreOf(endpoint: string): Promise<OscoreCredential | undefined> {
    const c = this.byEndpoint.get(endpoint);
    return c?.type === 'oscore' ? copyOscore(c.oscore) : undefined;
  }

  private unindex(endpoint: string, c: Credential): void {
    const idx = this.index[c.type];
    const value = credentialIndexValue(c);
    if (idx.get(value) === endpoint) idx.delete(value);
  }
}
