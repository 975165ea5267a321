// RFC 6690 section 2: CoRE Link Format (application/link-format, Content-Format 40).
import { isUtf8 } from 'node:buffer';
import { DecodeError } from '@lwm2m/bytes';

export interface LinkAttribute {
  name: string;
  /** Absent for a bare attribute such as `obs`; quoted-string values are kept unquoted. */
  value?: string;
  /** The value was a quoted-string on input (or must be on output). */
  quoted?: boolean;
}

export interface Link {
  /** The URI-Reference between "<" and ">". */
  target: string;
  attributes: LinkAttribute[];
}

function fail(reason: string, message: string, at: number): never {
  throw new DecodeError(reason, `${message} (at offset ${at})`, 'link-format');
}

// RFC 5987 attr-char for parmname, plus "*" for ext-name-star (e.g. title*).
const PARMNAME = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~*') {
  PARMNAME[c.charCodeAt(0)] = 1;
}
// RFC 6690 ptokenchar.
const PTOKEN = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()*+-./:<=>?@[]^_`{|}~") {
  PTOKEN[c.charCodeAt(0)] = 1;
}

/** Whitespace tolerated between link-values and around separators (documents are often wrapped). */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Parses a link-value-list. Strict about the RFC 6690 section 2 grammar (targets in "<>",
 * parmname, ptoken or quoted-string with backslash escapes), lenient only about whitespace
 * around "," and ";". An empty (or all-whitespace) document is an empty list.
 */
export function parseLinkFormat(text: string): Link[] {
  const links: Link[] = [];
  const n = text.length;
  let i = skipSpace(text, 0);
  if (i === n) return links;
  for (;;) {
    if (text.charCodeAt(i) !== 0x3c /* < */) fail('expected-target', 'expected "<" starting a link', i);
    const close = text.indexOf('>', i + 1);
    if (close < 0) fail('unterminated-target', 'missing ">" after link target', i);
    const target = text.slice(i + 1, close);
    for (let k = 0; k < target.length; k++) {
      const c = target.charCodeAt(k);
      // URI-Reference (RFC 3986) never holds controls, space, "<" or '"'.
      if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x22) {
        fail('bad-target', 'invalid character in link target', i + 1 + k);
      }
    }
    i = close + 1;
    const attributes: LinkAttribute[] = [];
    for (;;) {
      i = skipSpace(text, i);
      if (i >= n || text.charCodeAt(i) !== 0x3b /* ; */) break;
      i = skipSpace(text, i + 1);
      const start = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c >= 128 || PARMNAME[c] === 0) break;
        i++;
      }
      if (i === start) fail('bad-param-name', 'expected a parameter name after ";"', i);
      const name = text.slice(start, i);
      if (i >= n || text.charCodeAt(i) !== 0x3d /* = */) {
        attributes.push({ name });
        continue;
      }
      i++;
      if (i < n && text.charCodeAt(i) === 0x22 /* " */) {
        // RFC 2616 quoted-string: qdtext or "\" CHAR.
        let value = '';
        let from = ++i;
        for (;;) {
          if (i >= n) fail('unterminated-quoted-string', 'missing closing quote', start);
          const c = text.charCodeAt(i);
          if (c === 0x22) break;
          if (c === 0x5c /* \ */) {
            if (i + 1 >= n) fail('unterminated-quoted-string', 'escape at end of input', i);
            value += text.slice(from, i);
            from = i + 1; // keep the escaped character itself
            i += 2;
            continue;
          }
          if (c < 0x20 && c !== 0x09) fail('bad-quoted-string', 'control character in quoted-string', i);
          i++;
        }
        value += text.slice(from, i);
        i++;
        attributes.push({ name, value, quoted: true });
      } else {
        const vstart = i;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c >= 128 || PTOKEN[c] === 0) break;
          i++;
        }
        if (i === vstart) fail('bad-ptoken', `empty or invalid value for "${name}"`, i);
        attributes.push({ name, value: text.slice(vstart, i) });
      }
    }
    links.push({ target, attributes });
    if (i >= n) return links;
    if (text.charCodeAt(i) !== 0x2c /* , */)
      fail('expected-separator', 'expected "," or ";" after a link', i);
    i = skipSpace(text, i + 1);
  }
}

/** Parses a link-format payload; the payload must be valid UTF-8 (RFC 6690 section 7.1). */
export function decodeLinkFormat(buf: Buffer): Link[] {
  if (!isUtf8(buf))
    throw new DecodeError('bad-utf8', 'link-format payload is not valid UTF-8', 'link-format');
  return parseLinkFormat(buf.toString('utf8'));
}

function isPtoken(value: string): boolean {
  if (value.length === 0) return false;
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c >= 128 || PTOKEN[c] === 0) return false;
  }
  return true;
}

/** Attributes whose grammar requires a quoted-string (RFC 6690 section 2: anchor, title). */
const ALWAYS_QUOTED = new Set(['anchor', 'title']);

/** RFC 2616 quoted-pair: backslash before '"', '\\' and control characters (any CHAR may be escaped). */
function quote(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    out += c === 0x22 || c === 0x5c || c < 0x20 || c === 0x7f ? `\\${ch}` : ch;
  }
  return out;
}

function serializeAttribute(a: LinkAttribute): string {
  if (a.value === undefined) return `;${a.name}`;
  if (a.quoted || ALWAYS_QUOTED.has(a.name) || !isPtoken(a.value)) {
    return `;${a.name}="${quote(a.value)}"`;
  }
  return `;${a.name}=${a.value}`;
}

export function serializeLinkFormat(links: Link[]): string {
  return links.map((l) => `<${l.target}>${l.attributes.map(serializeAttribute).join('')}`).join(',');
}

export function encodeLinkFormat(links: Link[]): Buffer {
  return Buffer.from(serializeLinkFormat(links), 'utf8');
}

/** The first value of attribute `name`; '' for a bare attribute (e.g. `obs`), undefined when absent. */
export function getAttribute(link: Link, name: string): string | undefined {
  for (const a of link.attributes) if (a.name === name) return a.value ?? '';
  return undefined;
}

/** Every value of attribute `name` (rt and if may repeat, RFC 6690 section 3). */
export function getAttributes(link: Link, name: string): string[] {
  return link.attributes.filter((a) => a.name === name).map((a) => a.value ?? '');
}

/**
 * Relation types listed in a value such as rt="a b" (RFC 6690 section 3.1: space-separated).
 */
export function splitRelationTypes(value: string): string[] {
  return value.split(' ').filter((s) => s.length > 0);
}
