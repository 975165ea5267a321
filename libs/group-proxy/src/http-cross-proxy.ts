// draft-ietf-core-groupcomm-proxy section 9: an HTTP-to-CoAP cross-proxy in front of GroupProxy. The HTTP
// request (RFC 8075 "Simple Form": ?target_uri=coap://GROUP/path) with a Multicast-Timeout header field
// becomes one proxied CoAP group request; the responses collected until T' come back as one HTTP 200
// multipart/mixed batch of application/http parts, each with a Reply-From header field (9.2, 9.6); none:
// 204; T' = 0: 204 right after forwarding (9.5). Framework-free: apps/group-proxy maps Nest's request to it.
import {
  CoapCode,
  CoapType,
  codeClass,
  codeDetail,
  createMessage,
  encodeUint,
  getOption,
  getUintOption,
  OptionNumber,
  type CoapMessage,
  type CoapOption,
  type Peer,
} from '@lwm2m/coap';
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { GroupProxy } from './group-proxy';
import { decodeReplyFrom, encodeReplyFrom } from './reply-from';

export interface HttpGroupRequest {
  method: string;
  /** The Target CoAP URI (RFC 8075 5.4.1: the `target_uri` query parameter). */
  targetUri: string;
  /** The Multicast-Timeout header field, undefined when absent ("" counts as 0, section 9.1). */
  multicastTimeout?: string;
  contentType?: string;
  accept?: string;
  body: Buffer;
  /** Who sent it (its address, and an identity if the HTTP layer authenticated one). */
  client: Peer;
}

export interface HttpGroupResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** RFC 8075 section 5.4 / RFC 7252 12.3: the media types we map, both ways. */
const FORMATS: [string, number][] = [
  ['text/plain; charset=utf-8', 0],
  ['application/link-format', 40],
  ['application/xml', 41],
  ['application/octet-stream', 42],
  ['application/json', 50],
  ['application/cbor', 60],
  ['application/senml+json', 110],
  ['application/senml+cbor', 112],
];

function contentFormatOf(type: string): number | undefined {
  const t = type.split(';')[0].trim().toLowerCase();
  if (t === 'text/plain') return 0;
  return FORMATS.find(([m]) => m === t)?.[1];
}

const METHODS: Record<string, number> = {
  GET: CoapCode.GET,
  POST: CoapCode.POST,
  PUT: CoapCode.PUT,
  DELETE: CoapCode.DELETE,
  FETCH: CoapCode.FETCH,
  PATCH: CoapCode.PATCH,
};

/** RFC 8075 section 7 (and RFC 7252 10.1): a CoAP response code as an HTTP status. */
export function coapToHttpStatus(code: number, hasPayload = true): number {
  const table: Record<number, number> = {
    [CoapCode.CREATED]: 201,
    [CoapCode.DELETED]: 200,
    [CoapCode.VALID]: 304,
    [CoapCode.CHANGED]: hasPayload ? 200 : 204,
    [CoapCode.CONTENT]: 200,
    [CoapCode.BAD_REQUEST]: 400,
    // RFC 8075 7.1: 4.01 -> 403 (an HTTP 401 needs a WWW-Authenticate challenge it can't give).
    [CoapCode.UNAUTHORIZED]: 403,
    [CoapCode.BAD_OPTION]: 400,
    [CoapCode.FORBIDDEN]: 403,
    [CoapCode.NOT_FOUND]: 404,
    [CoapCode.METHOD_NOT_ALLOWED]: 400,
    [CoapCode.NOT_ACCEPTABLE]: 406,
    [CoapCode.PRECONDITION_FAILED]: 412,
    [CoapCode.REQUEST_ENTITY_TOO_LARGE]: 413,
    [CoapCode.UNSUPPORTED_CONTENT_FORMAT]: 415,
    [CoapCode.INTERNAL_SERVER_ERROR]: 500,
    [CoapCode.NOT_IMPLEMENTED]: 501,
    [CoapCode.BAD_GATEWAY]: 502,
    [CoapCode.SERVICE_UNAVAILABLE]: 503,
    [CoapCode.GATEWAY_TIMEOUT]: 504,
    [CoapCode.PROXYING_NOT_SUPPORTED]: 502,
  };
  return table[code] ?? ({ 2: 200, 4: 400, 5: 500 } as Record<number, number>)[codeClass(code)] ?? 502;
}

/** Section 9.2: an RFC 9651 List of one or two Byte Sequences, one per CBOR array of the option value. */
export function replyFromHeader(value: Buffer): string {
  const r = decodeReplyFrom(value);
  if (!r.reference) return `:${value.toString('base64')}:`;
  const first = encodeReplyFrom({ ...r, reference: undefined });
  return `:${first.toString('base64')}:, :${value.subarray(first.length).toString('base64')}:`;
}

/** Section 9.2, the other way: undefined ("the entire header field ignored") unless 1-2 Byte Sequences. */
export function parseReplyFromHeader(header: string): Buffer | undefined {
  const items = header.split(',').map((s) => s.trim());
  if (items.length < 1 || items.length > 2) return undefined;
  const parts: Buffer[] = [];
  for (const it of items) {
    const m = /^:([A-Za-z0-9+/]*={0,2}):$/.exec(it);
    if (!m) return undefined;
    parts.push(Buffer.from(m[1], 'base64'));
  }
  return Buffer.concat(parts);
}

function httpHeadersOf(msg: CoapMessage, replyFromOption: number): Record<string, string> {
  const h: Record<string, string> = {};
  const n = getUintOption(msg, OptionNumber.CONTENT_FORMAT);
  if (n !== undefined) {
    h['Content-Type'] = FORMATS.find(([, v]) => v === n)?.[0] ?? 'application/octet-stream';
  }
  const rf = getOption(msg, replyFromOption);
  if (rf !== undefined) {
    try {
      h['Reply-From'] = replyFromHeader(rf);
    } catch {
      // a Reply-From we did not write and can't read is left out rather than mangled
    }
  }
  const maxAge = getUintOption(msg, OptionNumber.MAX_AGE);
  if (maxAge !== undefined) h['Cache-Control'] = `max-age=${maxAge}`;
  return h;
}

/** Section 9.5 steps 1-3: the multipart/mixed batch of application/http parts. */
export function batchResponse(parts: CoapMessage[], replyFromOption: number): HttpGroupResult {
  const boundary = `batch_${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const m of parts) {
    const status = coapToHttpStatus(m.code, m.payload.length > 0);
    const h = { ...httpHeadersOf(m, replyFromOption), 'Content-Length': String(m.payload.length) };
    const head =
      `--${boundary}\r\nContent-Type: application/http\r\n\r\n` +
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      Object.entries(h)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      '\r\n';
    chunks.push(Buffer.from(head), m.payload, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    status: 200,
    headers: { 'Content-Type': `multipart/mixed; boundary=${boundary}` },
    body: Buffer.concat(chunks),
  };
}

function error(status: number, detail: string): HttpGroupResult {
  // RFC 9457 problem details, as the api answers errors.
  const body = Buffer.from(
    JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail }),
  );
  return { status, headers: { 'Content-Type': 'application/problem+json' }, body };
}

/**
 * Sections 9.4 and 9.5: translates, submits to the proxy (which checks the allow-list with `client`,
 * Multicast-Timeout, and forwards), collects until T' and answers once.
 */
export function runHttpGroupRequest(proxy: GroupProxy, req: HttpGroupRequest): Promise<HttpGroupResult> {
  const code = METHODS[req.method.toUpperCase()];
  if (code === undefined) return Promise.resolve(error(501, `method ${req.method} is not mapped to CoAP`));
  const options: CoapOption[] = [{ number: OptionNumber.PROXY_URI, value: Buffer.from(req.targetUri) }];
  let tPrime: number | undefined;
  if (req.multicastTimeout !== undefined) {
    // Section 9.1: Multicast-Timeout = *DIGIT; empty is 0.
    const t = req.multicastTimeout.trim();
    if (!/^\d{0,10}$/.test(t) || Number(t) > 0xffffffff) {
      return Promise.resolve(error(400, 'Multicast-Timeout is a number of seconds'));
    }
    tPrime = t === '' ? 0 : Number(t);
    options.push({ number: proxy.numbers.multicastTimeoutOption, value: encodeUint(tPrime) });
  }
  if (req.contentType !== undefined && req.body.length > 0) {
    const cf = contentFormatOf(req.contentType);
    if (cf === undefined) return Promise.resolve(error(415, `no CoAP Content-Format for ${req.contentType}`));
    options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(cf) });
  }
  if (req.accept !== undefined && req.accept !== '*/*') {
    const cf = contentFormatOf(req.accept);
    if (cf !== undefined) options.push({ number: OptionNumber.ACCEPT, value: encodeUint(cf) });
  }
  const msg = createMessage({
    type: CoapType.NON,
    code,
    messageId: 0,
    token: randomBytes(8),
    options,
    payload: req.body,
  });
  return new Promise((resolve) => {
    const collected = new Map<string, CoapMessage>();
    let settled = false;
    const settle = (r: HttpGroupResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    proxy.submit(msg, req.client, {
      answer: (m) => {
        if (m.code === 0) return;
        // The proxy's own answer (4.00 with an empty Multicast-Timeout, 4.01, 5.05...): one HTTP response.
        const status = coapToHttpStatus(m.code);
        const headers: Record<string, string> = { 'Content-Type': 'application/problem+json' };
        const mt = getOption(m, proxy.numbers.multicastTimeoutOption);
        // Section 9.1: an empty option becomes an empty header field.
        if (mt !== undefined)
          headers['Multicast-Timeout'] = mt.length === 0 ? '' : String(mt.readUIntBE(0, mt.length));
        const detail =
          m.payload.toString() || `CoAP ${codeClass(m.code)}.${String(codeDetail(m.code)).padStart(2, '0')}`;
        settle({ ...error(status, detail), headers });
      },
      relay: (m) => {
        // Section 9.5: a later response from the same server replaces the stored one.
        const rf = getOption(m, proxy.numbers.replyFromOption);
        collected.set(rf ? rf.toString('hex') : `#${collected.size}`, m);
      },
      ended: () => {
        settle(
          collected.size === 0
            ? { status: 204, headers: {}, body: Buffer.alloc(0) }
            : batchResponse([...collected.values()], proxy.numbers.replyFromOption),
        );
      },
    });
    // Section 9.4: T' = 0 is answered 204 right after forwarding (the proxy kept nothing to end).
    if (tPrime === 0) settle({ status: 204, headers: {}, body: Buffer.alloc(0) });
  });
}
