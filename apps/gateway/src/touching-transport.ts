import { type DatagramTransport, defaultPeerKey, type Peer } from '@lwm2m/coap';

/**
 * Passes datagrams through and reports each uplink's peer: any datagram from a device proves it is
 * awake and where it is now (queue mode, NAT rebinding), not only Register and Update.
 */
export class TouchingTransport implements DatagramTransport {
  constructor(
    private readonly inner: DatagramTransport,
    private readonly onUplink: (peer: Peer) => void,
  ) {}

  send(data: Buffer, peer: Peer): Promise<void> {
    return this.inner.send(data, peer);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.inner.onDatagram((data, peer) => {
      listener(data, peer);
      this.onUplink(peer);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  peerKey(peer: Peer): string {
    return this.inner.peerKey ? this.inner.peerKey(peer) : defaultPeerKey(peer);
  }
}
