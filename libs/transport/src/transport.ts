// The datagram boundary below every protocol layer (Californium's element-connector): UDP, DTLS and the
// cluster link implement DatagramTransport; CoAP (RFC 7252 section 1.2 "Endpoint") and DTLS consume it. This
// lib imports no other lib, so DTLS knows nothing of CoAP (DESIGN.md "The seams").
import { addressRef, formatSessionRef, type SessionRef } from './session-ref';

/**
 * Who a secured transport proved the peer to be (the DTLS handshake's authenticated credential).
 * psk: RFC 4279 psk_identity; rpk: the DER SubjectPublicKeyInfo of RFC 7250; x509: the validated client
 * certificate (DER), whose structured subject and subjectAltName say who it is, and its subject rendered as
 * text for logs only (the text can't tell an attribute from a value containing "CN=").
 */
export type DtlsPeerIdentity =
  | { type: 'psk'; identity: string }
  | { type: 'rpk'; publicKey: Buffer }
  | { type: 'x509'; subject: string; certificate: Buffer };

/** A DTLS identity, or one an OSCORE-protected request proved (RFC 8613). */
export type PeerIdentity =
  | DtlsPeerIdentity
  /**
   * Incoming: an OSCORE-protected request (RFC 8613) that verified with the Recipient Context of `kid` (the
   * peer's Sender ID), provisioned for `endpoint`; set per request by the OSCORE seam above the datagram.
   * Outgoing: the device is addressed with its endpoint's OSCORE context (no `kid` needed).
   */
  | { type: 'oscore'; kid?: Buffer; endpoint: string };

/** Where a datagram came from or goes to. A DTLS transport may add fields (e.g. its session). */
export interface Peer {
  address: string;
  port: number;
  family?: 'IPv4' | 'IPv6';
  /** Set by a secured transport on incoming datagrams; absent on NoSec (plain UDP). */
  identity?: PeerIdentity;
  /**
   * Outgoing: this peer may only be reached over a secured transport (it registered over DTLS). A transport
   * that carries both NoSec and DTLS never sends such a datagram in plaintext.
   */
  secure?: boolean;
  /**
   * The peer's session. Incoming: set by a secured transport (once per session, not per datagram). Outgoing:
   * the session as a registration recorded it; a DTLS transport finds the session by it (its Connection ID)
   * even after the device's address changed, and in a cluster even when the session must first be taken over
   * from another node.
   */
  ref?: SessionRef;
}

/**
 * What the message layer needs from below. Errors of the network are the transport's to log;
 * `send` rejects only when the transport is closed or the datagram cannot be sent at all.
 */
export interface DatagramTransport {
  send(data: Buffer, peer: Peer): Promise<void>;
  onDatagram(listener: (data: Buffer, peer: Peer) => void): void;
  close(): Promise<void>;
  /**
   * Identity of a peer for deduplication, exchanges and observations. A DTLS transport keys by
   * session (Connection ID, RFC 9146) so that a NAT rebinding keeps matching.
   */
  peerKey?(peer: Peer): string;
}

/** The key of a peer known by its address only: "1.2.3.4:5683" or "[::1]:5683" (formatSessionRef). */
export function defaultPeerKey(peer: Peer): string {
  return formatSessionRef(addressRef(peer));
}

/** The logger the protocol libs take: structured context, never key material. */
export interface Logger {
  debug?(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

/**
 * Hands one datagram to every listener of a transport; a listener that throws is logged, not fatal (one
 * catch boundary per datagram: bad input from one peer never stops the transport).
 */
export function deliverToListeners(
  listeners: readonly ((data: Buffer, peer: Peer) => void)[],
  data: Buffer,
  peer: Peer,
  logger: Logger,
  context?: Record<string, unknown>,
  /** Who delivers, the prefix of the warning ("udp", "dtls"). */
  source = 'transport',
): void {
  for (const l of listeners) {
    try {
      l(data, peer);
    } catch (err) {
      logger.warn(
        `${source}: listener threw`,
        context ? { ...context, error: String(err) } : { error: String(err) },
      );
    }
  }
}
