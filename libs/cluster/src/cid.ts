// Connection IDs that name their owner node (RFC 9146 leaves the CID's content to the server): version byte,
// 16-bit node id, random bytes. Any node reads the owner from the first record of a datagram without any
// state, so a datagram that a load balancer sent to the wrong node goes straight to the right one.
// Version 2 adds the worker thread of the node (GATEWAY_WORKERS): version, node id, worker index, random
// bytes. The main thread that owns the sockets reads the worker the same way and hands the record to it, the
// in-process twin of the cluster link's forwarding (libs/udp WorkerDispatcher).
import { randomBytes } from 'node:crypto';

export const CID_VERSION = 0x01;
/** The layout with a worker index after the node id. */
export const CID_VERSION_WORKER = 0x02;
/** Version + node id + at least 4 random bytes: below this a CID cannot carry a node id safely. */
export const MIN_CLUSTER_CID_LENGTH = 7;
/** Version + node id + worker index + at least 4 random bytes. */
export const MIN_WORKER_CID_LENGTH = 8;
export const MAX_NODE_ID = 0xffff;
export const MAX_WORKERS = 256;

/** RFC 9146 section 4: content type (1) + version (2) + epoch (2) + sequence number (6), then the CID. */
const CID_OFFSET = 11;
const TLS12_CID = 25;

/** CIDs naming node `nodeId` and, when given, its worker thread `worker` (0..255, layout version 2). */
export function cidGenerator(nodeId: number, worker?: number): (length: number) => Buffer {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID)
    throw new Error(`cluster: node id must be 0..${MAX_NODE_ID}`);
  if (worker !== undefined && (!Number.isInteger(worker) || worker < 0 || worker >= MAX_WORKERS))
    throw new Error(`cluster: worker index must be 0..${MAX_WORKERS - 1}`);
  const min = worker === undefined ? MIN_CLUSTER_CID_LENGTH : MIN_WORKER_CID_LENGTH;
  return (length) => {
    if (length < min)
      throw new Error(
        `cluster: CIDs need at least ${min} bytes to name their node${worker === undefined ? '' : ' and worker'}`,
      );
    const cid = randomBytes(length);
    cid[0] = worker === undefined ? CID_VERSION : CID_VERSION_WORKER;
    cid.writeUInt16BE(nodeId, 1);
    if (worker !== undefined) cid[3] = worker;
    return cid;
  };
}

/** The node a CID of ours names, or undefined for a CID of another layout. */
export function ownerOfCid(cid: Buffer): number | undefined {
  if (cid.length >= MIN_CLUSTER_CID_LENGTH && cid[0] === CID_VERSION) return cid.readUInt16BE(1);
  if (cid.length >= MIN_WORKER_CID_LENGTH && cid[0] === CID_VERSION_WORKER) return cid.readUInt16BE(1);
  return undefined;
}

/** The worker thread a CID of ours names (layout version 2), or undefined. */
export function workerOfCid(cid: Buffer): number | undefined {
  if (cid.length < MIN_WORKER_CID_LENGTH || cid[0] !== CID_VERSION_WORKER) return undefined;
  return cid[3];
}

/**
 * Which of `workers` worker threads a datagram belongs to when it starts with a tls12_cid record: the worker
 * its CID names, or for a CID of another layout (issued before workers, or by a plain random generator) one
 * picked from the CID's bytes, so every record of a session lands on one worker whatever its source address
 * (a NAT rebinding). Undefined for every other datagram: the caller places those by source address.
 */
export function workerOfDatagram(datagram: Buffer, cidLength: number, workers: number): number | undefined {
  const cid = peekCid(datagram, cidLength);
  if (cid === undefined) return undefined;
  return workerOfSession(cid, workers);
}

/**
 * The worker thread that holds the DTLS session of `cid` (of `workers`): the records of the session go there
 * (workerOfDatagram), and so must the commands to its device (libs/gateway workers.ts).
 */
export function workerOfSession(cid: Uint8Array, workers: number): number {
  const named = workerOfCid(Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength));
  // A CID naming a worker beyond the count (GATEWAY_WORKERS lowered since) is placed by its bytes too.
  if (named !== undefined && named < workers) return named;
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < cid.length; i++) h = Math.imul(h ^ cid[i]!, 0x01000193);
  return (h >>> 0) % workers;
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
