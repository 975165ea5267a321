// RFC 7252 section 4.5: message deduplication by (endpoint, Message ID) for EXCHANGE_LIFETIME / NON_LIFETIME.

export interface DedupEntry {
  expiresAt: number;
  /** The reply sent for this message (piggybacked response, empty ACK or RST), re-sent on a duplicate CON. */
  reply?: Buffer;
}

/**
 * A bounded insertion-ordered cache; the message layer keys it by a number (peer id * 2^16 + Message ID).
 * Expired entries go in sweep() (run from the endpoint's periodic sweep) and when looked up; when it is
 * full the oldest entry is dropped (a late duplicate is then processed again, which RFC 7252 section 4.5
 * tolerates for idempotent requests and is the price of bounded memory).
 */
export class DedupCache<K = string> {
  private readonly entries = new Map<K, DedupEntry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K, now: number): DedupEntry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  add(key: K, lifetime: number, now: number): DedupEntry {
    // Full: the oldest goes (expired ones went in the periodic sweep; no scan per datagram here).
    while (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
    const entry: DedupEntry = { expiresAt: now + lifetime };
    // Re-inserted at the young end when the key was there (a Message ID reused after expiry).
    if (this.entries.has(key)) this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Drops expired entries from the oldest end. Entries of one lifetime expire in insertion order; a CON
   * entry (longer lifetime) ahead of NON ones only delays theirs to its own expiry, never past the bound.
   */
  sweep(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
