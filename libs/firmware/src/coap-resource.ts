// LwM2M object 5 Pull over CoAP: GET coap(s)://<gateway>/fw/<id> served with Block2 (RFC 7959 section 2.4)
// straight from the image store, one block read per request: nothing is cached per transfer, so any gateway
// serves any block and the heap stays flat however many devices pull.
import {
  blockSize,
  type BlockValue,
  CoapCode,
  decodeBlock,
  encodeBlock,
  encodeUint,
  getOption,
  type CoapOption,
  type IncomingRequest,
  OptionNumber,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { type FirmwareImage, type ImageStore, ImageNotFoundError, validImageId } from './image-store';

export interface FirmwareCoapResourceOptions {
  /** First Uri-Path segment (default "fw"). */
  prefix?: string;
  /** Largest block served, 16..1024 (default 1024). */
  maxBlockSize?: number;
  /** Metadata is looked up again after this long (default 5 s): one store read per block, not two. */
  metaTtlMs?: number;
  now?: () => number;
}

export interface FirmwareCoapCounters {
  blocks: number;
  bytes: number;
  notFound: number;
  badRequests: number;
}

export class FirmwareCoapResource {
  readonly counters: FirmwareCoapCounters = { blocks: 0, bytes: 0, notFound: 0, badRequests: 0 };
  private readonly prefix: string;
  private readonly maxSzx: number;
  private readonly meta = new Map<string, { image?: FirmwareImage; until: number }>();

  constructor(
    private readonly images: ImageStore,
    private readonly o: FirmwareCoapResourceOptions = {},
  ) {
    this.prefix = o.prefix ?? 'fw';
    const max = o.maxBlockSize ?? 1024;
    this.maxSzx = Math.max(0, Math.min(6, Math.floor(Math.log2(max)) - 4));
  }

  /** For CoapEndpoint.setStreamedBlocks: this resource serves its own blocks. */
  streams(path: readonly string[]): boolean {
    return path[0] === this.prefix;
  }

  /** Answers requests under /fw; undefined for any other path. */
  handle(req: IncomingRequest): Promise<OutgoingResponse> | undefined {
    if (req.path[0] !== this.prefix) return undefined;
    return this.serve(req);
  }

  private async serve(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.code !== CoapCode.GET) return this.bad(CoapCode.METHOD_NOT_ALLOWED, 'only GET');
    const id = req.path[1];
    if (req.path.length !== 2 || id === undefined || !validImageId(id)) return this.missing();
    let requested: BlockValue | undefined;
    try {
      const raw = getOption(req.message, OptionNumber.BLOCK2);
      requested = raw === undefined ? undefined : decodeBlock(raw);
    } catch (err) {
      return this.bad(CoapCode.BAD_OPTION, String(err instanceof Error ? err.message : err));
    }
    const image = await this.lookup(id);
    if (image === undefined) return this.missing();
    // Section 2.4: the client may ask for smaller blocks, never larger than ours.
    const szx = Math.min(requested?.szx ?? this.maxSzx, this.maxSzx);
    const size = blockSize(szx);
    // A requested larger block gives the block of our size that starts at the same offset (section 2.4).
    const num = requested === undefined ? 0 : (requested.num * blockSize(requested.szx)) / size;
    const offset = num * size;
    if (offset > 0 && offset >= image.size) return this.bad(CoapCode.BAD_OPTION, 'block number out of range');
    let data: Buffer;
    try {
      data = await this.images.read(id, offset, size);
    } catch (err) {
      if (err instanceof ImageNotFoundError) return this.missing();
      throw err;
    }
    this.counters.blocks++;
    this.counters.bytes += data.length;
    const more = offset + data.length < image.size;
    const options: CoapOption[] = [
      // The first 8 bytes of the SHA-256: a client sees the image changed between blocks (section 2.4).
      { number: OptionNumber.ETAG, value: Buffer.from(image.sha256.slice(0, 16), 'hex') },
    ];
    if (requested !== undefined || more) {
      options.push({ number: OptionNumber.BLOCK2, value: encodeBlock({ num, more, szx }) });
      // Section 4: Size2 on the first block or when asked for (Size2 0 in the request).
      if (num === 0 || getOption(req.message, OptionNumber.SIZE2) !== undefined)
        options.push({ number: OptionNumber.SIZE2, value: encodeUint(image.size) });
    }
    return { code: CoapCode.CONTENT, contentFormat: 42, options, payload: data };
  }

  private async lookup(id: string): Promise<FirmwareImage | undefined> {
    const now = (this.o.now ?? Date.now)();
    const hit = this.meta.get(id);
    if (hit !== undefined && hit.until > now) return hit.image;
    const image = await this.images.get(id);
    // Bounded: ids that do not exist are cached too (a scan of random ids), so cap the map.
    if (this.meta.size >= 1024) this.meta.clear();
    this.meta.set(id, { ...(image ? { image } : {}), until: now + (this.o.metaTtlMs ?? 5000) });
    return image;
  }

  private missing(): OutgoingResponse {
    this.counters.notFound++;
    return { code: CoapCode.NOT_FOUND, payload: 'no such firmware image' };
  }

  private bad(code: number, why: string): OutgoingResponse {
    this.counters.badRequests++;
    return { code, payload: why };
  }
}
