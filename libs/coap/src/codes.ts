// RFC 7252 section 3 and 12.1: the 8-bit Code field (3-bit class, 5-bit detail) and the registered codes.

/** Code values as class << 5 | detail. Names follow the IANA "CoAP Method/Response Codes" registries. */
export const CoapCode = {
  EMPTY: 0x00,

  // RFC 7252 12.1.1 methods, RFC 8132 FETCH/PATCH/iPATCH
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05,
  PATCH: 0x06,
  IPATCH: 0x07,

  // RFC 7252 12.1.2 response codes (and later additions noted)
  CREATED: 0x41, // 2.01
  DELETED: 0x42, // 2.02
  VALID: 0x43, // 2.03
  CHANGED: 0x44, // 2.04
  CONTENT: 0x45, // 2.05
  CONTINUE: 0x5f, // 2.31, RFC 7959
  BAD_REQUEST: 0x80, // 4.00
  UNAUTHORIZED: 0x81, // 4.01
  BAD_OPTION: 0x82, // 4.02
  FORBIDDEN: 0x83, // 4.03
  NOT_FOUND: 0x84, // 4.04
  METHOD_NOT_ALLOWED: 0x85, // 4.05
  NOT_ACCEPTABLE: 0x86, // 4.06
  REQUEST_ENTITY_INCOMPLETE: 0x88, // 4.08, RFC 7959
  CONFLICT: 0x89, // 4.09, RFC 8132
  PRECONDITION_FAILED: 0x8c, // 4.12
  REQUEST_ENTITY_TOO_LARGE: 0x8d, // 4.13
  UNSUPPORTED_CONTENT_FORMAT: 0x8f, // 4.15
  UNPROCESSABLE_ENTITY: 0x96, // 4.22, RFC 8132
  TOO_MANY_REQUESTS: 0x9d, // 4.29, RFC 8516
  INTERNAL_SERVER_ERROR: 0xa0, // 5.00
  NOT_IMPLEMENTED: 0xa1, // 5.01
  BAD_GATEWAY: 0xa2, // 5.02
  SERVICE_UNAVAILABLE: 0xa3, // 5.03
  GATEWAY_TIMEOUT: 0xa4, // 5.04
  PROXYING_NOT_SUPPORTED: 0xa5, // 5.05
  HOP_LIMIT_REACHED: 0xa8, // 5.08, RFC 8768
} as const;

export type CoapCodeName = keyof typeof CoapCode;

const NAMES = new Map<number, CoapCodeName>(
  (Object.entries(CoapCode) as [CoapCodeName, number][]).map(([name, code]) => [code, name]),
);

/** The 3-bit class ("c" of c.dd). */
export function codeClass(code: number): number {
  return (code >> 5) & 0x07;
}

/** The 5-bit detail ("dd" of c.dd). */
export function codeDetail(code: number): number {
  return code & 0x1f;
}

export function makeCode(cls: number, detail: number): number {
  if (!Number.isInteger(cls) || cls < 0 || cls > 7) throw new RangeError(`code class ${cls} not in 0..7`);
  if (!Number.isInteger(detail) || detail < 0 || detail > 31) {
    throw new RangeError(`code detail ${detail} not in 0..31`);
  }
  return (cls << 5) | detail;
}

/** "c.dd" as RFC 7252 section 3 writes codes, e.g. 0x45 -> "2.05". */
export function formatCode(code: number): string {
  return `${codeClass(code)}.${codeDetail(code).toString().padStart(2, '0')}`;
}

/** Parses "c.dd" (e.g. "4.04"); undefined when it is not a valid code. */
export function parseCode(text: string): number | undefined {
  const m = /^([0-7])\.([0-9]{2})$/.exec(text);
  if (!m) return undefined;
  const detail = Number(m[2]);
  if (detail > 31) return undefined;
  return (Number(m[1]) << 5) | detail;
}

/** RFC 7252 section 12.1: class 0 with a non-zero detail is a request method. */
export function isRequestCode(code: number): boolean {
  return code > 0 && code < 0x20;
}

/** RFC 7252 section 12.1: classes 2, 4 and 5 are responses (1, 3, 6 and 7 are reserved or signaling). */
export function isResponseCode(code: number): boolean {
  const cls = codeClass(code);
  return cls === 2 || cls === 4 || cls === 5;
}

/** RFC 7252 section 4.1: 0.00 is the Empty message. */
export function isEmptyCode(code: number): boolean {
  return code === 0;
}

/** The constant's name (e.g. "CONTENT"), or "c.dd" for unregistered codes. */
export function codeName(code: number): string {
  return NAMES.get(code) ?? formatCode(code);
}
