// RFC 6347 sections 4.2.2 and 4.2.3: in-order delivery of handshake messages by message_seq, reassembly
// of fragments (in any order, overlapping allowed), and a bounded buffer for messages that arrive early.
import type { HandshakeFragment } from './header';

export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

interface Partial {
  msgType: number;
  body: Buffer;
  /** Sorted, merged [start, end) ranges received so far. */
  ranges: [number, number][];
}

/** How far ahead of the next expected message_seq fragments are buffered. */
const MAX_AHEAD = 8;
/** Bytes all buffered partial messages may take. */
const MAX_BUFFERED = 64 * 1024;

export type FragmentVerdict = 'accepted' | 'old' | 'ignored';

export class HandshakeReassembler {
  /** message_seq of the next message to deliver. */
  nextSeq = 0;
  private readonly pending = new Map<number, Partial>();
  private buffered = 0;

  /** Takes a fragment; 'old' means a message already delivered (a retransmission by the peer). */
  add(f: HandshakeFragment): FragmentVerdict {
    if (f.messageSeq < this.nextSeq) return 'old';
    if (f.messageSeq > this.nextSeq + MAX_AHEAD) return 'ignored';
    let p = this.pending.get(f.messageSeq);
    if (p === undefined) {
      if (this.buffered + f.length > MAX_BUFFERED) return 'ignored';
      p = { msgType: f.msgType, body: Buffer.alloc(f.length), ranges: [] };
      this.pending.set(f.messageSeq, p);
      this.buffered += f.length;
    } else if (p.msgType !== f.msgType || p.body.length !== f.length) {
      return 'ignored'; // inconsistent with fragments seen before: RFC 6347 lets us discard it
    }
    f.body.copy(p.body, f.fragmentOffset);
    p.ranges = merge(p.ranges, f.fragmentOffset, f.fragmentOffset + f.body.length);
    return 'accepted';
  }

  /** The next complete message in message_seq order, if any. */
  next(): HandshakeMessage | undefined {
    const p = this.pending.get(this.nextSeq);
    if (p === undefined) return undefined;
    const complete =
      p.body.length === 0 ||
      (p.ranges.length === 1 && p.ranges[0][0] === 0 && p.ranges[0][1] === p.body.length);
    if (!complete) return undefined;
    this.pending.delete(this.nextSeq);
    this.buffered -= p.body.length;
    return { msgType: p.msgType, messageSeq: this.nextSeq++, body: p.body };
  }

  clear(): void {
    this.pending.clear();
    this.buffered = 0;
  }
}

function merge(ranges: [number, number][], start: number, end: number): [number, number][] {
  if (end <= start) return ranges;
  const out: [number, number][] = [];
  let s = start;
  let e = end;
  let placed = false;
  for (const [a, b] of ranges) {
    if (b < s) out.push([a, b]);
    else if (a > e) {
      if (!placed) {
        out.push([s, e]);
        placed = true;
      }
      out.push([a, b]);
    } else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  if (!placed) out.push([s, e]);
  return out;
}
