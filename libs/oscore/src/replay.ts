// RFC 8613 section 7.4 and Appendix B.1.2: replay protection of requests on the Recipient Context. The
// sliding window is the one DTLS uses (libs/bytes ReplayWindow, 64 wide; the RFC's default is 32). A
// window lost in a restart is not guessed: the first request is answered with an OSCORE-protected 4.01
// carrying an Echo option (RFC 9175), and the Partial IV of the request that returns it becomes the
// window's lower limit.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ReplayWindow, type ReplayWindowState } from '@lwm2m/bytes';

/** Every number from `top` down the window's width marked as seen: nothing at or below `top` passes. */
function floorAt(top: number): ReplayWindowState {
  return { top, lo: 0xffffffff, hi: 0xffffffff };
}

export class RecipientReplay {
  /** Undefined while the window is unknown (after a restart without it): Echo first. */
  private window: ReplayWindow | undefined;
  private echo: Buffer | undefined;

  private constructor(window: ReplayWindow | undefined) {
    this.window = window;
  }

  /** A new context: no Partial IV seen yet. */
  static fresh(): RecipientReplay {
    return new RecipientReplay(new ReplayWindow());
  }

  /** A window saved elsewhere (a snapshot, another node's report). */
  static restored(state: ReplayWindowState): RecipientReplay {
    return new RecipientReplay(ReplayWindow.from(state));
  }

  /**
   * The highest Partial IV some earlier owner accepted is known but not the window below it (a takeover
   * that has only the last reported mark): everything up to it is refused.
   */
  static above(top: number): RecipientReplay {
    return new RecipientReplay(ReplayWindow.from(floorAt(top)));
  }

  /** The window was lost (a restart): requests are verified for freshness with Echo (Appendix B.1.2). */
  static unknown(): RecipientReplay {
    return new RecipientReplay(undefined);
  }

  get needsEcho(): boolean {
    return this.window === undefined;
  }

  /** True when the Partial IV `seq` was not received before (always true while the window is unknown). */
  check(seq: number): boolean {
    return this.window === undefined || this.window.check(seq);
  }

  /** Marks `seq` received; only after the request authenticated (section 7.4). */
  accept(seq: number): void {
    this.window?.accept(seq);
  }

  /** The Echo value to send in the 4.01 (a new one each time: the last one sent is the one accepted). */
  challenge(): Buffer {
    this.echo = randomBytes(8);
    return this.echo;
  }

  /**
   * An authenticated request with Partial IV `seq` carried `echo`: when it is the value we sent, the window
   * starts at `seq` (nothing older is accepted) and true is returned.
   */
  answer(echo: Buffer | undefined, seq: number): boolean {
    const sent = this.echo;
    if (
      sent === undefined ||
      echo === undefined ||
      echo.length !== sent.length ||
      !timingSafeEqual(echo, sent)
    )
      return false;
    this.echo = undefined;
    this.window = ReplayWindow.from(floorAt(seq));
    return true;
  }

  /** For snapshots; undefined while unknown. */
  state(): ReplayWindowState | undefined {
    return this.window?.state();
  }
}
