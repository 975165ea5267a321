// The cluster-internal link: a datagram a node received for a session another node owns travels to the
// owner unchanged, with the device's source address and the relaying node's id; the owner's answers travel
// back the same way and leave through the relay (it holds the load balancer's flow). Every envelope carries
// an HMAC-SHA256 (truncated to 16 bytes) under the cluster key and a timestamp, so nothing outside the
// cluster can inject a datagram "from" a device, and an old envelope cannot be replayed later.
//
//   magic 'LK' (2) | version (1) | kind (1) | node (2) | sentAt ms (6) | family 4|6 (1) | address (4|16)
//   | port (2) | payload (*) | tag (16)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import { workerOfDatagram } from './cid';

export const LINK_VERSION = 1;
const MAGIC0 = 0x4c;
const MAGIC1 = 0x4b;
const TAG = 16;
const FIXED = 2 + 1 + 1 + 2 + 6 + 1;

export enum LinkKind {
  /** A device's datagram, received by `node`, for the owner of its session. */
  Uplink = 1,
  /** A datagram for the device: `node` (the owner) asks the relay to send it from its public socket. */
  Downlink = 2,
  /**
   * An uplink passed on once more: the first hop followed the CID's node hint, but the session had moved (a
   * takeover); `node` is still the relay that received it. Never forwarded again.
   */
  UplinkSecondHop = 3,
  /**
   * An uplink from a node that is draining: it released the session (its lease is gone or going), so the
   * receiver takes the session over even if its view of the cluster still shows the sender alive.
   */
  UplinkHandover = 4,
}

export interface LinkEnvelope {
  kind: LinkKind;
  /** The sending node. */
  node: number;
  sentAt: number;
  /** The device: source of an uplink, destination of a downlink. */
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  payload: Buffer;
}

function ipBytes(address: string, family: 'IPv4' | 'IPv6'): Buffer {
  if (family === 'IPv4') {
    if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(address))
      throw new Error(`cluster link: not an IPv4 address: ${address}`);
    return Buffer.from(address.split('.').map(Number));
  }
  // An IPv4-mapped tail (::ffff:1.2.3.4, as dual-stack sockets report) becomes its two hex groups.
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    address = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  if (!/^[0-9a-fA-F:]+$/.test(address) || !address.includes(':'))
    throw new Error(`cluster link: not an IPv6 address: ${address}`);
  const [head, tail = ''] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g: string, i: number) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

function ipText(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function encodeLink(env: LinkEnvelope, key: Buffer): Buffer {
  const addr = ipBytes(env.address, env.family);
  const head = Buffer.allocUnsafe(FIXED + addr.length + 2);
  head[0] = MAGIC0;
  head[1] = MAGIC1;
  head[2] = LINK_VERSION;
  head[3] = env.kind;
  head.writeUInt16BE(env.node, 4);
  head.writeUIntBE(env.sentAt, 6, 6);
  head[12] = env.family === 'IPv4' ? 4 : 6;
  addr.copy(head, FIXED);
  head.writeUInt16BE(env.port, FIXED + addr.length);
  const tag = createHmac('sha256', key).update(head).update(env.payload).digest().subarray(0, TAG);
  return Buffer.concat([head, env.payload, tag]);
}

/**
 * Verifies and decodes an envelope. Throws DecodeError for anything malformed, unauthenticated or outside
 * the freshness window (`maxSkewMs` either way of `now`).
 */
export function decodeLink(data: Buffer, key: Buffer, now: number, maxSkewMs = 30_000): LinkEnvelope {
  const fail = (reason: string, message: string): never => {
    throw new DecodeError(reason, message, 'cluster-link');
  };
  if (data.length < FIXED + 4 + 2 + TAG) fail('truncated', 'envelope too short');
  if (data[0] !== MAGIC0 || data[1] !== MAGIC1) fail('bad-magic', 'not a cluster link envelope');
  if (data[2] !== LINK_VERSION) fail('bad-version', `unknown link version ${data[2]}`);
  const kind = data[3]!;
  if (kind < LinkKind.Uplink || kind > LinkKind.UplinkHandover) fail('bad-kind', `unknown kind ${kind}`);
  const fam = data[12];
  if (fam !== 4 && fam !== 6) fail('bad-family', `unknown address family ${fam}`);
  const alen = fam === 4 ? 4 : 16;
  const headLen = FIXED + alen + 2;
  if (data.length < headLen + TAG) fail('truncated', 'envelope too short for its address');
  const body = data.subarray(0, data.length - TAG);
  const tag = data.subarray(data.length - TAG);
  const expected = createHmac('sha256', key).update(body).digest().subarray(0, TAG);
  if (!timingSafeEqual(tag, expected)) fail('bad-tag', 'envelope does not authenticate');
  const sentAt = data.readUIntBE(6, 6);
  if (Math.abs(now - sentAt) > maxSkewMs) fail('stale', 'envelope outside the freshness window');
  return {
    kind: kind as LinkKind,
    node: data.readUInt16BE(4),
    sentAt,
    family: fam === 4 ? 'IPv4' : 'IPv6',
    address: ipText(data.subarray(FIXED, FIXED + alen)),
    port: data.readUInt16BE(FIXED + alen),
    payload: data.subarray(headLen, data.length - TAG),
  };
}

/**
 * GATEWAY_WORKERS: which worker thread of the receiving node an uplink envelope goes to, read from the CID of
 * the device's datagram it carries (workerOfDatagram), before any check: the worker authenticates it
 * (decodeLink). Undefined for anything else (downlinks, junk): the caller places those by source.
 */
export function workerOfLinkEnvelope(data: Buffer, cidLength: number, workers: number): number | undefined {
  if (data.length < FIXED + 4 + 2 + TAG || data[0] !== MAGIC0 || data[1] !== MAGIC1) return undefined;
  if (data[3] === LinkKind.Downlink) return undefined;
  const family = data[FIXED - 1];
  const alen = family === 4 ? 4 : family === 6 ? 16 : -1;
  const start = FIXED + alen + 2;
  if (alen < 0 || start > data.length - TAG) return undefined;
  return workerOfDatagram(data.subarray(start, data.length - TAG), cidLength, workers);
}
