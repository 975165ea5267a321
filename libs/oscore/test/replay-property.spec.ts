// RFC 8613 section 7.4 as a property: whatever the network does to a stream of OSCORE requests (reorder,
// duplicate, drop), the server accepts each request at most once, and accepts every first copy that is
// still inside the window (64 behind the newest accepted).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoapCode, CoapType, createMessage, OptionNumber as O } from '@lwm2m/coap';
import { protectRequest, SecurityContext, verifyRequest } from '@lwm2m/oscore';

describe('replay protection under reordering and duplication', () => {
  it('accepts each request at most once, and every first arrival within the window', () => {
    const client = new SecurityContext({
      masterSecret: Buffer.alloc(16, 3),
      senderId: Buffer.from([1]),
      recipientId: Buffer.from([2]),
    });
    const sent = Array.from({ length: 120 }, (_, i) => {
      const r = protectRequest(
        client,
        createMessage({
          type: CoapType.NON,
          code: CoapCode.GET,
          options: [{ number: O.URI_PATH, value: Buffer.from(String(i)) }],
        }),
      );
      if (!r.ok) throw new Error(r.reason);
      return r.message;
    });
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: sent.length - 1 }), { minLength: 1, maxLength: 300 }),
        (arrivals) => {
          const server = client.mirrored();
          const accepted = new Set<number>();
          let top = -1;
          for (const i of arrivals) {
            const r = verifyRequest(sent[i], () => server);
            const fresh = !accepted.has(i) && i > top - 64;
            if (r.ok) {
              expect(accepted.has(i)).toBe(false);
              expect(r.message.options[0].value.toString()).toBe(String(i));
              accepted.add(i);
              top = Math.max(top, i);
            } else {
              expect(r.reason).toBe('replay');
            }
            expect(r.ok).toBe(fresh);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
