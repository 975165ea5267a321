// The session cache of RFC 5246 section 7.4.1.2 (resumption by session_id), behind an interface so a
// cluster can keep it in Redis. Entries carry the master secret: stores must protect them like keys.
import type { PeerIdentity } from '@lwm2m/transport';

export interface CachedSession {
  /** session_id, hex. */
  id: string;
  cipherSuite: number;
  masterSecret: Buffer;
  extendedMasterSecret: boolean;
  /** The authenticated identity of the original full handshake. */
  identity: PeerIdentity;
  /** ms since epoch. */
  createdAt: number;
}

export interface SessionCache {
  get(id: string): Promise<CachedSession | undefined> | CachedSession | undefined;
  set(session: CachedSession): Promise<void> | void;
  delete(id: string): Promise<void> | void;
}

/** In-process LRU with a lifetime (RFC 5246 F.1.4 suggests an upper limit of 24 hours). */
export class InMemorySessionCache implements SessionCache {
  private readonly map = new Map<string, CachedSession>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly lifetimeMs = 24 * 3600_000,
  ) {}

  get(id: string): CachedSession | undefined {
    const s = this.map.get(id);
    if (s === undefined) return undefined;
    if (Date.now() - s.createdAt > this.lifetimeMs) {
      this.map.delete(id);
      return undefined;
    }
    return s;
  }

  set(session: CachedSession): void {
    this.map.delete(session.id);
    this.map.set(session.id, session);
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  delete(id: string): void {
    this.map.delete(id);
  }

  get size(): number {
    return this.map.size;
  }
}
