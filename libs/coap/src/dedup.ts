// RFC 7252 section 4.5: message deduplication by (endpoint, Message ID) for EXCHANGE_LIFETIME / NON_LIFETIME.

export interface DedupEntry {
  expiresAt: number;
  /** The reply sent for this message (piggybacked response, empty ACK or RST), re-sent on a duplicate CON. */
  reply?: Buffer;
}

/**
 * A bounded insertion-ordered cache. Entries are swept from the oldest end on insertion; when it
 * is full the oldest entry is dropped (a late duplicate is then processed again, which RFC 7252
 * section 4.5 tolerates for idempotent requests and is the price of bounded memory).
 */
export class DedupCache {
  private readonly entries = new Map<string, DedupEntry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): DedupEntry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  add(key: string, lifetime: number, now: number): DedupEntry {
    this.sweep(now);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const entry: DedupEntry = { expiresAt: now + lifetime };
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }

  private sweep(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
