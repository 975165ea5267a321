// The Peer the DTLS transports hand to the layer above: the address plus the session it came through, its
// ref and the identity its handshake authenticated (built once per datagram, passed up unchanged).
import { defaultPeerKey, deliverToListeners, type Logger, type Peer } from '@lwm2m/transport';
import type { DtlsSession } from './connection';

export interface DtlsPeer extends Peer {
  session: DtlsSession;
}

export function isDtlsPeer(p: Peer): p is DtlsPeer {
  return (p as DtlsPeer).session !== undefined;
}

/** Key of a peer without a CID: its address, in the same form the UDP transport uses. */
export function addressKey(p: Peer): string {
  return defaultPeerKey(p);
}

/** Hands one session's application data to every listener; a listener that throws is logged, not fatal. */
export function deliverSessionData(
  listeners: readonly ((data: Buffer, peer: Peer) => void)[],
  session: DtlsSession & { peer: Peer },
  data: Buffer,
  logger: Logger,
): void {
  const peer: DtlsPeer = {
    address: session.peer.address,
    port: session.peer.port,
    family: session.peer.family,
    session,
    ref: session.ref,
    identity: session.identity,
  };
  deliverToListeners(listeners, data, peer, logger, { session: session.key }, 'dtls');
}

export type SessionEvent = 'handshake' | 'close' | 'peer-moved' | 'sequence-low';

/** Tiny typed event registry (no node:events dependency in the hot path). */
export class SessionEvents {
  private readonly handshake: ((s: DtlsSession) => void)[] = [];
  private readonly close: ((s: DtlsSession, reason: string) => void)[] = [];
  private readonly moved: ((s: DtlsSession, from: Peer) => void)[] = [];
  private readonly sequenceLow: ((s: DtlsSession) => void)[] = [];

  on(event: 'handshake', fn: (s: DtlsSession) => void): void;
  on(event: 'close', fn: (s: DtlsSession, reason: string) => void): void;
  on(event: 'peer-moved', fn: (s: DtlsSession, from: Peer) => void): void;
  on(event: 'sequence-low', fn: (s: DtlsSession) => void): void;
  on(event: SessionEvent, fn: (...args: never[]) => void): void {
    if (event === 'handshake') this.handshake.push(fn as (s: DtlsSession) => void);
    else if (event === 'sequence-low') this.sequenceLow.push(fn as (s: DtlsSession) => void);
    else if (event === 'close') this.close.push(fn as (s: DtlsSession, reason: string) => void);
    else this.moved.push(fn as (s: DtlsSession, from: Peer) => void);
  }

  emitHandshake(s: DtlsSession): void {
    for (const f of this.handshake) f(s);
  }

  emitClose(s: DtlsSession, reason: string): void {
    for (const f of this.close) f(s, reason);
  }

  emitMoved(s: DtlsSession, from: Peer): void {
    for (const f of this.moved) f(s, from);
  }

  emitSequenceLow(s: DtlsSession): void {
    for (const f of this.sequenceLow) f(s);
  }
}
