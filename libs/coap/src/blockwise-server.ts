// RFC 7959 on the server side: Block1 uploads reassembled before the handler sees them (section 2.5), and
// responses larger than the block size served block by block from one cached representation (2.4), with
// the client's smaller SZX honoured. The state lives in blockwise.ts's bounded caches, expired by the
// endpoint's periodic sweep.
import { type BlockValue, blockSize, encodeBlock } from './block';
import { Block1Assembler, Block2BodyCache, type BlockwiseLimits } from './blockwise';
import { CoapCode, codeClass } from './codes';
import type { IncomingRequest, OutgoingResponse } from './exchange';
import type { CoapMessage } from './message';
import { encodeUint, getOption, getUintOption, OptionNumber } from './options';
import { badOption, EMPTY, type ResponseParts, toParts } from './response-parts';

/** See CoapEndpointOptions.block1Gate. */
export type Block1Gate = (req: IncomingRequest) => OutgoingResponse | undefined;

/** The largest request body (bytes) reassembled for a request to `path`; undefined: limits.maxBodySize. */
export type RequestBodyLimit = (path: readonly string[], code: number) => number | undefined;

/** The outcome of a Block1 block: a response now, or the whole body for the handler. */
export type Block1Outcome = { respond: ResponseParts } | { body: Buffer; ack: BlockValue };

/** The key of one block-wise transfer: peer, method and URI (RFC 7959 section 2.4/2.5). */
export function transferKey(
  peerKey: string,
  code: number,
  path: readonly string[],
  query: readonly string[],
) {
  return `${peerKey} ${code} ${path.join('/')}?${query.join('&')}`;
}

export class BlockwiseServer {
  readonly block1: Block1Assembler;
  readonly block2: Block2BodyCache;
  block1Gate?: Block1Gate;
  requestBodyLimit?: RequestBodyLimit;

  constructor(
    private readonly szx: number,
    private readonly limits: BlockwiseLimits,
    lifetime: number,
    private readonly now: () => number,
  ) {
    this.block1 = new Block1Assembler(limits, lifetime);
    this.block2 = new Block2BodyCache(limits.maxTotalBytes, lifetime);
  }

  /** Expires stale transfers; whether any state is left (PeriodicSweep). */
  sweep(): boolean {
    const now = this.now();
    this.block1.sweep(now);
    this.block2.sweep(now);
    return this.block1.size > 0 || this.block2.size > 0;
  }

  /** One Block1 block of `req` (RFC 7959 section 2.5). */
  receiveBlock1(req: IncomingRequest, msg: CoapMessage, block1: BlockValue, key: string): Block1Outcome {
    if (block1.num === 0 && this.block1Gate !== undefined) {
      // RFC 9175 section 2.4 item 3: reachability before any state (nothing buffered yet).
      const refused = this.block1Gate(req);
      if (refused !== undefined) return { respond: toParts(refused) };
    }
    const size1 = getUintOption(msg, OptionNumber.SIZE1);
    const maxBody = Math.min(
      this.requestBodyLimit?.(req.path, msg.code) ?? this.limits.maxBodySize,
      this.limits.maxBodySize,
    );
    const r = this.block1.add(key, req.peerKey, block1, msg.payload, this.szx, this.now(), size1, maxBody);
    switch (r.kind) {
      case 'continue':
        // RFC 7959 section 2.5: 2.31 Continue acknowledges one block.
        return {
          respond: {
            code: CoapCode.CONTINUE,
            options: [{ number: OptionNumber.BLOCK1, value: encodeBlock(r.ack) }],
            payload: EMPTY,
          },
        };
      case 'incomplete':
        return { respond: { code: CoapCode.REQUEST_ENTITY_INCOMPLETE, options: [], payload: EMPTY } };
      case 'too-large':
        // RFC 7959 section 2.9.3: Size1 tells the client the largest body we take.
        return {
          respond: {
            code: CoapCode.REQUEST_ENTITY_TOO_LARGE,
            options: [{ number: OptionNumber.SIZE1, value: encodeUint(maxBody) }],
            payload: EMPTY,
          },
        };
      case 'complete':
        return { body: r.body, ack: r.ack };
    }
  }

  /** A later block of a cached Block2 body, when the transfer is known. */
  cachedBlock2(block2: BlockValue, req: CoapMessage, key: string): ResponseParts | undefined {
    const cached = this.block2.get<ResponseParts>(key, this.now());
    if (cached === undefined) return undefined;
    return this.applyBlock2({ ...cached.template, payload: cached.body }, block2, req, key);
  }

  /** Whether applyBlock2 needs the transfer key (else '' will do: no string built per request). */
  needsKey(parts: ResponseParts, requested: BlockValue | undefined): boolean {
    return requested !== undefined || parts.payload.length > blockSize(this.szx);
  }

  /** RFC 7959 section 2.4: one block of a response, honouring the client's (smaller) SZX. */
  applyBlock2(
    parts: ResponseParts,
    requested: BlockValue | undefined,
    req: CoapMessage,
    key: string,
  ): ResponseParts {
    const szx = Math.min(requested?.szx ?? this.szx, this.szx);
    const size = blockSize(szx);
    const body = parts.payload;
    if (requested === undefined && body.length <= size) return parts;
    const num = requested?.num ?? 0;
    const offset = num * size;
    if (num > 0 && offset >= body.length) return badOption('block number out of range');
    const more = offset + size < body.length;
    const options = parts.options.filter(
      (o) => o.number !== OptionNumber.BLOCK2 && o.number !== OptionNumber.SIZE2,
    );
    options.push({ number: OptionNumber.BLOCK2, value: encodeBlock({ num, more, szx }) });
    // RFC 7959 section 4: Size2 when the request asked for it (Size2 0) or on the first block.
    if (getOption(req, OptionNumber.SIZE2) !== undefined || num === 0) {
      options.push({ number: OptionNumber.SIZE2, value: encodeUint(body.length) });
    }
    if (codeClass(parts.code) === 2 && more) {
      const template: ResponseParts = {
        code: parts.code,
        options: parts.options.filter((o) => o.number !== OptionNumber.OBSERVE),
        payload: EMPTY,
      };
      this.block2.set(key, body, template, this.now());
    } else if (!more) {
      this.block2.delete(key);
    }
    const blockOptions = num > 0 ? options.filter((o) => o.number !== OptionNumber.OBSERVE) : options;
    return {
      code: parts.code,
      options: blockOptions,
      payload: body.subarray(offset, offset + size),
      ...(parts.confirmable === true ? { confirmable: true } : {}),
    };
  }

  clear(): void {
    this.block1.clear();
    this.block2.clear();
  }
}
