// LwM2M TS 1.1 Core sections 5.4.2 (Discover), 6.2.1 (Register object links) and 5.1.2 (attributes) over
// RFC 6690 CoRE Link Format (Content-Format 40).
import { DecodeError } from '@lwm2m/bytes';
import { type Link, type LinkAttribute, parseLinkFormat } from '@lwm2m/coap';
import { Lwm2mPath } from '../path';
import { utf8 } from './values';

const CODEC = 'lwm2m-link';

/** The attributes LwM2M gives a meaning to (Core 5.1.2 Table 5.1.2-1 and 6.2.1); others stay in `raw`. */
export interface Lwm2mLinkAttributes {
  /** Resource type; "oma.lwm2m" marks the LwM2M root link of a registration. */
  rt?: string;
  /** Content-Formats the client supports (root link, 1.1): ct=11543 or ct="60 110 112". */
  ct?: number[];
  /** Object version, "major.minor". */
  ver?: string;
  /** Number of instances of a multiple resource. */
  dim?: number;
  /** Short Server ID. */
  ssid?: number;
  /** Server URI. */
  uri?: string;
  pmin?: number;
  pmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
  epmin?: number;
  epmax?: number;
  /** Edge (1.2, 0 or 1), confirmable notification (1.2, 0 or 1), historical queue max (1.2). */
  edge?: number;
  con?: number;
  hqmax?: number;
}

export interface Lwm2mLink {
  /** The target as written, e.g. "/3/0" or "/lwm2m/3/0" (alternate path). */
  target: string;
  /** The LwM2M path below the root; undefined for the root link itself ("</>" or the alternate path). */
  path?: Lwm2mPath;
  attributes: Lwm2mLinkAttributes;
  /** Every attribute in order, as parsed (unknown ones included). */
  raw: LinkAttribute[];
}

const INTEGER_ATTRS = ['dim', 'ssid', 'pmin', 'pmax', 'epmin', 'epmax', 'edge', 'con', 'hqmax'] as const;
const FLOAT_ATTRS = ['gt', 'lt', 'st'] as const;
/** Serialization order: the order the Core examples use. */
const ORDER = ['rt', 'ct', 'ver', 'dim', 'ssid', 'uri', 'pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'];

function fail(reason: string, message: string): never {
  throw new DecodeError(reason, message, CODEC);
}

function attributeValue(a: LinkAttribute): string {
  if (a.value === undefined) fail('bad-attribute', `attribute "${a.name}" needs a value`);
  return a.value;
}

function parseAttributes(raw: LinkAttribute[]): Lwm2mLinkAttributes {
  const out: Lwm2mLinkAttributes = {};
  for (const a of raw) {
    const name = a.name;
    if ((INTEGER_ATTRS as readonly string[]).includes(name)) {
      const v = attributeValue(a);
      if (!/^[0-9]{1,10}$/.test(v))
        fail('bad-attribute', `${name}=${v.slice(0, 16)} is not an unsigned integer`);
      out[name as (typeof INTEGER_ATTRS)[number]] = Number(v);
    } else if ((FLOAT_ATTRS as readonly string[]).includes(name)) {
      const v = attributeValue(a);
      if (!/^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?$/.test(v)) {
        fail('bad-attribute', `${name}=${v.slice(0, 16)} is not a number`);
      }
      out[name as (typeof FLOAT_ATTRS)[number]] = Number(v);
    } else if (name === 'ver') {
      const v = attributeValue(a);
      if (!/^[0-9]{1,3}\.[0-9]{1,3}$/.test(v))
        fail('bad-attribute', `ver=${v.slice(0, 16)} is not "major.minor"`);
      out.ver = v;
    } else if (name === 'ct') {
      const parts = attributeValue(a)
        .split(' ')
        .filter((s) => s !== '');
      if (parts.length === 0 || parts.some((p) => !/^[0-9]{1,5}$/.test(p) || Number(p) > 65535)) {
        fail('bad-attribute', 'ct is not a list of Content-Format numbers');
      }
      out.ct = parts.map(Number);
    } else if (name === 'rt' || name === 'uri') {
      out[name] = attributeValue(a);
    }
  }
  return out;
}

export interface Lwm2mLinkParseOptions {
  /** Root path, e.g. "/lwm2m"; by default taken from a link with rt="oma.lwm2m", else "/". */
  rootPath?: string;
}

/**
 * Parses a Discover response or a Register/Update payload. Targets must be LwM2M paths below the
 * root (an alternate path announced with rt="oma.lwm2m" is stripped); throws DecodeError otherwise.
 */
export function parseLwm2mLinks(text: string, options: Lwm2mLinkParseOptions = {}): Lwm2mLink[] {
  const links: Link[] = parseLinkFormat(text);
  let root = options.rootPath;
  if (root === undefined) {
    const rootLink = links.find((l) => l.attributes.some((a) => a.name === 'rt' && a.value === 'oma.lwm2m'));
    root = rootLink ? rootLink.target : '/';
  }
  if (!root.startsWith('/')) fail('bad-root', `root path "${root.slice(0, 32)}" does not start with "/"`);
  const prefix = root.endsWith('/') ? root.slice(0, -1) : root;
  return links.map((l) => {
    const attributes = parseAttributes(l.attributes);
    if (l.target === root || l.target === prefix || l.target === prefix + '/') {
      return { target: l.target, attributes, raw: l.attributes };
    }
    if (!l.target.startsWith(prefix + '/'))
      fail('bad-path', `link target ${l.target.slice(0, 64)} is not under ${root}`);
    const path = Lwm2mPath.parse(l.target.slice(prefix.length));
    return { target: l.target, path, attributes, raw: l.attributes };
  });
}

/** A Content-Format 40 payload: UTF-8 (RFC 6690 section 7.1), then `parseLwm2mLinks`. */
export function decodeLwm2mLinks(payload: Buffer, options: Lwm2mLinkParseOptions = {}): Lwm2mLink[] {
  return parseLwm2mLinks(utf8(payload, CODEC), options);
}

function formatAttribute(name: string, value: unknown): string {
  if (name === 'rt' || name === 'uri') return `;${name}="${String(value).replace(/["\\]/g, '\\$&')}"`;
  if (name === 'ct') {
    const list = value as number[];
    return list.length === 1 ? `;ct=${list[0]}` : `;ct="${list.join(' ')}"`;
  }
  return `;${name}=${String(value)}`;
}

/** A link for a path (or the root when `path` is undefined), with typed attributes. */
export function lwm2mLink(
  path: Lwm2mPath | undefined,
  attributes: Lwm2mLinkAttributes = {},
  root = '/',
): Lwm2mLink {
  const prefix = root.endsWith('/') ? root.slice(0, -1) : root;
  return { target: path ? prefix + path.toString() : root, path, attributes, raw: [] };
}

/**
 * Serializes links: the typed attributes in the order of the Core examples, then any raw attribute
 * whose name has no typed counterpart. No spaces after "," (Core 5.4.2 examples are wrapped for print).
 */
export function serializeLwm2mLinks(
  links: Array<Pick<Lwm2mLink, 'target' | 'attributes'> & { raw?: LinkAttribute[] }>,
): string {
  return links
    .map((l) => {
      let s = `<${l.target}>`;
      const attrs = l.attributes as Record<string, unknown>;
      for (const name of [...ORDER, 'edge', 'con', 'hqmax']) {
        if (attrs[name] !== undefined) s += formatAttribute(name, attrs[name]);
      }
      for (const a of l.raw ?? []) {
        if (attrs[a.name] !== undefined || ORDER.includes(a.name)) continue;
        s +=
          a.value === undefined
            ? `;${a.name}`
            : a.quoted
              ? `;${a.name}="${a.value.replace(/["\\]/g, '\\$&')}"`
              : `;${a.name}=${a.value}`;
      }
      return s;
    })
    .join(',');
}

export function encodeLwm2mLinks(
  links: Array<Pick<Lwm2mLink, 'target' | 'attributes'> & { raw?: LinkAttribute[] }>,
): Buffer {
  return Buffer.from(serializeLwm2mLinks(links), 'utf8');
}
