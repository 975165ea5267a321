// Small Buffers a session keeps for its lifetime: an idle session should not pay for empty ones, nor pin a
// whole datagram through a view of it.

/** The one zero-length Buffer every session shares (no peer CID, no session id). */
export const EMPTY_BUFFER = Buffer.alloc(0);

/** A copy of bytes a session keeps (not a view into a datagram), or EMPTY_BUFFER when there are none. */
export function sessionBytes(b: Uint8Array): Buffer {
  return b.length === 0 ? EMPTY_BUFFER : Buffer.from(b);
}
