// A DtlsServer as the DatagramTransport of a CoAP endpoint that needs to know who a peer is: each datagram
// carries Peer.identity, the credential the session's handshake authenticated (PSK identity, raw public key,
// certificate). The gateway's GatewayTransport does the same for its combined NoSec + DTLS transport; the
// Bootstrap-Server's secure port uses this one.
import type { DatagramTransport, Peer } from '@lwm2m/transport';
import { isDtlsPeer } from './peer';
import type { DtlsServer } from './server';

export class IdentifiedDtlsTransport implements DatagramTransport {
  constructor(readonly dtls: DtlsServer) {}

  send(data: Buffer, peer: Peer): Promise<void> {
    return this.dtls.send(data, peer);
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.dtls.onDatagram((data, peer) => {
      // DtlsIdentity has PeerIdentity's shape; only established sessions deliver application data.
      const identity = isDtlsPeer(peer) ? peer.session.identity : undefined;
      listener(data, identity ? { ...peer, identity } : peer);
    });
  }

  peerKey(peer: Peer): string {
    return this.dtls.peerKey(peer);
  }

  close(): Promise<void> {
    return this.dtls.close();
  }
}
