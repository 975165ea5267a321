// RFC 7959 on the client side: a request body larger than the block size goes out in Block1 blocks
// (section 2.5), and a Block2 response (or notification, section 2.3) is fetched to its end (2.4, 3.1).
// Each block is one exchange of the exchange layer.
import { type BlockValue, blockSize, decodeBlock, encodeBlock } from './block';
import type { BlockwiseLimits } from './blockwise';
import { CoapCode, codeClass, formatCode } from './codes';
import { CoapExchangeError } from './errors';
import type { CoapResponse, RequestOptions } from './exchange';
import { cloneMessage, type Received } from './exchange-layer';
import type { CoapMessage } from './message';
import {
  getContentFormat,
  getETags,
  getObserve,
  getOption,
  OptionNumber,
  removeOption,
  setOption,
} from './options';
import type { Peer } from '@lwm2m/transport';

const EMPTY = Buffer.alloc(0);

/** One exchange with `peer` (the endpoint's exchange layer, with or without Echo answering). */
export type ExchangeFn = (
  peer: Peer,
  template: CoapMessage,
  opts: RequestOptions,
  token?: Buffer,
) => Promise<Received>;

export function readBlock(msg: CoapMessage, n: number): BlockValue | undefined {
  const raw = getOption(msg, n);
  return raw === undefined ? undefined : decodeBlock(raw);
}

export function toResponse(msg: CoapMessage, peer: Peer, payload: Buffer): CoapResponse {
  return {
    peer,
    code: msg.code,
    options: msg.options,
    payload,
    contentFormat: getContentFormat(msg),
    observe: getObserve(msg),
    token: msg.token,
    message: msg,
  };
}

export class BlockwiseClient {
  constructor(
    private readonly szx: number,
    private readonly limits: BlockwiseLimits,
  ) {}

  /** RFC 7959 section 2.5: a body larger than the block size goes out block by block. */
  async sendWithBlock1(
    exchange: ExchangeFn,
    peer: Peer,
    base: CoapMessage,
    opts: RequestOptions,
    token?: Buffer,
  ): Promise<Received> {
    const body = base.payload;
    let szx = this.szx;
    if (body.length <= blockSize(szx)) return exchange(peer, base, opts, token);
    let offset = 0;
    while (true) {
      const size = blockSize(szx);
      const num = offset / size;
      const chunk = body.subarray(offset, offset + size);
      const more = offset + chunk.length < body.length;
      const m = cloneMessage(base);
      m.payload = chunk;
      setOption(m, OptionNumber.BLOCK1, encodeBlock({ num, more, szx }));
      if (num === 0) setOption(m, OptionNumber.SIZE1, body.length);
      const r = await exchange(peer, m, opts, num === 0 ? token : undefined);
      if (!more || r.msg.code !== CoapCode.CONTINUE) return r;
      offset += chunk.length;
      let ack: BlockValue | undefined;
      try {
        ack = readBlock(r.msg, OptionNumber.BLOCK1);
      } catch {
        ack = undefined;
      }
      // The server may ask for smaller blocks; the byte offset stays (RFC 7959 section 2.5).
      if (ack !== undefined && ack.szx < szx) szx = ack.szx;
    }
  }

  /** RFC 7959 section 2.4/3.1: fetches the remaining Block2 blocks after `first`. */
  async completeBlock2(
    exchange: ExchangeFn,
    peer: Peer,
    base: CoapMessage,
    first: Received,
    opts: RequestOptions,
  ): Promise<CoapResponse> {
    let block: BlockValue | undefined;
    try {
      block = readBlock(first.msg, OptionNumber.BLOCK2);
    } catch {
      throw new CoapExchangeError('blockwise', 'response carries a malformed Block2 option');
    }
    if (block === undefined || !block.more) return toResponse(first.msg, first.peer, first.msg.payload);
    if (first.msg.payload.length !== blockSize(block.szx) || block.num !== 0) {
      throw new CoapExchangeError('blockwise', 'first Block2 block has the wrong size or number');
    }
    const etag = getETags(first.msg)[0];
    const parts = [first.msg.payload];
    let total = first.msg.payload.length;
    let szx = block.szx;
    let more = true;
    while (more) {
      if (total > this.limits.maxBodySize)
        throw new CoapExchangeError('blockwise', 'response body too large');
      const size = blockSize(szx);
      const m = cloneMessage(base);
      m.payload = EMPTY;
      removeOption(m, OptionNumber.BLOCK1);
      removeOption(m, OptionNumber.SIZE1);
      removeOption(m, OptionNumber.OBSERVE);
      setOption(m, OptionNumber.BLOCK2, encodeBlock({ num: total / size, more: false, szx }));
      const r = await exchange(peer, m, opts);
      let b: BlockValue | undefined;
      try {
        b = readBlock(r.msg, OptionNumber.BLOCK2);
      } catch {
        b = undefined;
      }
      if (codeClass(r.msg.code) !== 2 || b === undefined || b.num * blockSize(b.szx) !== total) {
        throw new CoapExchangeError(
          'blockwise',
          `block at offset ${total} failed with ${formatCode(r.msg.code)}`,
        );
      }
      const tag = getETags(r.msg)[0];
      if (etag !== undefined && tag !== undefined && !etag.equals(tag)) {
        // RFC 7959 section 2.4: the representation changed under us.
        throw new CoapExchangeError('blockwise', 'ETag changed during a Block2 transfer');
      }
      if (b.more && r.msg.payload.length !== blockSize(b.szx)) {
        throw new CoapExchangeError('blockwise', 'a middle block has the wrong size');
      }
      parts.push(r.msg.payload);
      total += r.msg.payload.length;
      more = b.more;
      szx = b.szx;
    }
    return toResponse(first.msg, first.peer, Buffer.concat(parts, total));
  }
}
