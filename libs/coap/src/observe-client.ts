// RFC 7641 section 3 on the client: ordering of notifications (3.4), the client's observations, their
// notifications (3.2, with the rest of a block-wise body, RFC 7959 section 2.3) and cancellation (3.6).
import type { BlockValue } from './block';
import { readBlock, toResponse } from './blockwise-client';
import { codeClass } from './codes';
import type { CoapResponse, RequestOptions } from './exchange';
import { cloneMessage } from './exchange-layer';
import type { CoapMessage } from './message';
import { getObserve, OptionNumber, removeOption, setOption } from './options';
import type { PeerState } from './peer-state';
import { tokenKey } from './token-source';
import type { Peer } from '@lwm2m/transport';

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

// ---------------------------------------------------------------- the client's observations

/** One observation of this client, kept in its peer's PeerState.observations under the token key. */
export interface ClientObservation {
  peer: Peer;
  /** The registering GET/FETCH without Observe: block-wise follow-ups of notifications (RFC 7959 2.3). */
  base: CoapMessage;
  order: NotificationOrder;
  onNotification(res: CoapResponse): void;
}

/** What the observe client needs from the layers around it. */
export interface ObserveClientContext {
  /** One exchange (exchange layer); `accepts` filters responses carrying the token. */
  exchange(
    peer: Peer,
    template: CoapMessage,
    opts: RequestOptions,
    token: Buffer,
    accepts?: (msg: CoapMessage) => boolean,
  ): Promise<unknown>;
  /** The rest of a notification's body (block-wise client). */
  completeBlock2(
    peer: Peer,
    base: CoapMessage,
    first: { msg: CoapMessage; peer: Peer },
  ): Promise<CoapResponse>;
  isClosed(): boolean;
  now(): number;
  onStale(): void;
  log: {
    debug(m: string, c?: Record<string, unknown>): void;
    warn(m: string, c?: Record<string, unknown>): void;
  };
}

/** RFC 7641 section 3 on the client: registration bookkeeping, ordering, cancellation. */
export class ObserveClient {
  constructor(private readonly ctx: ObserveClientContext) {}

  /**
   * The observation of (`ps`, token) built from its registering GET/FETCH (with Observe=0): not yet
   * active (observe() activates it on a 2.xx with Observe, resumeObservation at once).
   */
  prepare(
    ps: PeerState,
    peer: Peer,
    register: CoapMessage,
    token: Buffer,
    onNotification: (res: CoapResponse) => void,
    opts: RequestOptions,
  ): { key: string; obs: ClientObservation; cancel: (o?: { proactive?: boolean }) => Promise<void> } {
    const key = tokenKey(token);
    const base = cloneMessage(register);
    removeOption(base, OptionNumber.OBSERVE);
    const obs: ClientObservation = { peer, base, order: new NotificationOrder(), onNotification };
    const cancel = async ({ proactive = false } = {}): Promise<void> => {
      if (ps.observations.get(key) === obs) ps.observations.delete(key);
      if (!proactive || this.ctx.isClosed()) return;
      const dereg = cloneMessage(register);
      setOption(dereg, OptionNumber.OBSERVE, 1);
      // A notification may still carry this token: only a response without Observe ends the GET.
      await this.ctx.exchange(peer, dereg, opts, token, (m) => getObserve(m) === undefined);
    };
    return { key, obs, cancel };
  }

  /** A response with the token of `obs` that no exchange took: a notification (RFC 7641 section 3.2). */
  receive(ps: PeerState, key: string, obs: ClientObservation, msg: CoapMessage, peer: Peer): void {
    obs.peer = peer;
    const seq = getObserve(msg);
    if (seq === undefined || codeClass(msg.code) !== 2) {
      // RFC 7641 section 3.2: an error or a response without Observe ends the observation.
      ps.observations.delete(key);
    } else if (!obs.order.accept(seq, this.ctx.now())) {
      this.ctx.onStale();
      return;
    }
    let block: BlockValue | undefined;
    try {
      block = readBlock(msg, OptionNumber.BLOCK2);
    } catch {
      block = undefined;
    }
    const emit = (res: CoapResponse): void => {
      try {
        obs.onNotification(res);
      } catch (err) {
        this.ctx.log.warn('coap: notification listener threw', { error: String(err) });
      }
    };
    if (block?.more) {
      // RFC 7959 section 2.3: the rest of a notification's body is fetched with plain GETs.
      this.ctx
        .completeBlock2(peer, obs.base, { msg, peer })
        .then(emit, (err: unknown) =>
          this.ctx.log.debug('coap: notification block fetch failed', { error: String(err) }),
        );
    } else {
      emit(toResponse(msg, peer, msg.payload));
    }
  }
}
