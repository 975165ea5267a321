// The registration record as stored at <p>{ep:E}:reg (keys.ts): one Redis string, a header line the Lua
// scripts read with one string.match, then a compact JSON body that only TypeScript decodes.
//
//   <expiresAt> <v> <gen> <lastSeen> <asleepAt|-1> <queueMode 0|1> <registrationId>\n<body>
//
// The header holds exactly what the scripts decide on (compare-and-set version, generation, expiry, and the
// queue-mode wake-up rule of registration.ts wokeBy); the body holds the rest under one-letter keys, each
// field once: no endpoint (it is in the key), no header field, defaults left out, object links as their paths
// ("/3/0", or ["/3/0", {attributes}] when they have any). A string is far smaller in Redis than the hash of
// the first format (id, exp, v, gen, json=<full Registration JSON>), which a 60-byte value already turns into
// a hash table; records of that format are still read (scripts.ts REC) and rewritten in this one on their next
// change.
import type { ObjectLinkInfo, Registration } from '@lwm2m/server';
import { formatSessionRef, parseSessionRef } from '@lwm2m/transport';

/** The header's fields (also what a legacy hash record yields). */
export interface RecordHeader {
  id: string;
  exp: number;
  v: number;
  gen: string;
}

interface Body {
  /** lifetime, s */
  l: number;
  V: Registration['lwm2mVersion'];
  b: string;
  m?: string;
  a: string;
  p: number;
  /** the session (libs/transport formatSessionRef), left out when it is "<address>:<port>" */
  k?: string;
  /** rootPath, left out when "/" */
  r?: string;
  o: Array<string | [string, Record<string, string>]>;
  f?: number[];
  R: number;
  /** lastUpdate, left out when equal to registeredAt */
  u?: number;
  n?: string;
  /** security, left out when nosec */
  S?: Registration['security'];
  x?: Record<string, string>;
}

/** `<lastSeen> <asleepAt|-1> <queueMode> <id>\n<body>`: what follows `<exp> <v> <gen> ` (the Register script adds those). */
export function encodeRecordTail(reg: Registration): string {
  if (/[\n ]/.test(reg.registrationId))
    throw new Error('a registration id must not contain spaces or newlines');
  const body: Body = {
    l: reg.lifetime,
    V: reg.lwm2mVersion,
    b: reg.binding,
    a: reg.address.address,
    p: reg.address.port,
    o: reg.objectLinks.map((l) => (Object.keys(l.attributes).length === 0 ? l.path : [l.path, l.attributes])),
    R: reg.registeredAt,
  };
  if (reg.smsNumber !== undefined) body.m = reg.smsNumber;
  const session = formatSessionRef(reg.session);
  if (session !== `${reg.address.address}:${reg.address.port}`) body.k = session;
  if (reg.rootPath !== '/') body.r = reg.rootPath;
  if (reg.supportedContentFormats.length > 0) body.f = reg.supportedContentFormats;
  if (reg.lastUpdate !== reg.registeredAt) body.u = reg.lastUpdate;
  if (reg.gatewayNode !== undefined) body.n = reg.gatewayNode;
  if (reg.security !== 'nosec') body.S = reg.security;
  if (reg.extraAttributes !== undefined) body.x = reg.extraAttributes;
  return `${reg.lastSeen} ${reg.asleepAt ?? -1} ${reg.queueMode ? 1 : 0} ${reg.registrationId}\n${JSON.stringify(body)}`;
}

/** The whole record with its header (compare-and-set writes it as it is). */
export function encodeRecord(reg: Registration, v: number, gen: string): string {
  return `${reg.expiresAt} ${v} ${gen} ${encodeRecordTail(reg)}`;
}

const HEADER = /^(\d+) (\d+) (\d+) (\d+) (-?\d+) ([01]) ([^\n]*)\n/;

/**
 * A record as the scripts return it: this format, or a legacy hash record which the scripts' `rec` turns
 * into the same header followed by its Registration JSON.
 */
export function decodeRecord(endpoint: string, raw: string): { reg: Registration; header: RecordHeader } {
  const h = HEADER.exec(raw);
  if (!h) throw new Error(`registration record of ${endpoint} is not readable`);
  const header = { id: h[7]!, exp: Number(h[1]), v: Number(h[2]), gen: h[3]! };
  type FirstFormat = Omit<Registration, 'session'> & { peerKey: string };
  const parsed = JSON.parse(raw.slice(h[0].length)) as Body | FirstFormat;
  // The first format's json field: the Registration as it was, its session as text in peerKey.
  if ('registrationId' in parsed) {
    const { peerKey, ...rest } = parsed;
    return { reg: { ...rest, session: parseSessionRef(peerKey) }, header };
  }
  const b = parsed;
  const address = { address: b.a, port: b.p };
  const reg: Registration = {
    registrationId: h[7]!,
    endpoint,
    lwm2mVersion: b.V,
    lifetime: b.l,
    binding: b.b,
    queueMode: h[6] === '1',
    address,
    session: parseSessionRef(b.k ?? `${b.a}:${b.p}`),
    rootPath: b.r ?? '/',
    objectLinks: b.o.map((l): ObjectLinkInfo =>
      typeof l === 'string' ? { path: l, attributes: {} } : { path: l[0], attributes: l[1] },
    ),
    supportedContentFormats: b.f ?? [],
    registeredAt: b.R,
    lastUpdate: b.u ?? b.R,
    lastSeen: Number(h[4]),
    expiresAt: Number(h[1]),
    security: b.S ?? 'nosec',
  };
  const asleepAt = Number(h[5]);
  if (asleepAt >= 0) reg.asleepAt = asleepAt;
  if (b.m !== undefined) reg.smsNumber = b.m;
  if (b.n !== undefined) reg.gatewayNode = b.n;
  if (b.x !== undefined) reg.extraAttributes = b.x;
  return { reg, header };
}
