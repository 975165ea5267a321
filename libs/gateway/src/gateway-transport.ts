// One DatagramTransport for the gateway's single CoapEndpoint: CoAP NoSec on UDP (5683, optional) and CoAP
// over DTLS (5684), so one Lwm2mServer (one DeviceClient, one expiry worker) serves both ports.
//  - incoming DTLS datagrams carry Peer.identity (the credential the handshake authenticated, which the
//    registration handler binds to the endpoint name) and Peer.ref, the session: set once by libs/dtls;
//  - peer keys are formatSessionRef of the peer's session (libs/transport): a DTLS session's is its CID
//    when one was negotiated (RFC 9146), so dedup, exchanges and observations survive a NAT rebinding;
//  - a peer that came over DTLS, or that Peer.secure marks (a registration made over DTLS), is only ever
//    sent to over DTLS: never in plaintext, even when its session is gone (the send then fails).
import {
  addressRef,
  cidHexOf,
  type DatagramTransport,
  defaultPeerKey,
  formatSessionRef,
  type Peer,
  securedTransport,
} from '@lwm2m/transport';
import { type DtlsPeer, isDtlsPeer, type DtlsServer } from '@lwm2m/dtls';

export class GatewayTransport implements DatagramTransport {
  constructor(
    private readonly plain: DatagramTransport | undefined,
    private readonly dtls: DtlsServer | undefined,
    /** Cluster mode: brings the session of a CID (hex) here when another node held it; true when local now. */
    private readonly ensureSession?: (cid: string) => Promise<boolean>,
  ) {}

  send(data: Buffer, peer: Peer): Promise<void> {
    if (this.isSecured(peer)) {
      if (this.dtls === undefined) return Promise.reject(new Error('coaps is not enabled'));
      if (isDtlsPeer(peer)) return this.dtls.send(data, peer);
      return this.sendToSession(this.dtls, data, peer);
    }
    if (this.plain === undefined) return Promise.reject(new Error('CoAP NoSec is disabled'));
    return this.plain.send(data, peer);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.plain?.onDatagram(listener);
    this.dtls?.onDatagram(listener);
  }

  peerKey(peer: Peer): string {
    if (isDtlsPeer(peer)) return peer.session.key;
    if (!this.isSecured(peer)) return defaultPeerKey(peer);
    if (peer.ref !== undefined) return formatSessionRef(peer.ref);
    // A server-initiated request names the device by address: its session's key, so the answer (which
    // arrives through the session) matches the exchange.
    return this.dtls?.session(addressRef(peer, true))?.key ?? formatSessionRef(addressRef(peer, true));
  }

  async close(): Promise<void> {
    await Promise.all([this.plain?.close(), this.dtls?.close()]);
  }

  /**
   * A server-initiated message names the device as its registration knows it: find the session by the
   * recorded ref (its CID survives address changes), else by address; in a cluster, a CID session another
   * node held (and lost) is taken over first.
   */
  private async sendToSession(dtls: DtlsServer, data: Buffer, peer: Peer): Promise<void> {
    const ref = peer.ref;
    let session = ref === undefined ? undefined : dtls.session(ref);
    const cid = cidHexOf(ref);
    if (session === undefined && cid !== undefined && this.ensureSession !== undefined) {
      if (await this.ensureSession(cid)) session = dtls.session(ref!);
    }
    if (session !== undefined) return dtls.send(data, { ...peer, session } as DtlsPeer);
    return dtls.send(data, peer);
  }

  private isSecured(peer: Peer): boolean {
    // An OSCORE identity protects the message, not the datagram: it goes over CoAP (5683).
    return securedTransport(peer) || isDtlsPeer(peer);
  }
}
