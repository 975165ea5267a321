// Bounds how many sessions keep their record ciphers set up. A session's two AES-CCM directions hold four
// OpenSSL contexts (a few KB outside the JS heap): worth keeping while a session is busy, not for the many
// idle sessions of a gateway. Sessions not used lately give their ciphers up, when the cache is full or
// after a minute or two of silence, and set them up again (from their key block) when they next send or
// receive.

export interface CipherHolder {
  /** Set on every use of the ciphers; the cache clears it when it passes by (CLOCK, "second chance"). */
  cipherUsed: boolean;
  dropCiphers(): void;
}

/**
 * CLOCK replacement: using a cipher costs one boolean store, not a reordering of the cache. Only when a
 * new holder pushes the cache past its capacity does it walk from the oldest entry: used ones go to the
 * back (their flag cleared), the first unused one loses its ciphers.
 */
export class CipherCache {
  /** Holders in the order the clock hand visits them. */
  private readonly holders = new Set<CipherHolder>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly capacity: number,
    private readonly sweepMs = 60_000,
  ) {}

  get size(): number {
    return this.holders.size;
  }

  /** `h` just set its ciphers up. */
  add(h: CipherHolder): void {
    h.cipherUsed = true;
    this.holders.add(h);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.sweepMs);
      this.timer.unref();
    }
    // every holder gets its flag cleared within one lap, so this ends after at most size + 1 steps
    while (this.holders.size > this.capacity) {
      const oldest = this.holders.values().next().value!;
      this.holders.delete(oldest);
      if (oldest.cipherUsed) {
        oldest.cipherUsed = false;
        this.holders.add(oldest);
      } else {
        oldest.dropCiphers();
      }
    }
  }

  /** `h` gave its ciphers up (closed, or new keys). */
  forget(h: CipherHolder): void {
    this.holders.delete(h);
    if (this.holders.size === 0) this.stop();
  }

  /** Idle sessions let their ciphers go: those not used since the last sweep (run every sweepMs). */
  sweep(): void {
    for (const h of this.holders) {
      if (h.cipherUsed) {
        h.cipherUsed = false;
      } else {
        this.holders.delete(h);
        h.dropCiphers();
      }
    }
    if (this.holders.size === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
