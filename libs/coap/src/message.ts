// RFC 7252 section 3: Message Format. The in-memory shape of one CoAP message; codec.ts reads and
// writes it, options.ts gives typed access to its options.

/** RFC 7252 section 3: T (Type), 2 bits. */
export enum CoapType {
  CON = 0,
  NON = 1,
  ACK = 2,
  RST = 3,
}

/** One option as it appears on the wire: number and raw value bytes. */
export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapMessage {
  type: CoapType;
  /** 8-bit code: class << 5 | detail (RFC 7252 section 3). 0 is the Empty message. */
  code: number;
  /** 16-bit Message ID. */
  messageId: number;
  /** 0..8 bytes. */
  token: Buffer;
  /**
   * Options in wire order (ascending number; repeated options keep their relative order).
   * The encoder sorts stably by number, so callers may append in any order.
   */
  options: CoapOption[];
  /** Empty Buffer when there is no payload (no payload marker is then written). */
  payload: Buffer;
}

/** RFC 7252 section 3: Ver MUST be 1. */
export const COAP_VERSION = 1;
