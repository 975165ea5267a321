// Which session a peer is: its address (NoSec UDP, or a DTLS session without a Connection ID), or the
// Connection ID of a DTLS session (RFC 9146), which survives the device's address changing. The one place that
// turns a SessionRef into text (map keys, the registration record in a store) and text back into one.

/** The session of a peer, typed. */
import type { PeerIdentity } from './transport';
export type SessionRef =
  | {
      readonly kind: 'address';
      readonly address: string;
      readonly port: number;
      /** A DTLS session keyed by address (no CID negotiated); false for NoSec UDP. */
      readonly secure: boolean;
    }
  /** A DTLS session by the CID the peer puts in its records to us (always secured). */
  | { readonly kind: 'cid'; readonly cid: Uint8Array };

/** The session of a peer known by its address. */
export function addressRef(peer: { address: string; port: number }, secure = false): SessionRef {
  return { kind: 'address', address: peer.address, port: peer.port, secure };
}

/** The DTLS session named by Connection ID `cid` (bytes, or lower-case hex). */
export function cidRef(cid: Uint8Array | string): SessionRef {
  return { kind: 'cid', cid: typeof cid === 'string' ? Buffer.from(cid, 'hex') : cid };
}

/** The CID in hex, or undefined for an address ref. */
export function cidHexOf(ref: SessionRef | undefined): string | undefined {
  return ref?.kind === 'cid' ? hex(ref.cid) : undefined;
}

const SECURE = 'coaps:';
const CID = 'cid:';

/**
 * The text of a session ref, for map keys and storage: "1.2.3.4:5683", "[::1]:5683" (NoSec);
 * "coaps:1.2.3.4:5684" (DTLS by address); "coaps:cid:0a1b..." (DTLS by CID). Equal refs give equal text.
 */
export function formatSessionRef(ref: SessionRef): string {
  if (ref.kind === 'cid') return SECURE + CID + hex(ref.cid);
  const at = ref.address.includes(':') ? `[${ref.address}]:${ref.port}` : `${ref.address}:${ref.port}`;
  return ref.secure ? SECURE + at : at;
}

/** A stored or received session ref that is not one (the text is not repeated: it may be anything). */
export class InvalidSessionRef extends Error {
  constructor(reason: string) {
    super(`invalid session ref: ${reason}`);
    this.name = 'InvalidSessionRef';
  }
}

/** Longest text formatSessionRef can produce (a 255-byte CID, RFC 9146 section 3), with room to spare. */
const MAX_TEXT = 600;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(0|[1-9]\d{0,4})$/;
const IPV6 = /^\[([0-9A-Fa-f:.]{2,45}(?:%[0-9A-Za-z._-]{1,32})?)\]:(0|[1-9]\d{0,4})$/;
const HEX_CID = /^(?:[0-9a-f]{2}){1,255}$/;

/** Reads what formatSessionRef wrote; throws InvalidSessionRef on anything else (it reads stored data). */
export function parseSessionRef(text: string): SessionRef {
  if (typeof text !== 'string') throw new InvalidSessionRef('not text');
  if (text.length > MAX_TEXT) throw new InvalidSessionRef('too long');
  const secure = text.startsWith(SECURE);
  const rest = secure ? text.slice(SECURE.length) : text;
  if (rest.startsWith(CID)) {
    if (!secure) throw new InvalidSessionRef('a CID names a DTLS session only');
    const h = rest.slice(CID.length);
    if (!HEX_CID.test(h)) throw new InvalidSessionRef('CID is not 1..255 bytes of lower-case hex');
    return { kind: 'cid', cid: Buffer.from(h, 'hex') };
  }
  const v4 = IPV4.exec(rest);
  if (v4 !== null) {
    if (v4.slice(1, 5).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0'))))
      throw new InvalidSessionRef('bad IPv4 address');
    return addressRef({ address: v4.slice(1, 5).join('.'), port: port(v4[5]!) }, secure);
  }
  const v6 = IPV6.exec(rest);
  if (v6 !== null) {
    if (!v6[1]!.includes(':')) throw new InvalidSessionRef('bad IPv6 address');
    return addressRef({ address: v6[1]!, port: port(v6[2]!) }, secure);
  }
  throw new InvalidSessionRef('neither address:port nor a CID');
}

/** Whether two refs name the same session. */
export function sameSessionRef(a: SessionRef, b: SessionRef): boolean {
  if (a.kind === 'cid') return b.kind === 'cid' && Buffer.compare(a.cid, b.cid) === 0;
  return b.kind === 'address' && a.address === b.address && a.port === b.port && a.secure === b.secure;
}

function port(digits: string): number {
  const n = Number(digits);
  if (n > 65535) throw new InvalidSessionRef('port out of range');
  return n;
}

function hex(bytes: Uint8Array): string {
  return (
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  ).toString('hex');
}

/**
 * The session of a peer as its transport delivered it: the ref a secured transport set, else its address
 * (secured when the peer came with an authenticated identity or must only be reached securely).
 */
export function sessionRefOf(peer: {
  address: string;
  port: number;
  ref?: SessionRef;
  identity?: PeerIdentity;
  secure?: boolean;
}): SessionRef {
  return peer.ref ?? addressRef(peer, securedTransport(peer));
}

/**
 * Whether the peer is reached over a secured transport (DTLS). An OSCORE identity protects messages, not
 * datagrams: such a peer is on plain CoAP, keyed by its address like a NoSec one.
 */
export function securedTransport(peer: { identity?: PeerIdentity; secure?: boolean }): boolean {
  return peer.secure === true || (peer.identity !== undefined && peer.identity.type !== 'oscore');
}
