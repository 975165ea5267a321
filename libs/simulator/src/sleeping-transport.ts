// LwM2M TS 1.1 Transport section 6.5 / Core 6.5 (Queue Mode): a client in queue mode turns its radio off
// between awake windows. This wrapper plays the radio: while asleep, datagrams in and out are lost.
import type { DatagramTransport, Peer } from '@lwm2m/coap';

export class SleepingTransport implements DatagramTransport {
  private asleep = false;
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];
  /** Datagrams lost while asleep (received and not sent). */
  droppedIn = 0;
  droppedOut = 0;
  /** Called on every datagram that goes through (the awake window restarts on activity). */
  onActivity?: () => void;

  constructor(private readonly inner: DatagramTransport) {
    inner.onDatagram((data, peer) => {
      if (this.asleep) {
        this.droppedIn++;
        return;
      }
      this.onActivity?.();
      for (const l of this.listeners) l(data, peer);
    });
    if (inner.peerKey) this.peerKey = (peer: Peer) => inner.peerKey!(peer);
  }

  peerKey?: (peer: Peer) => string;

  get sleeping(): boolean {
    return this.asleep;
  }

  sleep(): void {
    this.asleep = true;
  }

  wake(): void {
    this.asleep = false;
  }

  send(data: Buffer, peer: Peer): Promise<void> {
    if (this.asleep) {
      this.droppedOut++;
      return Promise.resolve();
    }
    this.onActivity?.();
    return this.inner.send(data, peer);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
