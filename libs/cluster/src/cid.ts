// Connection IDs that name their owner node (RFC 9146 leaves the CID's content to the server): version byte,
// 16-bit node id, random bytes. Any node reads the owner from the first record of a datagram without any
// state, so a datagram that a load balancer sent to the wrong node goes straight to the right one.
import { randomBytes } from 'node:crypto';

export const CID_VERSION = 0x01;
/** Version + node id + at least 4 random bytes: below this a CID cannot carry a node id safely. */
export const MIN_CLUSTER_CID_LENGTH = 7;
export const MAX_NODE_ID = 0xffff;

/** RFC 9146 section 4: content type (1) + version (2) + epoch (2) + sequence number (6), then the CID. */
const CID_OFFSET = 11;
const TLS12_CID = 25;

export function cidGenerator(nodeId: number): (length: number) => Buffer {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID)
    throw new Error(`cluster: node id must be 0..${MAX_NODE_ID}`);
  return (length) => {
    if (length < MIN_CLUSTER_CID_LENGTH)
      throw new Error(`cluster: CIDs need at least ${MIN_CLUSTER_CID_LENGTH} bytes to name their node`);
    const cid = randomBytes(length);
    cid[0] = CID_VERSION;
    cid.writeUInt16BE(nodeId, 1);
    return cid;
  };
}

/** The node a CID of ours names, or undefined for a CID of another layout. */
export function ownerOfCid(cid: Buffer): number | undefined {
  if (cid.length < MIN_CLUSTER_CID_LENGTH || cid[0] !== CID_VERSION) return undefined;
  return cid.readUInt16BE(1);
}

/**
 * The CID of the first record of a datagram when it is a tls12_cid record (RFC 9146 section 4), without
 * decoding or copying anything else. Undefined for every other datagram (handshakes, plain records, junk).
 */
export function peekCid(datagram: Buffer, cidLength: number): Buffer | undefined {
  if (cidLength === 0 || datagram.length < CID_OFFSET + cidLength + 2) return undefined;
  if (datagram[0] !== TLS12_CID || datagram[1] !== 0xfe || datagram[2] !== 0xfd) return undefined;
  return datagram.subarray(CID_OFFSET, CID_OFFSET + cidLength);
}
