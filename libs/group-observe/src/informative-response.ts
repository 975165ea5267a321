// Sections 2.2, 2.2.2, 2.2.2.1, 6.1 and 10: the payload of the informative response
// (application/informative-response+cbor), a CBOR map { 1: ph_req, 2: last_notif, 3: tp_info, ... }.
import { DecodeError } from '@lwm2m/bytes';
import { decodeCbor, encodeCbor, Tag } from '@lwm2m/lwm2m';
import { bytesToIp, ipToBytes, isLinkLocal } from './address';
import { CBOR_TAG_NETWORK_ADDRESS, DEFAULT_GROUP_PORT, InformativeKey, TransportProtocolId } from './numbers';

const CODEC = 'informative-response';

/** Section 2.2.2.1: 'tp_info' for UDP. Addresses are text ("239.255.0.1", "ff35::1"). */
export interface UdpTransportInfo {
  tpId: typeof TransportProtocolId.UDP;
  token: Buffer;
  srvAddr: string;
  srvPort: number;
  cliAddr: string;
  /** Absent on the wire means 5683; decoded values always carry the port. */
  cliPort: number;
}

/** Section 6.1: where to join the OSCORE group (kept for a later Group OSCORE layer, passed through). */
export interface OscoreGroupInfo {
  joinUri: string;
  secGp: string;
  asUri?: string;
  csAlg?: number | string;
  csCrv?: number | string;
  csKty?: number | string;
  csKenc?: number;
  alg?: number | string;
  hkdf?: number | string;
}

export interface InformativeResponse {
  /** Section 2.2.1 serialization of the phantom request. */
  phReq: Buffer;
  /** Section 2.2.1 serialization of the latest multicast notification. */
  lastNotif: Buffer;
  tpInfo: UdpTransportInfo;
  oscoreGroup?: OscoreGroupInfo;
}

export interface EncodeTpInfoOptions {
  /** Section 2.2.2.1: 'cli_port' is OPTIONAL; omit it when it is 5683 (default: always write it). */
  omitDefaultCliPort?: boolean;
}

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, CODEC);
}

function addressBytes(text: string, what: string): Buffer {
  const b = ipToBytes(text);
  if (!b) throw new RangeError(`${what} "${text}" is not an IP address`);
  // Sections 2.2 and 3.1: link-local addresses MUST NOT be encoded.
  if (isLinkLocal(b)) throw new RangeError(`${what} ${text} is link-local`);
  return b;
}

function checkPort(p: number, what: string): void {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError(`${what} ${p} not in 0..65535`);
}

/** The 'tp_info' CBOR array as a JS value (for the map, and for Listen-To-Multicast-Responses). */
export function tpInfoValue(t: UdpTransportInfo, opts: EncodeTpInfoOptions = {}): unknown[] {
  checkPort(t.srvPort, 'srv_port');
  checkPort(t.cliPort, 'cli_port');
  const arr: unknown[] = [
    TransportProtocolId.UDP,
    Buffer.from(t.token),
    new Tag(addressBytes(t.srvAddr, 'srv_addr'), CBOR_TAG_NETWORK_ADDRESS),
    t.srvPort,
    new Tag(addressBytes(t.cliAddr, 'cli_addr'), CBOR_TAG_NETWORK_ADDRESS),
  ];
  if (!(opts.omitDefaultCliPort && t.cliPort === DEFAULT_GROUP_PORT)) arr.push(t.cliPort);
  return arr;
}

/** Section 9.1: the Listen-To-Multicast-Responses value is the serialized 'tp_info' array. */
export function encodeTpInfo(t: UdpTransportInfo, opts: EncodeTpInfoOptions = {}): Buffer {
  return encodeCbor(tpInfoValue(t, opts));
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function readAddress(v: unknown, what: string): string {
  if (!(v instanceof Tag) || v.tag !== CBOR_TAG_NETWORK_ADDRESS) {
    fail('bad-tp-info', `${what} must be tagged 260`);
  }
  const value: unknown = v.value;
  if (!isBytes(value) || (value.length !== 4 && value.length !== 16)) {
    fail('bad-address', `${what} must be a 4- or 16-byte string`);
  }
  if (isLinkLocal(value)) fail('link-local', `${what} is a link-local address`);
  return bytesToIp(value);
}

/** Reads a decoded 'tp_info' array (section 2.2.2). Throws only DecodeError. */
export function readTpInfo(v: unknown): UdpTransportInfo {
  if (!Array.isArray(v) || v.length < 1) fail('bad-tp-info', 'tp_info must be a non-empty array');
  const [tpId, token, srvAddr, srvPort, cliAddr, cliPort] = v as unknown[];
  if (tpId !== TransportProtocolId.UDP) fail('unknown-tp-id', `tp_id ${String(tpId)} is not supported`);
  if (v.length < 5 || v.length > 6) fail('bad-tp-info', `UDP tp_info has 5 or 6 elements, got ${v.length}`);
  if (!isBytes(token) || token.length > 8) fail('bad-token', 'token must be a byte string of 0..8 bytes');
  if (!isUint(srvPort, 0xffff)) fail('bad-tp-info', 'srv_port must be an unsigned 16-bit integer');
  if (cliPort !== undefined && !isUint(cliPort, 0xffff)) {
    fail('bad-tp-info', 'cli_port must be an unsigned 16-bit integer');
  }
  return {
    tpId: TransportProtocolId.UDP,
    token: Buffer.from(token),
    srvAddr: readAddress(srvAddr, 'srv_addr'),
    srvPort,
    cliAddr: readAddress(cliAddr, 'cli_addr'),
    cliPort: cliPort ?? DEFAULT_GROUP_PORT,
  };
}

/** Decodes a Listen-To-Multicast-Responses value. Throws only DecodeError. */
export function decodeTpInfo(bytes: Buffer): UdpTransportInfo {
  return readTpInfo(decodeCbor(bytes, CODEC));
}

export function encodeInformativeResponse(r: InformativeResponse, opts: EncodeTpInfoOptions = {}): Buffer {
  const map = new Map<number, unknown>([
    [InformativeKey.PH_REQ, Buffer.from(r.phReq)],
    [InformativeKey.LAST_NOTIF, Buffer.from(r.lastNotif)],
    [InformativeKey.TP_INFO, tpInfoValue(r.tpInfo, opts)],
  ]);
  const g = r.oscoreGroup;
  if (g) {
    map.set(InformativeKey.JOIN_URI, g.joinUri);
    map.set(InformativeKey.SEC_GP, g.secGp);
    const optional: [number, unknown][] = [
      [InformativeKey.AS_URI, g.asUri],
      [InformativeKey.CS_ALG, g.csAlg],
      [InformativeKey.CS_CRV, g.csCrv],
      [InformativeKey.CS_KTY, g.csKty],
      [InformativeKey.CS_KENC, g.csKenc],
      [InformativeKey.ALG, g.alg],
      [InformativeKey.HKDF, g.hkdf],
    ];
    for (const [k, v] of optional) if (v !== undefined) map.set(k, v);
  }
  return encodeCbor(map);
}

function intOrText(v: unknown): number | string | undefined {
  return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)) ? v : undefined;
}

/** Section 6.1: the OSCORE group fields, ignored unless both join_uri and sec_gp are present. */
function readOscoreGroup(m: Map<unknown, unknown>): OscoreGroupInfo | undefined {
  const joinUri = m.get(InformativeKey.JOIN_URI);
  const secGp = m.get(InformativeKey.SEC_GP);
  if (typeof joinUri !== 'string' || typeof secGp !== 'string') return undefined;
  const asUri = m.get(InformativeKey.AS_URI);
  const kenc = m.get(InformativeKey.CS_KENC);
  const g: OscoreGroupInfo = { joinUri, secGp };
  if (typeof asUri === 'string') g.asUri = asUri;
  const fields: [keyof OscoreGroupInfo, number][] = [
    ['csAlg', InformativeKey.CS_ALG],
    ['csCrv', InformativeKey.CS_CRV],
    ['csKty', InformativeKey.CS_KTY],
    ['alg', InformativeKey.ALG],
    ['hkdf', InformativeKey.HKDF],
  ];
  for (const [name, key] of fields) {
    const v = intOrText(m.get(key));
    if (v !== undefined) (g as unknown as Record<string, unknown>)[name] = v;
  }
  if (typeof kenc === 'number' && Number.isInteger(kenc)) g.csKenc = kenc;
  return g;
}

/**
 * Decodes an informative response payload (section 2.2). Every failure (not CBOR, not a map, a
 * missing or mistyped 'ph_req' / 'last_notif' / 'tp_info') is a DecodeError: section 3.2 lets the
 * client then register again or withdraw. Unknown keys are ignored.
 */
export function decodeInformativeResponse(payload: Buffer): InformativeResponse {
  const v = decodeCbor(payload, CODEC);
  if (!(v instanceof Map)) fail('not-a-map', 'the informative response payload must be a CBOR map');
  const phReq: unknown = v.get(InformativeKey.PH_REQ);
  const lastNotif: unknown = v.get(InformativeKey.LAST_NOTIF);
  if (!isBytes(phReq)) fail('missing-ph-req', "'ph_req' (1) must be a byte string");
  if (!isBytes(lastNotif)) fail('missing-last-notif', "'last_notif' (2) must be a byte string");
  if (!v.has(InformativeKey.TP_INFO)) fail('missing-tp-info', "'tp_info' (3) is missing");
  const out: InformativeResponse = {
    phReq: Buffer.from(phReq),
    lastNotif: Buffer.from(lastNotif),
    tpInfo: readTpInfo(v.get(InformativeKey.TP_INFO)),
  };
  const g = readOscoreGroup(v);
  if (g) out.oscoreGroup = g;
  return out;
}
