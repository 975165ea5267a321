// LwM2M TS 1.1/1.2 Core section 7.4 (Data Formats) and Transport section 6.4.2: which content formats the
// simulator speaks, and the choice of a response format from the request's Accept option.
// TODO: switch to getNodeCodec/getCompositeCodec of @lwm2m/lwm2m formats/registry.ts once it lands.
import {
  type CompositeCodec,
  ContentFormat,
  jsonCodec,
  Lwm2mCborCodec,
  type NodeCodec,
  opaqueCodec,
  SenmlCborCodec,
  SenmlJsonCodec,
  textCodec,
  tlvCodec,
} from '@lwm2m/lwm2m';

/** The formats a SimulatedDevice may prefer (and declare in its root link). */
export type PreferredFormat = 11542 | 110 | 112 | 11544;

export const PREFERRED_FORMATS: Record<string, PreferredFormat> = {
  tlv: ContentFormat.TLV,
  'senml-json': ContentFormat.SENML_JSON,
  'senml-cbor': ContentFormat.SENML_CBOR,
  'lwm2m-cbor': ContentFormat.LWM2M_CBOR,
};

const NODE_CODECS = new Map<number, NodeCodec>([
  [ContentFormat.TEXT, textCodec],
  [ContentFormat.OPAQUE, opaqueCodec],
  [ContentFormat.TLV, tlvCodec],
  [ContentFormat.JSON, jsonCodec as NodeCodec],
  [ContentFormat.SENML_JSON, SenmlJsonCodec],
  [ContentFormat.SENML_CBOR, SenmlCborCodec],
  [ContentFormat.LWM2M_CBOR, Lwm2mCborCodec],
]);

const COMPOSITE_CODECS = new Map<number, CompositeCodec>([
  [ContentFormat.SENML_JSON, SenmlJsonCodec],
  [ContentFormat.SENML_CBOR, SenmlCborCodec],
  [ContentFormat.LWM2M_CBOR, Lwm2mCborCodec],
]);

export function nodeCodec(contentFormat: number): NodeCodec | undefined {
  return NODE_CODECS.get(contentFormat);
}

export function compositeCodec(contentFormat: number): CompositeCodec | undefined {
  return COMPOSITE_CODECS.get(contentFormat);
}

/** The composite format a device uses for Send and composite answers without Accept (TLV cannot carry them). */
export function compositeFormatFor(preferred: PreferredFormat): number {
  return COMPOSITE_CODECS.has(preferred) ? preferred : ContentFormat.SENML_CBOR;
}
