// The anti-replay sliding window of RFC 6347 section 4.1.2.6 (RFC 4303 section 3.4.3), 64 records wide.
// Two 32-bit words instead of a BigInt: no allocation per record, and cheap to snapshot.

export interface ReplayWindowState {
  /** Highest sequence number accepted so far, -1 before any. */
  top: number;
  /** Bits 0..31 of the bitmap: bit i set = record (top - i) was received. */
  lo: number;
  /** Bits 32..63. */
  hi: number;
}

export const WINDOW_SIZE = 64;

export class ReplayWindow implements ReplayWindowState {
  top = -1;
  lo = 0;
  hi = 0;

  static from(s: ReplayWindowState): ReplayWindow {
    const w = new ReplayWindow();
    w.top = s.top;
    w.lo = s.lo >>> 0;
    w.hi = s.hi >>> 0;
    return w;
  }

  /** True when `seq` is new: above the window, or inside it and not yet seen. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const d = this.top - seq;
    if (d >= WINDOW_SIZE) return false;
    const bit = d < 32 ? (this.lo >>> d) & 1 : (this.hi >>> (d - 32)) & 1;
    return bit === 0;
  }

  /** Marks `seq` as received; call only after the record authenticated (RFC 6347 section 4.1.2.6). */
  accept(seq: number): void {
    if (seq > this.top) {
      const n = this.top < 0 ? WINDOW_SIZE : seq - this.top;
      if (n >= WINDOW_SIZE) {
        this.lo = 0;
        this.hi = 0;
      } else if (n >= 32) {
        this.hi = (this.lo << (n - 32)) >>> 0;
        this.lo = 0;
      } else {
        this.hi = ((this.hi << n) | (this.lo >>> (32 - n))) >>> 0;
        this.lo = (this.lo << n) >>> 0;
      }
      this.top = seq;
      this.lo = (this.lo | 1) >>> 0;
      return;
    }
    const d = this.top - seq;
    if (d >= WINDOW_SIZE) return;
    if (d < 32) this.lo = (this.lo | (1 << d)) >>> 0;
    else this.hi = (this.hi | (1 << (d - 32))) >>> 0;
  }

  state(): ReplayWindowState {
    return { top: this.top, lo: this.lo, hi: this.hi };
  }
}
