// The anti-replay sliding window of RFC 6347 section 4.1.2.6 (RFC 4303 section 3.4.3), 64 entries wide:
// DTLS records (libs/dtls) and OSCORE requests (RFC 8613 section 7.4, libs/oscore) both use it.
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
  /**
   * The bitmap words kept as signed 32-bit values: V8 stores those inline as small integers, while an
   * unsigned word with bit 31 set (a full window) would need a separate heap number per session.
   */
  private low = 0;
  private high = 0;

  static from(s: ReplayWindowState): ReplayWindow {
    const w = new ReplayWindow();
    w.load(s);
    return w;
  }

  get lo(): number {
    return this.low >>> 0;
  }

  get hi(): number {
    return this.high >>> 0;
  }

  /** Takes over a saved state (a snapshot). */
  load(s: ReplayWindowState): void {
    this.top = s.top;
    this.low = s.lo | 0;
    this.high = s.hi | 0;
  }

  /** True when `seq` is new: above the window, or inside it and not yet seen. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const d = this.top - seq;
    if (d >= WINDOW_SIZE) return false;
    const bit = d < 32 ? (this.low >>> d) & 1 : (this.high >>> (d - 32)) & 1;
    return bit === 0;
  }

  /** Marks `seq` as received; call only after the record authenticated (RFC 6347 section 4.1.2.6). */
  accept(seq: number): void {
    if (seq > this.top) {
      const n = this.top < 0 ? WINDOW_SIZE : seq - this.top;
      if (n >= WINDOW_SIZE) {
        this.low = 0;
        this.high = 0;
      } else if (n >= 32) {
        this.high = this.low << (n - 32);
        this.low = 0;
      } else {
        this.high = (this.high << n) | (this.low >>> (32 - n));
        this.low = this.low << n;
      }
      this.top = seq;
      this.low |= 1;
      return;
    }
    const d = this.top - seq;
    if (d >= WINDOW_SIZE) return;
    if (d < 32) this.low |= 1 << d;
    else this.high |= 1 << (d - 32);
  }

  state(): ReplayWindowState {
    return { top: this.top, lo: this.lo, hi: this.hi };
  }
}
