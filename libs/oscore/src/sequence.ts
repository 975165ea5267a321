// RFC 8613 sections 7.2 and 7.5, Appendix B.1.1: the Sender Sequence Number, never used twice with one key.
// Numbers are taken from leases reserved in a store before use, like the DTLS write sequence leases of
// libs/cluster (SessionKeeper): a lease of K numbers is written before the first of them is used, and the
// next start is where the last lease ended. That is B.1.1 ("store every K, restart at stored + K") with the
// store written ahead, and it holds across nodes too: every reservation, by any node or after any restart
// or takeover, gets numbers no one was ever given, so no AEAD nonce repeats.

/** RFC 8613 section 7.2.1: the Sender Sequence Number SHALL be less than 2^40. */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** Where the sender sequence leases of security contexts are kept (Redis in a cluster, a file on a device). */
export interface SequenceLeaseStore {
  /**
   * Atomically: reserves `block` numbers for the context named `contextKey`, starting where the previous
   * reservation ended (0 for a new context), and stores the new end. Resolves the start.
   */
  reserve(contextKey: string, block: number): Promise<number>;
}

/** For tests and single-process use: the leases live as long as the object (a restart loses them). */
export class InMemorySequenceLeaseStore implements SequenceLeaseStore {
  private readonly ends = new Map<string, number>();

  async reserve(contextKey: string, block: number): Promise<number> {
    const start = this.ends.get(contextKey) ?? 0;
    this.ends.set(contextKey, start + block);
    return start;
  }

  /** Where the next lease of a context starts (what a restart resumes from). */
  end(contextKey: string): number | undefined {
    return this.ends.get(contextKey);
  }
}

/**
 * The sender sequence of one security context. `take()` is synchronous, so reading and increasing the
 * number is atomic (section 7.2). Without a lease the whole space is the caller's (a context used by one
 * process that is never restarted, or tests).
 */
export class SenderSequence {
  private nextNumber: number;
  private limit: number;
  private lowMark = Number.MAX_SAFE_INTEGER;
  /** A lease reserved ahead, used once the current one runs out (it need not follow on directly). */
  private queued: { start: number; end: number } | undefined;
  private onLow: (() => void) | undefined;

  constructor(start = 0, limit = MAX_SEQUENCE_NUMBER + 1) {
    this.nextNumber = start;
    this.limit = Math.min(limit, MAX_SEQUENCE_NUMBER + 1);
  }

  /** The number the next message would use (for snapshots and tests). */
  get next(): number {
    return this.nextNumber;
  }

  /** The next Sender Sequence Number, or undefined when none may be used now (lease or 2^40 reached). */
  take(): number | undefined {
    if (this.nextNumber >= this.limit && this.queued !== undefined) {
      this.nextNumber = Math.max(this.nextNumber, this.queued.start);
      this.limit = Math.min(this.queued.end, MAX_SEQUENCE_NUMBER + 1);
      this.queued = undefined;
    }
    // Before the limit check: an exhausted lease whose renewal failed asks again here.
    if (this.nextNumber >= this.lowMark) {
      this.lowMark = Number.MAX_SAFE_INTEGER;
      this.onLow?.();
    }
    if (this.nextNumber >= this.limit) return undefined;
    return this.nextNumber++;
  }

  /**
   * Gives the numbers [start, end): at once when the current ones are used up, else after them. Reaching
   * `lowMark` calls `onLow` once (to reserve the next lease ahead of need).
   */
  lease(start: number, end: number, lowMark: number, onLow: () => void): void {
    if (this.nextNumber >= this.limit) {
      this.nextNumber = start;
      this.limit = Math.min(end, MAX_SEQUENCE_NUMBER + 1);
    } else {
      this.queued = { start, end };
    }
    this.lowMark = lowMark;
    this.onLow = onLow;
  }

  /** Calls `onLow` again at the next number taken (a reservation failed: ask again). */
  askAgain(): void {
    this.lowMark = this.nextNumber;
  }
}

export interface LeasedSequenceOptions {
  store: SequenceLeaseStore;
  /** The context's name in the store (e.g. its ID Context and Sender ID in hex). */
  contextKey: string;
  /** K of Appendix B.1.1: numbers reserved per store write. Default 1000. */
  block?: number;
  /** A failed reservation; the sequence keeps its current lease and asks again at its next use. */
  onError?: (err: unknown) => void;
}

/**
 * A SenderSequence whose numbers come from leases in `store`: the first lease is reserved before the
 * sequence is returned, and the next one in the background once half of the current one is used.
 */
export async function leasedSequence(opts: LeasedSequenceOptions): Promise<SenderSequence> {
  const block = opts.block ?? 1000;
  if (!Number.isInteger(block) || block < 2) throw new RangeError(`sequence lease block ${block} is below 2`);
  const seq = new SenderSequence(0, 0);
  const extend = (): void => {
    opts.store.reserve(opts.contextKey, block).then(
      (start) => seq.lease(start, start + block, start + block / 2, extend),
      (err: unknown) => {
        opts.onError?.(err);
        seq.askAgain();
      },
    );
  };
  const start = await opts.store.reserve(opts.contextKey, block);
  seq.lease(start, start + block, start + block / 2, extend);
  return seq;
}
