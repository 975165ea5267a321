// RFC 8613 section 4.1.3.4.2: Outer Block options fragment an OSCORE message hop by hop (RFC 7959). They
// are neither encrypted nor integrity protected, so a receiver reassembles the whole OSCORE message, at most
// MAX_UNFRAGMENTED_SIZE bytes of it, before verifying it (sections 8.2.1 and 8.4.1). Reassembly is the CoAP
// layer's (libs/coap Block1Assembler with `maxBody` set to this limit); here is the sending side.
import { blockSize, encodeBlock, MAX_SZX } from '@lwm2m/coap';
import type { CoapMessage } from '@lwm2m/coap';
import { encodeUint, OptionNumber } from '@lwm2m/coap';

/** The security policy of section 4.1.3.4.2: larger OSCORE messages are discarded. Default 64 KiB. */
export const DEFAULT_MAX_UNFRAGMENTED_SIZE = 64 * 1024;

/**
 * Splits a protected OSCORE message into Outer Block1 (a request) or Block2 (a response) fragments of
 * 2^(szx+4) bytes, with Outer Size1/Size2. A message that fits one block is returned as it is.
 */
export function fragmentOuter(
  message: CoapMessage,
  szx: number,
  kind: 'request' | 'response',
): CoapMessage[] {
  if (!Number.isInteger(szx) || szx < 0 || szx > MAX_SZX)
    throw new RangeError(`szx ${szx} not in 0..${MAX_SZX}`);
  const size = blockSize(szx);
  const body = message.payload;
  if (body.length <= size) return [message];
  const block = kind === 'request' ? OptionNumber.BLOCK1 : OptionNumber.BLOCK2;
  const total = kind === 'request' ? OptionNumber.SIZE1 : OptionNumber.SIZE2;
  const out: CoapMessage[] = [];
  for (let num = 0; num * size < body.length; num++) {
    const more = (num + 1) * size < body.length;
    const options = message.options.filter((o) => o.number !== block && o.number !== total);
    options.push({ number: block, value: encodeBlock({ num, more, szx }) });
    if (num === 0) options.push({ number: total, value: encodeUint(body.length) });
    out.push({
      ...message,
      options: options.sort((a, b) => a.number - b.number),
      payload: body.subarray(num * size, Math.min(body.length, (num + 1) * size)),
    });
  }
  return out;
}
