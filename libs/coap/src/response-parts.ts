// A response as the server layers shape it before it becomes a message (internal to libs/coap).
import { CoapCode } from './codes';
import type { OutgoingResponse } from './exchange';
import type { CoapOption } from './message';
import { encodeUint, OptionNumber } from './options';

export interface ResponseParts {
  code: number;
  options: CoapOption[];
  payload: Buffer;
  /** OutgoingResponse.confirmable: a separate CON response instead of a piggybacked one. */
  confirmable?: boolean;
}

export const EMPTY = Buffer.alloc(0);

export function toParts(out: OutgoingResponse): ResponseParts {
  const options = (out.options ?? []).map((o) => ({ number: o.number, value: o.value }));
  const parts: ResponseParts = {
    code: out.code,
    options,
    payload: typeof out.payload === 'string' ? Buffer.from(out.payload, 'utf8') : (out.payload ?? EMPTY),
    ...(out.confirmable === true ? { confirmable: true } : {}),
  };
  if (out.contentFormat !== undefined) {
    parts.options = parts.options.filter((o) => o.number !== OptionNumber.CONTENT_FORMAT);
    parts.options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(out.contentFormat) });
  }
  return parts;
}

export function badOption(reason: string): ResponseParts {
  return { code: CoapCode.BAD_OPTION, options: [], payload: Buffer.from(reason) };
}
