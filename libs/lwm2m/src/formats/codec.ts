// The contract every LwM2M content-format codec implements (LwM2M TS 1.2 Core section 7.4: Data Formats).
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes, Lwm2mNode, TimestampedNodes } from '../node';
import type { Lwm2mPath } from '../path';

/** Content-Format numbers (IANA CoAP Content-Formats registry; LwM2M TS 1.2 Core Table 7.4-1). */
export const ContentFormat = {
  TEXT: 0,
  LINK: 40,
  OPAQUE: 42,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  /** RFC 8790: SenML FETCH/PATCH packs (patch notifications, iPATCH). */
  SENML_ETCH_JSON: 320,
  SENML_ETCH_CBOR: 322,
  TLV: 11542,
  JSON: 11543,
  LWM2M_CBOR: 11544,
} as const;
export type ContentFormatNumber = (typeof ContentFormat)[keyof typeof ContentFormat];

/**
 * A codec for single-path payloads. `path` is the request path the payload answers (or is sent to):
 * formats that omit ids (TLV for a single resource, text/plain) take them from it. Decoders throw
 * only DecodeError (from @lwm2m/bytes).
 */
export interface NodeCodec {
  readonly contentFormat: number;
  readonly name: string;
  encode(node: Lwm2mNode, path: Lwm2mPath, model: ObjectModelRegistry): Buffer;
  decode(payload: Buffer, path: Lwm2mPath, model: ObjectModelRegistry): Lwm2mNode;
}

/** Formats able to carry several paths at once (SenML JSON/CBOR, LwM2M CBOR): Composite ops and Send. */
export interface CompositeCodec extends NodeCodec {
  encodeComposite(nodes: CompositeNodes, model: ObjectModelRegistry): Buffer;
  decodeComposite(payload: Buffer, model: ObjectModelRegistry): CompositeNodes;
  /** Read-Composite / Observe-Composite request body: the list of paths only. */
  encodePaths(paths: Lwm2mPath[]): Buffer;
  decodePaths(payload: Buffer): Lwm2mPath[];
  /** Send / notifications carrying timestamped values (historical data). */
  encodeTimestamped(data: TimestampedNodes, model: ObjectModelRegistry): Buffer;
  decodeTimestamped(payload: Buffer, model: ObjectModelRegistry): TimestampedNodes;
}
