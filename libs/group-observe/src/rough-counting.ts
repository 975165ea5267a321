// Section 5 and Appendix B: rough counting of the clients in a group observation with the
// Multicast-Response-Feedback-Divider option.

/** Appendix B.3 constants (and section 5.2's M and MAX_CONFIRMATION_WAIT), all configurable. */
export interface RoughCountingParams {
  /** M, the number of confirmations the server would like to receive (section 5.2.1). */
  desiredConfirmations: number;
  /** MAX_CONFIRMATION_WAIT in ms (section 5.2.2: MAX_RTT + MAX_CLIENT_REQUEST_DELAY = 452 s by default). */
  maxConfirmationWaitMs: number;
  /** D, the dampener (B.3: 4). */
  dampener: number;
  /** B.3 RETRY_NEXT_THRESHOLD: 4. */
  retryNextThreshold: number;
  /** B.3 CANCEL_THRESHOLD: 0.2; an estimate below it cancels the group observation (section 2.5). */
  cancelThreshold: number;
  /** B.3: "Next count update after 10 multicast notifications". */
  notificationsBetweenCounts: number;
  /** When the first count update happens, in multicast notifications after the group starts. */
  firstCountAfter: number;
}

export const DEFAULT_ROUGH_COUNTING: Readonly<RoughCountingParams> = Object.freeze({
  desiredConfirmations: 8,
  maxConfirmationWaitMs: 452_000,
  dampener: 4,
  retryNextThreshold: 4,
  cancelThreshold: 0.2,
  notificationsBetweenCounts: 10,
  firstCountAfter: 10,
});

/** Section 5.2.1: Q = max(ceil(log2(N / M)), 0) with N = max(COUNT, 1). */
export function feedbackDivider(count: number, desiredConfirmations: number): number {
  const n = Math.max(count, 1);
  const m = Math.max(desiredConfirmations, 1);
  // The option is 0-1 bytes long (Figure 1), so Q tops out at 255.
  return Math.min(255, Math.max(Math.ceil(Math.log2(n / m)), 0));
}

/**
 * Appendix B.2 respond_to(Q): true with probability 2^-Q, drawing 32 random bits at a time so any Q
 * (up to 255) works. `random32` returns a uniform integer in [0, 2^32).
 */
export function respondTo(q: number, random32: () => number): boolean {
  let rest = q;
  while (rest >= 32) {
    if (random32() !== 0) return false;
    rest -= 32;
  }
  const mask = rest === 0 ? 0 : (0xffffffff >>> (32 - rest)) >>> 0;
  return (random32() & mask) >>> 0 === 0;
}

export interface CountUpdate {
  /** E = R * 2^Q. */
  estimate: number;
  /** COUNT' + (E - N) / D (integer division, B.3); the counter becomes 0 when `cancel`. */
  newCount: number;
  /** B.3: cancel when NEW_COUNT < CANCEL_THRESHOLD. */
  cancel: boolean;
  /** Multicast notifications until the next count update (B.3: 1 or 10). */
  nextCountIn: number;
}

/**
 * Appendix B.3 from "Time t2": R confirmations arrived for divider Q, N was the counter used to pick
 * Q, COUNT' is the counter now (clients added meanwhile included).
 */
export function updateCount(
  r: number,
  q: number,
  n: number,
  countPrime: number,
  p: Pick<
    RoughCountingParams,
    'dampener' | 'retryNextThreshold' | 'cancelThreshold' | 'notificationsBetweenCounts'
  >,
): CountUpdate {
  const e = r * 2 ** q;
  const nextCountIn =
    r === 0 || Math.max(e / n, n / e) > p.retryNextThreshold ? 1 : p.notificationsBetweenCounts;
  const newCount = countPrime + Math.trunc((e - n) / p.dampener);
  const cancel = newCount < p.cancelThreshold;
  return { estimate: e, newCount, cancel, nextCountIn };
}
