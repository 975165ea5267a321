// The datagram boundary of the CoAP message layer (RFC 7252 section 1.2 "Endpoint"): UDP today, DTLS later.

/** Where a datagram came from or goes to. A DTLS transport may add fields (e.g. its session). */
export interface Peer {
  address: string;
  port: number;
  family?: 'IPv4' | 'IPv6';
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

/** "1.2.3.4:5683" or "[::1]:5683". */
export function defaultPeerKey(peer: Peer): string {
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
