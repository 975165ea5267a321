// PeerTable (peer-state.ts): one entry per peer key, bounded, numeric message-layer keys, busy peers kept.
import { describe, expect, it } from 'vitest';
import { PeerTable } from '../src/peer-state';

const at = (port: number) => ({ address: '10.0.0.1', port });

describe('PeerTable', () => {
  it('interns one entry per key with its latest address and distinct numeric MID keys', () => {
    const t = new PeerTable(10);
    const a = t.intern('a', at(1), true);
    expect(t.intern('a', at(2), true)).toBe(a);
    expect(a.heardFrom?.port).toBe(2);
    // An outgoing request does not move the address: only a datagram received does.
    t.intern('a', at(3), false);
    expect(a.heardFrom?.port).toBe(2);
    // A peer only ever sent to has no address of its own: the caller's is used.
    const c = t.intern('c', at(5), false);
    expect(c.heardFrom).toBeUndefined();
    expect(c.addressOr(at(6)).port).toBe(6);
    const b = t.intern('b', at(4), true);
    expect(a.midKey(0xffff)).not.toBe(b.midKey(0));
    expect(new Set([a.midKey(1), a.midKey(2), b.midKey(1)]).size).toBe(3);
  });

  it('stays bounded under a flood of new peers, keeping busy ones and giving heard ones a second chance', () => {
    const t = new PeerTable(100);
    const busy = t.intern('busy', at(1), true);
    busy.outstanding = 1;
    const chatty = t.intern('chatty', at(2), true);
    for (let i = 0; i < 10_000; i++) {
      t.intern(`flood-${i}`, at(1000 + i), true);
      if (i % 50 === 0) t.intern('chatty', at(2), true);
    }
    expect(t.size).toBeLessThanOrEqual(101);
    expect(t.get('busy')).toBe(busy);
    expect(t.get('chatty')).toBe(chatty);
    expect(t.get('flood-0')).toBeUndefined();
  });
});
