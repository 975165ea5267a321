// RFC 7252 section 5.3.2: the exchange layer of the client. A request's response is matched by token and
// peer (piggybacked on the ACK, or separate as a CON/NON of its own); the exchange ends with its response,
// an RST, the message layer giving up, its lifetime (EXCHANGE_LIFETIME / NON_LIFETIME, section 4.8.2, or
// RequestOptions.timeout) or an abort. Tokens are per-peer map keys (their hex, computed once per message);
// the lifetime is an entry of the endpoint's timer wheel.
import { CoapExchangeError, CoapResetError, CoapTimeoutError } from './errors';
import type { RequestOptions } from './exchange';
import { type CoapMessage, CoapType } from './message';
import type { MessageLayer, Transmission } from './message-layer';
import type { DerivedTimes } from './params';
import type { PeerState } from './peer-state';
import type { MessageSeam } from './seam';
import type { TimerWheel } from './timer-wheel';
import { tokenKey } from './token-source';
import type { Peer } from '@lwm2m/transport';

/** A response as the exchange layer delivers it. */
export interface Received {
  msg: CoapMessage;
  peer: Peer;
}

export interface ClientExchange {
  /** Whether a response with this token belongs to the exchange (false: handle it as a notification). */
  accepts(msg: CoapMessage): boolean;
  deliver(msg: CoapMessage, peer: Peer): void;
  fail(err: Error): void;
}

export function cloneMessage(m: CoapMessage): CoapMessage {
  return { ...m, options: m.options.map((o) => ({ number: o.number, value: o.value })) };
}

export class ExchangeLayer {
  private closed = false;

  constructor(
    private readonly ml: MessageLayer,
    private readonly wheel: TimerWheel,
    private readonly times: DerivedTimes,
    private readonly newToken: () => Buffer,
    private readonly seam: MessageSeam,
  ) {}

  /** The exchange waiting for a response with this token from this peer. */
  get(ps: PeerState, tkey: string): ClientExchange | undefined {
    return ps.exchanges.get(tkey);
  }

  /**
   * One request/response exchange. `token` fixes the token (observations, Block1 first block); otherwise a
   * fresh one unused with this peer. `accepts` may refuse a response with the token (it is then handled as
   * a notification); `onMatched` runs before the promise settles.
   */
  exchange(
    peer: Peer,
    peerKey: string,
    template: CoapMessage,
    opts: RequestOptions,
    token?: Buffer,
    accepts?: (msg: CoapMessage) => boolean,
    onMatched?: (msg: CoapMessage) => void,
  ): Promise<Received> {
    return new Promise<Received>((resolve, reject) => {
      if (this.closed) return reject(new CoapExchangeError('closed', 'endpoint closed'));
      const signal = opts.signal;
      if (signal?.aborted) return reject(new CoapExchangeError('cancelled', 'request aborted'));
      const ps = this.ml.peers.intern(peerKey, peer, false);
      let msg = cloneMessage(template);
      msg.token = token ?? this.newToken();
      let key = tokenKey(msg.token);
      while (token === undefined && ps.exchanges.has(key)) {
        msg.token = this.newToken();
        key = tokenKey(msg.token);
      }
      let tx: Transmission | undefined;
      const confirmable = msg.type === CoapType.CON;
      const timeout = opts.timeout ?? (confirmable ? this.times.exchangeLifetime : this.times.nonLifetime);
      const timer = this.wheel.schedule(timeout, () => ex.fail(new CoapTimeoutError('no response in time')));
      const onAbort = (): void => ex.fail(new CoapExchangeError('cancelled', 'request aborted'));
      const cleanup = (): void => {
        timer.cancel();
        if (ps.exchanges.get(key) === ex) ps.exchanges.delete(key);
        if (tx !== undefined && tx.state !== 'done') this.ml.finish(tx);
        signal?.removeEventListener('abort', onAbort);
      };
      const ex: ClientExchange = {
        accepts: accepts ?? (() => true),
        deliver: (m, p) => {
          cleanup();
          onMatched?.(m);
          resolve({ msg: m, peer: p });
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      ps.exchanges.get(key)?.fail(new CoapExchangeError('cancelled', 'token reused by a new request'));
      ps.exchanges.set(key, ex);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The seam (seam.ts): after token matching is set up, before Message IDs and retransmission.
      // The latest address, with the identity the caller addressed the peer by (OSCORE finds its context so).
      const to = ps.addressOr(peer);
      msg = this.seam.outbound(msg, {
        key: peerKey,
        peer: to === peer || peer.identity === undefined ? to : { ...to, identity: peer.identity },
      });
      if (confirmable) {
        tx = this.ml.sendConfirmable(ps, peer, msg, {
          onAck: () => undefined,
          onReset: () => ex.fail(new CoapResetError()),
          onFail: (err) => ex.fail(err),
        });
      } else {
        // A NON request goes where the caller said (it has no retransmission to follow the peer).
        this.ml.sendNon(ps, peer, msg, () => ex.fail(new CoapResetError()));
      }
    });
  }

  /** Fails every exchange (endpoint closed). */
  close(peers: Iterable<PeerState>): void {
    this.closed = true;
    const err = new CoapExchangeError('closed', 'endpoint closed');
    const all: ClientExchange[] = [];
    for (const ps of peers) all.push(...ps.exchanges.values());
    for (const ex of all) ex.fail(err);
  }
}
