// draft-ietf-core-groupcomm-proxy section 3: the value of the Reply-From option, a CBOR sequence (RFC 8742)
// of one CRI (scheme and authority only) and an optional CRI reference (scheme null; authority and/or
// path), draft-ietf-core-href. Draft -03 (IETF 110 slides, "Response-Forwarding") used instead one
// 'tp_info' array [tp_id: 1, srv_host: #6.260(bstr), ? srv_port: uint / null]. We write either and read both.
import { DecodeError } from '@lwm2m/bytes';
import { Decoder, Encoder, Tag } from 'cbor-x';
import { bytesToIp, ipToBytes } from '@lwm2m/group-observe';

/** How the origin server (or, behind a reverse-proxy, the proxy's stand-in for it) is reached. */
export interface ReplyFrom {
  /** URI scheme of the first CRI: "coap" for the UDP transport between proxy and servers. */
  scheme: string;
  /** An IP address (host-ip) or a host name. */
  host: string;
  /** Absent: the scheme's default port (5683 for coap). */
  port?: number;
  /**
   * Section 6.1 (reverse-proxy standing in for each server): the CRI reference whose authority and path
   * the client puts in Uri-Host / Uri-Port / Uri-Path of a follow-up request.
   */
  reference?: { host?: string; port?: number; path?: string[] };
}

export type ReplyFromEncoding = 'cri' | 'tp-info';

/** draft-ietf-core-href scheme-id: -1 - the scheme number (coap 0, coaps 1, http 2, https 3, urn 4, did 5). */
const SCHEME_IDS: Record<string, number> = { coap: -1, coaps: -2, http: -3, https: -4, urn: -5, did: -6 };
const SCHEME_NAMES = new Map(Object.entries(SCHEME_IDS).map(([k, v]) => [v, k]));

/** draft-tiloca-core-observe-multicast-notifications 'tp_id' 1 = UDP, tag 260 = network address. */
const TP_ID_UDP = 1;
const TAG_NETWORK_ADDRESS = 260;
const DEFAULT_COAP_PORT = 5683;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, variableMapSize: true });

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, 'reply-from');
}

function hostItem(host: string): Buffer | string {
  return ipToBytes(host) ?? host;
}

function encodeAuthority(host: string, port?: number): unknown[] {
  return port === undefined ? [hostItem(host)] : [hostItem(host), port];
}

/** Section 3: the option value for `r` (CRI form, or -03's tp_info when asked). */
export function encodeReplyFrom(r: ReplyFrom, encoding: ReplyFromEncoding = 'cri'): Buffer {
  if (encoding === 'tp-info') {
    const ip = ipToBytes(r.host);
    if (!ip) throw new RangeError(`tp_info needs an IP address, got ${r.host}`);
    const items: unknown[] = [TP_ID_UDP, new Tag(ip, TAG_NETWORK_ADDRESS)];
    // -03: srv_port null means 5683; absent means the group request's destination port. Always written.
    items.push(r.port === undefined || r.port === DEFAULT_COAP_PORT ? null : r.port);
    return encoder.encode(items);
  }
  if (r.reference && r.reference.host !== undefined && ipToBytes(r.host) === undefined) {
    // Section 3: with an authority in the reference, the first CRI's host MUST NOT be a host-name.
    throw new RangeError('Reply-From: a CRI reference with an authority needs an IP address in the CRI');
  }
  const first = encoder.encode([SCHEME_IDS[r.scheme] ?? r.scheme, encodeAuthority(r.host, r.port)]);
  if (!r.reference) return first;
  const ref = r.reference;
  const auth = ref.host !== undefined ? encodeAuthority(ref.host, ref.port) : null;
  const second: unknown[] = [null, auth];
  if (ref.path && ref.path.length > 0) second.push(ref.path);
  return Buffer.concat([first, encoder.encode(second)]);
}

function asBytes(v: unknown): Buffer | undefined {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined;
}

function decodeHost(v: unknown): string {
  const b = asBytes(v);
  if (b) {
    if (b.length !== 4 && b.length !== 16) fail('bad-address', `host-ip has 4 or 16 bytes, got ${b.length}`);
    return bytesToIp(b);
  }
  if (typeof v === 'string' && v.length > 0 && v.length <= 255) return v;
  return fail('bad-host', 'host is neither host-ip nor host-name');
}

function decodePort(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff)
    fail('bad-port', 'port not in 0..65535');
  return v;
}

function decodeAuthority(v: unknown): { host: string; port?: number } {
  if (!Array.isArray(v) || v.length < 1 || v.length > 2) fail('bad-authority', 'authority is [host, ?port]');
  const host = decodeHost(v[0]);
  return v.length === 2 ? { host, port: decodePort(v[1]) } : { host };
}

function decodeScheme(v: unknown): string {
  if (typeof v === 'number') {
    const name = SCHEME_NAMES.get(v);
    if (!name) fail('bad-scheme', `unknown scheme-id ${v}`);
    return name;
  }
  if (typeof v === 'string' && /^[a-z][a-z0-9+.-]{0,31}$/.test(v)) return v;
  return fail('bad-scheme', 'scheme is neither scheme-id nor scheme-name');
}

function decodeTpInfo(a: unknown[], groupPort: number): ReplyFrom {
  if (a.length < 2 || a.length > 3) fail('bad-tp-info', 'tp_info is [tp_id, srv_host, ?srv_port]');
  const tag = a[1];
  if (!(tag instanceof Tag) || tag.tag !== TAG_NETWORK_ADDRESS) fail('bad-tp-info', 'srv_host needs tag 260');
  const ip = asBytes(tag.value);
  if (!ip || (ip.length !== 4 && ip.length !== 16)) fail('bad-address', 'srv_host has 4 or 16 bytes');
  // -03: srv_port null -> 5683; absent -> the destination port of the proxied group request.
  const port = a.length === 2 ? groupPort : a[2] === null ? DEFAULT_COAP_PORT : decodePort(a[2]);
  return { scheme: 'coap', host: bytesToIp(ip), port };
}

function decodeReference(v: unknown): NonNullable<ReplyFrom['reference']> {
  if (!Array.isArray(v) || v.length < 2 || v.length > 3 || v[0] !== null) {
    fail('bad-reference', 'the CRI reference is [null, authority / null, ?path]');
  }
  const out: NonNullable<ReplyFrom['reference']> = {};
  if (v[1] !== null) Object.assign(out, decodeAuthority(v[1]));
  if (v.length === 3) {
    const path = v[2];
    if (!Array.isArray(path) || path.some((s) => typeof s !== 'string')) fail('bad-path', 'path is [* text]');
    out.path = path as string[];
  }
  if (out.host === undefined && out.path === undefined) fail('bad-reference', 'neither authority nor path');
  return out;
}

/**
 * Reads a Reply-From value in either encoding. `groupPort` is -03's default for an absent srv_port.
 * Throws only DecodeError (it reads network input).
 */
export function decodeReplyFrom(value: Buffer, groupPort = DEFAULT_COAP_PORT): ReplyFrom {
  if (value.length === 0 || value.length > 1034) fail('bad-length', `Reply-From of ${value.length} bytes`);
  let items: unknown[];
  try {
    items = decoder.decodeMultiple(value) as unknown[];
  } catch (e) {
    return fail('bad-cbor', e instanceof Error ? e.message : String(e));
  }
  if (!Array.isArray(items) || items.length < 1 || items.length > 2)
    fail('bad-sequence', 'one or two CBOR items');
  const first = items[0];
  if (!Array.isArray(first)) fail('bad-cri', 'the first item is an array');
  if (first[0] === TP_ID_UDP && first[1] instanceof Tag) {
    if (items.length !== 1) fail('bad-tp-info', 'tp_info stands alone');
    return decodeTpInfo(first, groupPort);
  }
  if (first.length !== 2) fail('bad-cri', 'the CRI has scheme and authority only');
  const out: ReplyFrom = { scheme: decodeScheme(first[0]), ...decodeAuthority(first[1]) };
  if (items.length === 2) {
    out.reference = decodeReference(items[1]);
    if (out.reference.host !== undefined && ipToBytes(out.host) === undefined) {
      fail('bad-reference', 'an authority in the reference needs an IP address in the CRI');
    }
  }
  return out;
}

/** Where a follow-up unicast request goes (section 5.5 step 3): the CRI's host and port. */
export function replyFromPeer(r: ReplyFrom): { address: string; port: number } {
  return { address: r.host, port: r.port ?? (r.scheme === 'coaps' ? 5684 : DEFAULT_COAP_PORT) };
}

/** "coap://10.0.0.2:5683" for logs and result records. */
export function formatReplyFrom(r: ReplyFrom): string {
  const host = r.host.includes(':') ? `[${r.host}]` : r.host;
  return `${r.scheme}://${host}${r.port === undefined ? '' : `:${r.port}`}`;
}
