// RFC 8613 section 7.5 and Appendix B.1.1: the OSCORE Sender Sequence Number leases of libs/oscore
// (leasedSequence) kept in Redis. A reservation is one INCRBY of the lease end, which returns the new end:
// the start is end - block. Every process, after any restart or takeover, gets numbers nobody was ever
// given, so no AEAD nonce is used twice (the same rule as the DTLS write sequence leases of libs/cluster).
// One key per context with its own hash tag: a Redis Cluster spreads contexts over the slots.
// The LwM2M gateway's contexts and the group-observer's Group OSCORE context share this store, each with its
// own key names.
import type { SequenceLeaseStore } from '@lwm2m/oscore';
import type { RedisClient } from './redis-client';

export class RedisSequenceLeaseStore implements SequenceLeaseStore {
  constructor(
    private readonly redis: RedisClient,
    /** The Redis key of a context's lease end (keys.ts oscoreSequence, or the group-observer's). */
    private readonly keyOf: (contextKey: string) => string,
  ) {}

  async reserve(contextKey: string, block: number): Promise<number> {
    if (!Number.isSafeInteger(block) || block <= 0)
      throw new RangeError(`lease block ${block} is not positive`);
    const end = await this.redis.incrby(this.keyOf(contextKey), block);
    return end - block;
  }
}
