// Deterministic loss for message-layer tests: drop rules for MemoryNetwork (or any transport wrapper).
import type { DatagramTransport, DropRule, Peer } from '@lwm2m/coap';
import { prng } from '../../../../test/support/fuzz';

/** Drops the first n datagrams offered to the network. */
export function dropFirst(n: number): DropRule {
  let seen = 0;
  return () => seen++ < n;
}

/** Drops a fraction of datagrams using the seeded PRNG of the fuzz harness, so a run is reproducible. */
export function seededDropFraction(fraction: number, seed: number): DropRule {
  const next = prng(seed);
  return () => next() < fraction;
}

/**
 * Wraps a real transport and drops datagrams by rule, in either direction, logging when each datagram
 * was offered: loss injected between two endpoints that talk over real UDP sockets.
 */
export class LossyTransport implements DatagramTransport {
  /** Every datagram offered to send, with Date.now() at that moment and whether it was dropped. */
  readonly sent: Array<{ at: number; data: Buffer; dropped: boolean }> = [];

  constructor(
    private readonly inner: DatagramTransport,
    private readonly rules: { dropSend?: DropRule; dropReceive?: DropRule } = {},
  ) {}

  async send(data: Buffer, peer: Peer): Promise<void> {
    const dropped = this.rules.dropSend?.(data, { address: '', port: 0 }, peer) ?? false;
    this.sent.push({ at: Date.now(), data, dropped });
    if (!dropped) await this.inner.send(data, peer);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.inner.onDatagram((data, peer) => {
      if (!this.rules.dropReceive?.(data, peer, { address: '', port: 0 })) listener(data, peer);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
