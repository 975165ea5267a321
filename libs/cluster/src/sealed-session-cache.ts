// The session cache of RFC 5246 section 7.4.1.2 (resumption by session_id) shared by every node: a device
// that resumes lands on whichever node the load balancer picks. Entries hold the master secret, so they are
// sealed with the cluster key (the session id as AAD) before they reach the store.
import type { CachedSession, SessionCache } from '@lwm2m/dtls';
import type { PeerIdentity } from '@lwm2m/transport';
import { openAtRest, sealAtRest } from './cluster-key';

/** Where sealed entries live (Redis in libs/registry), with a time-to-live. */
export interface SealedBlobStore {
  get(id: string): Promise<Buffer | undefined>;
  set(id: string, sealed: Buffer, ttlMs: number): Promise<void>;
  delete(id: string): Promise<void>;
}

interface Stored {
  cipherSuite: number;
  masterSecret: string;
  extendedMasterSecret: boolean;
  identity:
    | { type: 'psk'; identity: string }
    | { type: 'rpk'; publicKey: string }
    | { type: 'x509'; subject: string; certificate: string };
  createdAt: number;
}

export class SealedSessionCache implements SessionCache {
  constructor(
    private readonly store: SealedBlobStore,
    private readonly atRestKey: Buffer,
    /** RFC 5246 F.1.4 suggests at most 24 hours. */
    private readonly lifetimeMs = 24 * 3600_000,
  ) {}

  async get(id: string): Promise<CachedSession | undefined> {
    const sealed = await this.store.get(id);
    const plain = sealed && openAtRest(this.atRestKey, sealed, `dtls-resume:${id}`);
    if (!plain) return undefined;
    try {
      const s = JSON.parse(plain.toString('utf8')) as Stored;
      if (Date.now() - s.createdAt > this.lifetimeMs) return undefined;
      return {
        id,
        cipherSuite: s.cipherSuite,
        masterSecret: Buffer.from(s.masterSecret, 'hex'),
        extendedMasterSecret: s.extendedMasterSecret,
        identity: identityFrom(s.identity),
        createdAt: s.createdAt,
      };
    } catch {
      return undefined;
    }
  }

  async set(s: CachedSession): Promise<void> {
    const stored: Stored = {
      cipherSuite: s.cipherSuite,
      masterSecret: s.masterSecret.toString('hex'),
      extendedMasterSecret: s.extendedMasterSecret,
      identity: identityTo(s.identity),
      createdAt: s.createdAt,
    };
    const sealed = sealAtRest(this.atRestKey, Buffer.from(JSON.stringify(stored)), `dtls-resume:${s.id}`);
    await this.store.set(s.id, sealed, this.lifetimeMs);
  }

  async delete(id: string): Promise<void> {
    await this.store.delete(id);
  }
}

function identityTo(i: PeerIdentity): Stored['identity'] {
  if (i.type === 'psk') return i;
  if (i.type === 'rpk') return { type: 'rpk', publicKey: i.publicKey.toString('hex') };
  // A DTLS session never holds an OSCORE identity (that one is per request).
  if (i.type === 'oscore') throw new Error('an OSCORE identity is not a DTLS session identity');
  return { type: 'x509', subject: i.subject, certificate: i.certificate.toString('hex') };
}

function identityFrom(i: Stored['identity']): PeerIdentity {
  if (i.type === 'psk') return i;
  if (i.type === 'rpk') return { type: 'rpk', publicKey: Buffer.from(i.publicKey, 'hex') };
  return { type: 'x509', subject: i.subject, certificate: Buffer.from(i.certificate, 'hex') };
}
