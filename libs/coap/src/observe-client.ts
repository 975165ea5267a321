// RFC 7641 section 3.4: ordering of notifications on the client.

/** 2^23: half of the 24-bit Observe sequence space. */
const HALF_SPACE = 0x800000;
/** RFC 7641 section 3.4: after 128 seconds a notification is newer whatever its number. */
export const OBSERVE_REORDER_WINDOW_MS = 128_000;

/**
 * RFC 7641 section 3.4: whether the notification (v2, t2) is newer than (v1, t1), where v are
 * Observe values and t the local receive times in milliseconds.
 */
export function isNewerNotification(v1: number, t1: number, v2: number, t2: number): boolean {
  return (
    (v1 < v2 && v2 - v1 < HALF_SPACE) ||
    (v1 > v2 && v1 - v2 > HALF_SPACE) ||
    t2 > t1 + OBSERVE_REORDER_WINDOW_MS
  );
}

/** Tracks the freshest notification of one observation. */
export class NotificationOrder {
  private last?: { v: number; t: number };

  /** Records (v, t) and returns true when it is newer than every notification seen so far. */
  accept(v: number, t: number): boolean {
    if (this.last !== undefined && !isNewerNotification(this.last.v, this.last.t, v, t)) return false;
    this.last = { v, t };
    return true;
  }
}
