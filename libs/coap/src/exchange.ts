// RFC 7252 section 5: the request/response layer as the endpoint's users see it.
import type { CoapMessage, CoapOption } from './message';
import type { Peer } from '@lwm2m/transport';

/** A request as a server handler sees it (after deduplication and Block1 reassembly). */
export interface IncomingRequest {
  peer: Peer;
  peerKey: string;
  code: number;
  confirmable: boolean;
  token: Buffer;
  /** Uri-Path segments. */
  path: string[];
  /** Uri-Query values ("k=v"). */
  query: string[];
  options: CoapOption[];
  payload: Buffer;
  contentFormat?: number;
  accept?: number;
  /** RFC 7641: 0 register, 1 deregister; undefined when absent. */
  observe?: number;
  /** The (last) message as received. */
  message: CoapMessage;
}

export interface OutgoingResponse {
  code: number;
  options?: CoapOption[];
  payload?: Buffer | string;
  contentFormat?: number;
  /** Set to false to refuse an Observe registration for this response (RFC 7641 section 4.1). */
  observable?: boolean;
  /**
   * Send the response as a Confirmable message: to a CON request as a separate response after an
   * empty ACK (RFC 7252 section 5.2.2), to a NON request as CON. For responses a spec requires to be
   * Confirmable (draft-tiloca-core-observe-multicast-notifications section 2.2).
   */
  confirmable?: boolean;
}

export type CoapRequestHandler = (req: IncomingRequest) => Promise<OutgoingResponse> | OutgoingResponse;

/** A request as a client builds it. */
export interface CoapRequest {
  /** Method code, GET when absent. */
  code?: number;
  /** "/a/b" or segments. */
  path?: string | string[];
  query?: string[];
  options?: CoapOption[];
  payload?: Buffer | string;
  /** CON unless false (RFC 7252 section 2.1). */
  confirmable?: boolean;
  /** Random when absent. */
  token?: Buffer;
  accept?: number;
  contentFormat?: number;
}

export interface RequestOptions {
  /**
   * Milliseconds to wait for the response of each exchange (each block of a block-wise transfer is
   * one exchange); EXCHANGE_LIFETIME (CON) or NON_LIFETIME (NON) by default.
   */
  timeout?: number;
  signal?: AbortSignal;
  /**
   * One exchange only: no Block1 split and no Block2 follow-up, for a caller that sets its own Block1 or
   * Block2 option per request (RFC 7959 transfers streamed block by block).
   */
  singleExchange?: boolean;
}

export interface CoapResponse {
  peer: Peer;
  code: number;
  /** Options of the (first block of the) response. */
  options: CoapOption[];
  /** The whole body, reassembled when it came in Block2 blocks. */
  payload: Buffer;
  contentFormat?: number;
  /** RFC 7641 Observe value, when present. */
  observe?: number;
  token: Buffer;
  message: CoapMessage;
}
