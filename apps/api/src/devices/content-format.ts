// ?format= names for the LwM2M content formats (LwM2M TS 1.2 Core Table 7.4-1) or a Content-Format number.
import { ContentFormat } from '@lwm2m/lwm2m';

export const FORMAT_NAMES: Record<string, number> = {
  text: ContentFormat.TEXT,
  'text/plain': ContentFormat.TEXT,
  opaque: ContentFormat.OPAQUE,
  'octet-stream': ContentFormat.OPAQUE,
  cbor: ContentFormat.CBOR,
  'senml-json': ContentFormat.SENML_JSON,
  'senml+json': ContentFormat.SENML_JSON,
  'senml-cbor': ContentFormat.SENML_CBOR,
  'senml+cbor': ContentFormat.SENML_CBOR,
  tlv: ContentFormat.TLV,
  json: ContentFormat.JSON,
  'lwm2m-json': ContentFormat.JSON,
  'lwm2m-cbor': ContentFormat.LWM2M_CBOR,
};

/** The Content-Format number of a name or number ("tlv", "11542"); undefined when neither. */
export function parseContentFormat(text: string): number | undefined {
  const lower = text.trim().toLowerCase();
  if (lower in FORMAT_NAMES) return FORMAT_NAMES[lower];
  if (/^(0|[1-9][0-9]{0,4})$/.test(lower)) {
    const n = Number(lower);
    return n <= 65535 ? n : undefined;
  }
  return undefined;
}
