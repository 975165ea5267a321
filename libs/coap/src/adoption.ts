// The hook for responses with an unknown token (cluster takeover): before such a CON or NON response is
// rejected with RST (RFC 7252 section 4.2, RFC 7641 section 3.6) the endpoint may ask whether it is a
// notification of an observation another node started. The lookup is asynchronous and bounded; responses
// with the same token wait for the same answer, in order.
import type { PeerState } from './peer-state';
import type { Peer } from '@lwm2m/transport';

/** See CoapEndpointOptions.adoptResponse. */
export type AdoptResponse = (token: Buffer, peer: Peer, peerKey: string) => Promise<boolean>;

export interface AdoptionContext {
  /** Whether (peer key, token key) is now an observation of this client (looked up by key: the peer's
   * state may have been forgotten and made anew meanwhile). */
  isObserved(peerKey: string, tkey: string): boolean;
  onAdopted(): void;
  log: { warn(m: string, c?: Record<string, unknown>): void };
}

export class Adoption {
  adopt?: AdoptResponse;
  /** Lookups in flight, per peer state and token key. */
  private readonly inFlight = new Map<PeerState, Map<string, Promise<boolean>>>();
  private waiting = 0;

  constructor(
    adopt: AdoptResponse | undefined,
    private readonly maxWaiting: number,
    private readonly ctx: AdoptionContext,
  ) {
    this.adopt = adopt;
  }

  /**
   * The decision for a response with this unknown token, or undefined when it must be rejected at once
   * (no hook, empty token, or too many waiting: a flood of made-up tokens must not pile up lookups).
   * `done` must be called once the caller has acted on the decision.
   */
  decide(
    ps: PeerState,
    tkey: string,
    token: Buffer,
    peer: Peer,
  ): { decision: Promise<boolean>; done(): void } | undefined {
    if (this.adopt === undefined || token.length === 0 || this.waiting >= this.maxWaiting) return undefined;
    let byToken = this.inFlight.get(ps);
    if (byToken === undefined) this.inFlight.set(ps, (byToken = new Map()));
    let decision = byToken.get(tkey);
    if (decision === undefined) {
      const lookup = this.ask(ps, tkey, token, peer);
      byToken.set(tkey, lookup);
      void lookup.then(() => {
        const m = this.inFlight.get(ps);
        if (m?.get(tkey) === lookup) m.delete(tkey);
        if (m?.size === 0) this.inFlight.delete(ps);
      });
      decision = lookup;
    }
    this.waiting++;
    let finished = false;
    return {
      decision,
      done: () => {
        if (!finished) this.waiting--;
        finished = true;
      },
    };
  }

  clear(): void {
    this.inFlight.clear();
  }

  /** adoptResponse's answer; never rejects. */
  private async ask(ps: PeerState, tkey: string, token: Buffer, peer: Peer): Promise<boolean> {
    const adopt = this.adopt;
    if (adopt === undefined) return false;
    try {
      if ((await adopt(Buffer.from(token), peer, ps.key)) !== true) return false;
    } catch (err) {
      this.ctx.log.warn('coap: adoptResponse failed', { peer: ps.key, error: String(err) });
      return false;
    }
    if (!this.ctx.isObserved(ps.key, tkey)) {
      this.ctx.log.warn('coap: adoptResponse resolved true without resumeObservation', { peer: ps.key });
      return false;
    }
    this.ctx.onAdopted();
    return true;
  }
}
