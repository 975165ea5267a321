// RFC 8613 sections 7.2 and 7.5, Appendix B.1.1: sender sequence numbers come from leases written before use,
// so a restart, a second process or a takeover never reuses a Partial IV (and so never an AEAD nonce).
import { describe, expect, it } from 'vitest';
import { CoapCode, CoapType, createMessage } from '@lwm2m/coap';
import {
  InMemorySequenceLeaseStore,
  leasedSequence,
  MAX_SEQUENCE_NUMBER,
  protectRequest,
  SecurityContext,
  SenderSequence,
  type SequenceLeaseStore,
} from '@lwm2m/oscore';

const tick = () => new Promise((r) => setImmediate(r));
const take = (s: SenderSequence, n: number): number[] =>
  Array.from({ length: n }, () => {
    const v = s.take();
    if (v === undefined) throw new Error('exhausted');
    return v;
  });

describe('SenderSequence', () => {
  it('counts from 0 and stops at 2^40 - 1 (section 7.2.1)', () => {
    expect(take(new SenderSequence(), 3)).toEqual([0, 1, 2]);
    const s = new SenderSequence(MAX_SEQUENCE_NUMBER);
    expect(s.take()).toBe(MAX_SEQUENCE_NUMBER);
    expect(s.take()).toBeUndefined();
  });

  it('a context whose sequence is spent protects nothing (sequence-exhausted)', () => {
    const ctx = new SecurityContext(
      { masterSecret: Buffer.alloc(16, 1), senderId: Buffer.from([1]), recipientId: Buffer.from([2]) },
      { sequence: new SenderSequence(MAX_SEQUENCE_NUMBER + 1) },
    );
    const r = protectRequest(ctx, createMessage({ type: CoapType.CON, code: CoapCode.GET }));
    expect(r).toMatchObject({ ok: false, reason: 'sequence-exhausted' });
  });
});

describe('leased sender sequences', () => {
  it('a restart resumes at the end of the last lease, above every number used before (B.1.1)', async () => {
    const store = new InMemorySequenceLeaseStore();
    const before = await leasedSequence({ store, contextKey: 'ctx', block: 10 });
    const used = take(before, 7);
    expect(used).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await tick(); // the next lease was reserved at the halfway mark
    // The process dies here, without writing anything more.
    const after = await leasedSequence({ store, contextKey: 'ctx', block: 10 });
    const next = take(after, 3);
    expect(Math.min(...next)).toBeGreaterThan(Math.max(...used));
    expect(next[0]).toBe(store.end('ctx')! - 10);
  });

  it('two processes sharing one context (a cluster, a takeover) never take the same number', async () => {
    const store = new InMemorySequenceLeaseStore();
    const a = await leasedSequence({ store, contextKey: 'ctx', block: 8 });
    const b = await leasedSequence({ store, contextKey: 'ctx', block: 8 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      for (const s of [a, b]) {
        let v = s.take();
        while (v === undefined) {
          await tick();
          v = s.take();
        }
        expect(seen.has(v)).toBe(false);
        seen.add(v);
      }
      if (i % 3 === 0) await tick();
    }
    expect(seen.size).toBe(400);
  });

  it('stops at the end of its lease while the store is unreachable, and goes on once it answers', async () => {
    let fail = true;
    const inner = new InMemorySequenceLeaseStore();
    const errors: unknown[] = [];
    const store: SequenceLeaseStore = {
      reserve: async (key, block) => {
        if (fail && inner.end(key) !== undefined) throw new Error('store down');
        return inner.reserve(key, block);
      },
    };
    const s = await leasedSequence({ store, contextKey: 'ctx', block: 4, onError: (e) => errors.push(e) });
    expect(take(s, 4)).toEqual([0, 1, 2, 3]);
    await tick();
    expect(s.take()).toBeUndefined();
    await tick();
    expect(errors.length).toBeGreaterThan(0);
    fail = false;
    expect(s.take()).toBeUndefined(); // asks again
    await tick();
    expect(s.take()).toBe(4);
  });

  it('refuses a lease block too small to renew ahead', async () => {
    await expect(
      leasedSequence({ store: new InMemorySequenceLeaseStore(), contextKey: 'x', block: 1 }),
    ).rejects.toThrow(RangeError);
  });
});
