// How group-observe reaches the network for multicast: interfaces only. libs/udp implements them over
// IP multicast (node:dgram), libs/registry over Redis pub/sub (the leg inside a cluster whose pod
// network has no IP multicast).
import type { Peer } from '@lwm2m/coap';

/** Sends one datagram from SRV_ADDR:SRV_PORT to GRP_ADDR:GRP_PORT (section 2.3). */
export interface MulticastSender {
  send(data: Buffer, group: Peer): Promise<void>;
}

export interface MulticastMembership {
  leave(): Promise<void>;
}

/** Receives datagrams sent to a group (section 3.2 step 1: the client's endpoint for GRP_ADDR:GRP_PORT). */
export interface MulticastReceiver {
  join(group: Peer, onDatagram: (data: Buffer, source: Peer) => void): Promise<MulticastMembership>;
}

/** IP multicast through the server's own CoAP transport, so notifications leave from SRV_ADDR:SRV_PORT. */
export function transportMulticastSender(transport: {
  send(data: Buffer, peer: Peer): Promise<void>;
}): MulticastSender {
  return { send: (data, group) => transport.send(data, group) };
}
