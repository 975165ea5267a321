// RFC 8613 section 7.5 and Appendix B.1.1: the OSCORE Sender Sequence Number leases of libs/oscore
// (leasedSequence) kept in Redis. A reservation is one INCRBY of the lease end, which returns the new end:
// the start is end - block. Every process, after any restart or takeover, gets numbers nobody was ever
// given, so no AEAD nonce is used twice (the same rule as the DTLS write sequence leases of libs/cluster).
// One key per context with its own hash tag: a Redis Cluster spreads contexts over the slots.
import type { SequenceLeaseStore } from '@lwm2m/oscore';
import type { RegistryKeys } from './keys';
import type { RedisClient } from './redis-client';

export class RedisSequenceLeaseStore implements SequenceLeaseStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {}

  async reserve(contextKey: string, block: number): Promise<number> {
    if (!Number.isSafeInteger(block) || block <= 0)
      throw new RangeError(`lease block ${block} is not positive`);
    const end = await this.redis.incrby(this.keys.oscoreSequence(contextKey), block);
    return end - block;
  }
}
