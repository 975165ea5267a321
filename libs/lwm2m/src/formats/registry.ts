// LwM2M TS 1.2 Core 7.4 (Data Formats, Table 7.4-1) and the IANA CoAP Content-Formats registry:
// the one place the server maps Content-Format numbers to names and codecs and picks the format to use.
import { ContentFormat, type CompositeCodec, type NodeCodec } from './codec';
import { jsonCodec } from './json';
import { Lwm2mCborCodec } from './lwm2m-cbor';
import { opaqueCodec } from './opaque';
import { SenmlCborCodec } from './senml-cbor';
import { SenmlJsonCodec } from './senml-json';
import { textCodec } from './text';
import { tlvCodec } from './tlv';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

interface FormatEntry {
  contentFormat: number;
  /** IANA media type (with the LwM2M vendor types of Table 7.4-1). */
  mediaType: string;
  /** Short names accepted by parseContentFormat (lower case). */
  aliases: string[];
  codec?: NodeCodec;
  composite?: CompositeCodec;
}

// application/cbor (60) carries one value (TS 1.1 Core 7.4.6 / 1.2 7.4.7); no codec of ours
// handles it yet, so it is named and parsed here but has no NodeCodec.
const FORMATS: FormatEntry[] = [
  {
    contentFormat: ContentFormat.TEXT,
    mediaType: 'text/plain',
    aliases: ['text', 'plain'],
    codec: textCodec,
  },
  { contentFormat: ContentFormat.LINK, mediaType: 'application/link-format', aliases: ['link', 'core-link'] },
  {
    contentFormat: ContentFormat.OPAQUE,
    mediaType: 'application/octet-stream',
    aliases: ['opaque', 'octet-stream'],
    codec: opaqueCodec,
  },
  { contentFormat: ContentFormat.CBOR, mediaType: 'application/cbor', aliases: ['cbor'] },
  {
    contentFormat: ContentFormat.SENML_JSON,
    mediaType: 'application/senml+json',
    aliases: ['senml-json', 'senml+json'],
    codec: SenmlJsonCodec,
    composite: SenmlJsonCodec,
  },
  {
    contentFormat: ContentFormat.SENML_CBOR,
    mediaType: 'application/senml+cbor',
    aliases: ['senml-cbor', 'senml+cbor'],
    codec: SenmlCborCodec,
    composite: SenmlCborCodec,
  },
  // RFC 8790: patch packs. No NodeCodec: decodeSenmlPatch reads them (a patch is not a whole node).
  {
    contentFormat: ContentFormat.SENML_ETCH_JSON,
    mediaType: 'application/senml-etch+json',
    aliases: ['senml-etch-json', 'senml-etch+json', 'etch-json'],
  },
  {
    contentFormat: ContentFormat.SENML_ETCH_CBOR,
    mediaType: 'application/senml-etch+cbor',
    aliases: ['senml-etch-cbor', 'senml-etch+cbor', 'etch-cbor'],
  },
  {
    contentFormat: ContentFormat.TLV,
    mediaType: 'application/vnd.oma.lwm2m+tlv',
    aliases: ['tlv', 'lwm2m+tlv', 'lwm2m-tlv'],
    codec: tlvCodec,
  },
  {
    contentFormat: ContentFormat.JSON,
    mediaType: 'application/vnd.oma.lwm2m+json',
    aliases: ['json', 'lwm2m+json', 'lwm2m-json'],
    codec: jsonCodec,
  },
  {
    contentFormat: ContentFormat.LWM2M_CBOR,
    mediaType: 'application/vnd.oma.lwm2m+cbor',
    aliases: ['lwm2m-cbor', 'lwm2m+cbor'],
    codec: Lwm2mCborCodec,
    composite: Lwm2mCborCodec,
  },
];

const BY_NUMBER = new Map(FORMATS.map((f) => [f.contentFormat, f]));
const BY_NAME = new Map(
  FORMATS.flatMap((f) => [f.mediaType, ...f.aliases].map((name) => [name, f.contentFormat] as const)),
);

/** The codec for single-path payloads in this Content-Format, if we have one. */
export function getNodeCodec(contentFormat: number): NodeCodec | undefined {
  return BY_NUMBER.get(contentFormat)?.codec;
}

/** The codec for Composite operations and Send (SenML JSON/CBOR, LwM2M CBOR), if the format has one. */
export function getCompositeCodec(contentFormat: number): CompositeCodec | undefined {
  return BY_NUMBER.get(contentFormat)?.composite;
}

/** IANA media type of a Content-Format ("application/vnd.oma.lwm2m+tlv"), or undefined if unknown. */
export function contentFormatName(contentFormat: number): string | undefined {
  return BY_NUMBER.get(contentFormat)?.mediaType;
}

/**
 * A Content-Format from user or config input: a number ("11542", any 0..65535 per RFC 7252 12.3),
 * a media type ("application/senml+json") or a short name ("tlv", "senml-cbor", "json" = LwM2M JSON).
 * Case-insensitive; undefined when not recognised.
 */
export function parseContentFormat(nameOrNumber: string): number | undefined {
  const text = nameOrNumber.trim().toLowerCase();
  if (/^[0-9]{1,5}$/.test(text)) {
    const n = Number(text);
    return n <= 0xffff ? n : undefined;
  }
  return BY_NAME.get(text);
}

/** Thrown when no format both sides support can carry the operation (a caller or device error). */
export class UnsupportedContentFormatError extends Error {
  override readonly name = 'UnsupportedContentFormatError';
}

export interface ContentFormatQuery {
  lwm2mVersion: Lwm2mVersion;
  /** Content-Formats the client declared at registration (the ct= attribute of "</>"), if any. */
  supported?: readonly number[];
  /** The payload is a single resource (instance) value: text/plain is acceptable. */
  single?: boolean;
  /** A Composite operation (Read/Write/Observe-Composite): TLV cannot carry it. */
  composite?: boolean;
}

// Preference per version, best first. 1.0 knows only TLV for several values (TS 1.0 6.4.3); 1.1 adds
// SenML CBOR/JSON (TS 1.1 Core 7.4.4/7.4.5); 1.2 adds LwM2M CBOR (TS 1.2 Core 7.4.6). CBOR before
// JSON: smaller on constrained links.
const LADDER: Record<Lwm2mVersion, number[]> = {
  '1.0': [ContentFormat.TLV],
  '1.1': [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV],
  '1.2': [ContentFormat.LWM2M_CBOR, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV],
};

// Formats a client of that version supports without declaring them, as Leshan's ContentFormat
// (mandatoryForClient: TLV for 1.0; text, opaque and link for 1.1) has it; clients leave these out of ct=.
const MANDATORY: Record<Lwm2mVersion, number[]> = {
  '1.0': [ContentFormat.TLV],
  '1.1': [ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.LINK],
  '1.2': [ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.LINK],
};

/**
 * The Content-Format the server should request or write in, for a client of `lwm2mVersion`:
 * the first format of the version's ladder that the client supports (declared or mandatory).
 * With nothing matching: a single value goes as text/plain when the client declared its formats and
 * none carries several values; otherwise TLV, since a 1.1/1.2 client supports at least one of SenML
 * CBOR, SenML JSON or TLV (TS 1.1 Core 7.4, per the task brief; we could not read the text here) and
 * declared neither SenML. Composite operations need SenML or LwM2M CBOR (TS 1.1 Core 6.3.8/6.4.7):
 * SenML CBOR when nothing is declared, UnsupportedContentFormatError for 1.0 or a client that
 * declared formats without any of them.
 */
export function preferredContentFormat(query: ContentFormatQuery): number {
  const { lwm2mVersion: version, supported, single = false, composite = false } = query;
  const declared = supported !== undefined && supported.length > 0;
  const usable = new Set([...(supported ?? []), ...MANDATORY[version]]);
  const ladder = composite
    ? LADDER[version].filter((cf) => getCompositeCodec(cf) !== undefined)
    : LADDER[version];
  if (composite && ladder.length === 0) {
    throw new UnsupportedContentFormatError(`LwM2M ${version} has no Composite operations`);
  }
  const match = ladder.find((cf) => usable.has(cf));
  if (match !== undefined) return match;
  if (composite) {
    if (declared) {
      throw new UnsupportedContentFormatError(
        `client declared ct=${supported.join(',')}: none carries a Composite operation`,
      );
    }
    return ContentFormat.SENML_CBOR;
  }
  if (single && declared && usable.has(ContentFormat.TEXT)) return ContentFormat.TEXT;
  return ContentFormat.TLV;
}
