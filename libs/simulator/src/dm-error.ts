// LwM2M TS 1.1 Core section 5 (Device Management interface): an operation that ends with a CoAP error code.
import { CoapCode } from '@lwm2m/coap';

/** Thrown inside the simulator's DM handling; the handler answers with `code` and `message` as diagnostic. */
export class DmError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'DmError';
  }
}

export const notFound = (what: string): DmError => new DmError(CoapCode.NOT_FOUND, `${what} not found`);
export const notAllowed = (what: string): DmError => new DmError(CoapCode.METHOD_NOT_ALLOWED, what);
export const badRequest = (what: string): DmError => new DmError(CoapCode.BAD_REQUEST, what);
