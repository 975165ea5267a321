// LwM2M TS 1.1/1.2 Core section 7.4 (Data Formats) and Transport section 6.4.2: which content formats the
// simulator speaks, and the choice of a response format from the request's Accept option.
// The codecs are libs/lwm2m's content-format registry: the simulator speaks every format the server does.
import {
  type CompositeCodec,
  ContentFormat,
  getCompositeCodec,
  getNodeCodec,
  type NodeCodec,
} from '@lwm2m/lwm2m';

/** The formats a SimulatedDevice may prefer (and declare in its root link). */
export type PreferredFormat = 11542 | 110 | 112 | 11544;

export const PREFERRED_FORMATS: Record<string, PreferredFormat> = {
  tlv: ContentFormat.TLV,
  'senml-json': ContentFormat.SENML_JSON,
  'senml-cbor': ContentFormat.SENML_CBOR,
  'lwm2m-cbor': ContentFormat.LWM2M_CBOR,
};

export function nodeCodec(contentFormat: number): NodeCodec | undefined {
  return getNodeCodec(contentFormat);
}

export function compositeCodec(contentFormat: number): CompositeCodec | undefined {
  return getCompositeCodec(contentFormat);
}

/** The composite format a device uses for Send and composite answers without Accept (TLV cannot carry them). */
export function compositeFormatFor(preferred: PreferredFormat): number {
  return getCompositeCodec(preferred) !== undefined ? preferred : ContentFormat.SENML_CBOR;
}
