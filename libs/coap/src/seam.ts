// The seam between the exchange layer (tokens, Observe, block-wise, the handler) and the message layer
// (Message IDs, deduplication, retransmission). Every request and response passes it: outbound after the
// layers above have shaped it and before the message layer gives it a Message ID, encodes and (re)sends it;
// inbound after deduplication and before token matching or the handler. Empty ACK/RST and pings never pass
// it (they belong to the message layer alone). OSCORE (RFC 8613) sits here next: it protects a request or
// response as a whole (section 8) and leaves the outer header, Message ID and token to the layers below.
import type { CoapMessage } from './message';
import type { Peer } from '@lwm2m/transport';

/** The peer a message goes to or came from, as the seam sees it: the transport's key and the address. */
export interface SeamPeer {
  key: string;
  peer: Peer;
}

/** The inbound message the layers above see, or undefined to drop it. */
export type SeamInbound = CoapMessage | undefined;

export interface MessageSeam {
  /**
   * A request or response on its way out; returns the message to send (the same or a new one). Throwing
   * fails the request (a peer that must not be sent to in the clear, and no key for it).
   */
  outbound(msg: CoapMessage, peer: SeamPeer): CoapMessage;
  /**
   * A request or response on its way in; returns the message the layers above see, or undefined to drop
   * it (e.g. it failed verification; the seam does its own counting and error reply). It may set
   * `from.peer` to the peer the layers above see (OSCORE: the same address with the identity the request
   * authenticated). A promise (a key looked up in a store) holds the message meanwhile: a duplicate CON is
   * dropped until it settles. `reply` answers a request with this message as is (an unprotected error, an
   * Echo challenge), piggybacked on a CON's ACK or as a NON; it is never passed to `outbound`.
   */
  inbound(
    msg: CoapMessage,
    from: SeamPeer,
    reply: (res: CoapMessage) => void,
  ): SeamInbound | Promise<SeamInbound>;
}

/** No transformation: what an endpoint without OSCORE uses. */
export const IDENTITY_SEAM: MessageSeam = Object.freeze({
  outbound: (msg: CoapMessage) => msg,
  inbound: (msg: CoapMessage) => msg,
});
