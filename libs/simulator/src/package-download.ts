// How a simulated client receives a package, for object 5 (Firmware Update) and object 9 (Software
// Management) alike: pushed by the server with Block1 writes (RFC 7959 section 2.5, one block at a time),
// or pulled from a URI with Block2 (section 2.4) over coap/coaps, or over HTTP(S). The package is hashed as it
// arrives, never kept, and the configured download speed paces both.
import { createHash, type Hash } from 'node:crypto';
import {
  blockSize,
  type BlockValue,
  CoapCode,
  type CoapEndpoint,
  codeClass,
  decodeBlock,
  encodeBlock,
  getOption,
  getUintOption,
  type IncomingRequest,
  OptionNumber,
  type OutgoingResponse,
  type Peer,
  szxForSize,
} from '@lwm2m/coap';

/** The package last downloaded whole: its size and SHA-256 (hex). */
export interface ReceivedPackage {
  size: number;
  sha256: string;
  mode: 'push' | 'pull';
}

export interface DownloadProgress {
  received: number;
  total?: number;
  mode: 'push' | 'pull';
}

/** Why a download stopped; each object maps it to its own result code. */
export type DownloadFailure = 'connection-lost' | 'invalid-uri' | 'unsupported-protocol';

export interface DownloadOptions {
  /** Download speed in bytes per second, push and pull alike (absent or 0: as fast as the link goes). */
  bytesPerSecond?: number;
  /** Block size of a CoAP pull, 16..1024 (default 1024, SZX 6). */
  pullBlockSize?: number;
  /** Attempts per block of a pull before giving up (default 5). */
  pullAttempts?: number;
  /** Timeout of one block request of a pull, ms (default: CoAP's exchange lifetime). */
  pullTimeoutMs?: number;
}

export interface PackageReceiverHooks {
  /** A download starts (the object goes to its downloading state). */
  begin(mode: 'push' | 'pull', total?: number): void;
  progress(p: DownloadProgress): void;
  /** The last byte arrived. */
  complete(pkg: ReceivedPackage): void;
  failed(why: DownloadFailure): void;
  /** An empty package was written (the object resets). */
  emptied(): void;
}

export interface PackageReceiverDeps {
  coap: CoapEndpoint;
  /** The LwM2M server: a URI naming its host and port is fetched over the device's own session. */
  server: Peer;
  now: () => number;
  options: DownloadOptions;
  hooks: PackageReceiverHooks;
}

interface Download {
  mode: 'push' | 'pull';
  hash: Hash;
  received: number;
  total?: number;
  cancelled: boolean;
}

export class PackageReceiver {
  private download?: Download;
  private nextFreeAt = 0;
  private closed = false;
  /** Blocks a resumed push sent again (already received). */
  repeatedBlocks = 0;

  constructor(private readonly d: PackageReceiverDeps) {}

  /** Stops a download in progress (no hook is called for it any more). */
  cancel(): void {
    if (this.download) this.download.cancelled = true;
    this.download = undefined;
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  /** A Write of the package resource, whole or one Block1 block; answers 2.31 / 2.04 / 4.xx. */
  async receive(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.code !== CoapCode.PUT && req.code !== CoapCode.POST)
      return { code: CoapCode.METHOD_NOT_ALLOWED, payload: 'the package is write-only' };
    let block: BlockValue | undefined;
    try {
      const raw = getOption(req.message, OptionNumber.BLOCK1);
      block = raw === undefined ? undefined : decodeBlock(raw);
    } catch (err) {
      return { code: CoapCode.BAD_OPTION, payload: String(err) };
    }
    const payload = req.payload;
    if (block === undefined) {
      if (payload.length === 0) {
        this.cancel();
        this.d.hooks.emptied();
        return { code: CoapCode.CHANGED };
      }
      const dl = this.begin('push', payload.length);
      await this.take(dl, payload);
      this.finish(dl);
      return { code: CoapCode.CHANGED };
    }
    const size = blockSize(block.szx);
    const offset = block.num * size;
    // RFC 7959 section 2.2: a block that is not the last has exactly the block size.
    if (block.more && payload.length !== size) return { code: CoapCode.BAD_REQUEST, payload: 'short block' };
    let dl = this.download?.mode === 'push' ? this.download : undefined;
    if (block.num === 0) {
      dl = this.begin('push', getUintOption(req.message, OptionNumber.SIZE1));
    } else if (dl === undefined || offset > dl.received) {
      // Section 2.5: a gap (a block we never saw) is 4.08; the server starts again from block 0.
      return { code: CoapCode.REQUEST_ENTITY_INCOMPLETE, payload: `expected offset ${dl?.received ?? 0}` };
    } else if (offset + payload.length <= dl.received) {
      // Already received: a resumed push sent it again (its acknowledgement was lost). Acknowledge again.
      this.repeatedBlocks++;
      return this.ack(block, size);
    } else if (offset !== dl.received) {
      return { code: CoapCode.REQUEST_ENTITY_INCOMPLETE, payload: `expected offset ${dl.received}` };
    }
    await this.take(dl, payload);
    if (dl.cancelled) return { code: CoapCode.SERVICE_UNAVAILABLE, payload: 'download cancelled' };
    if (block.more) return this.ack(block, size);
    this.finish(dl);
    return {
      code: CoapCode.CHANGED,
      options: [{ number: OptionNumber.BLOCK1, value: encodeBlock({ ...block, more: false }) }],
    };
  }

  /** Fetches `uri` (coap, coaps, http, https) in the background; the hooks tell how it went. */
  pull(uri: string): void {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      this.cancel();
      this.d.hooks.failed('invalid-uri');
      return;
    }
    const dl = this.begin('pull');
    const run =
      url.protocol === 'coap:' || url.protocol === 'coaps:'
        ? this.pullCoap(dl, url)
        : url.protocol === 'http:' || url.protocol === 'https:'
          ? this.pullHttp(dl, url)
          : Promise.resolve<DownloadFailure>('unsupported-protocol');
    const current = () => !dl.cancelled && this.download === dl && !this.closed;
    void run
      .then((failed) => {
        if (!current()) return;
        if (failed !== undefined) {
          this.download = undefined;
          this.d.hooks.failed(failed);
        } else this.finish(dl);
      })
      .catch(() => {
        if (!current()) return;
        this.download = undefined;
        this.d.hooks.failed('connection-lost');
      });
  }

  private ack(block: BlockValue, size: number): OutgoingResponse {
    const value = encodeBlock({ num: block.num, more: true, szx: szxForSize(size) });
    return { code: CoapCode.CONTINUE, options: [{ number: OptionNumber.BLOCK1, value }] };
  }

  /** RFC 7959 section 2.4: GET block after block, each request naming the next (Block2 NUM, SZX). */
  private async pullCoap(dl: Download, url: URL): Promise<DownloadFailure | undefined> {
    const port = Number(url.port || (url.protocol === 'coaps:' ? 5684 : 5683));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const server = this.d.server;
    // The server's own address: the device's session (DTLS when it has one) carries the pull.
    const peer: Peer =
      port === server.port && (host === server.address || host === 'localhost')
        ? server
        : { address: host, port };
    const path = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const query = url.search === '' ? [] : url.search.slice(1).split('&');
    let szx = szxForSize(this.d.options.pullBlockSize ?? 1024);
    const attempts = this.d.options.pullAttempts ?? 5;
    for (;;) {
      const num = dl.received / blockSize(szx);
      let res;
      for (let attempt = 1; ; attempt++) {
        if (dl.cancelled || this.closed) return undefined;
        try {
          res = await this.d.coap.request(
            peer,
            {
              path,
              query,
              options: [{ number: OptionNumber.BLOCK2, value: encodeBlock({ num, more: false, szx }) }],
            },
            { singleExchange: true, timeout: this.d.options.pullTimeoutMs },
          );
          break;
        } catch {
          // A lost block (or a rebinding NAT) costs a retry of that block, not the download.
          if (attempt >= attempts) return 'connection-lost';
        }
      }
      if (codeClass(res.code) === 4) return 'invalid-uri';
      if (res.code !== CoapCode.CONTENT) return 'connection-lost';
      const raw = getOption(res.message, OptionNumber.BLOCK2);
      const b = raw === undefined ? undefined : decodeBlock(raw);
      if (dl.received === 0) dl.total = getUintOption(res.message, OptionNumber.SIZE2);
      if (b !== undefined && b.num * blockSize(b.szx) !== dl.received) return 'connection-lost';
      await this.take(dl, res.payload);
      if (b === undefined || !b.more) return undefined;
      szx = b.szx;
    }
  }

  /** The same over HTTP(S), as a stream (the api serves GET /api/v1/firmware/{id}/content). */
  private async pullHttp(dl: Download, url: URL): Promise<DownloadFailure | undefined> {
    const res = await fetch(url);
    if (!res.ok || res.body === null) return res.status === 404 ? 'invalid-uri' : 'connection-lost';
    const length = Number(res.headers.get('content-length'));
    if (Number.isFinite(length) && length > 0) dl.total = length;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (dl.cancelled || this.closed) return undefined;
      await this.take(dl, Buffer.from(chunk));
    }
    return undefined;
  }

  private begin(mode: 'push' | 'pull', total?: number): Download {
    this.cancel();
    const dl: Download = {
      mode,
      hash: createHash('sha256'),
      received: 0,
      ...(total !== undefined ? { total } : {}),
      cancelled: false,
    };
    this.download = dl;
    this.d.hooks.begin(mode, total);
    this.progress(dl);
    return dl;
  }

  /** Hashes a piece and waits as long as the configured speed says it took. */
  private async take(dl: Download, piece: Buffer): Promise<void> {
    dl.hash.update(piece);
    dl.received += piece.length;
    const speed = this.d.options.bytesPerSecond ?? 0;
    if (speed > 0) {
      const now = this.d.now();
      this.nextFreeAt = Math.max(now, this.nextFreeAt) + (piece.length * 1000) / speed;
      const wait = this.nextFreeAt - now;
      if (wait >= 1) await new Promise((r) => setTimeout(r, wait).unref?.());
    }
    if (!dl.cancelled) this.progress(dl);
  }

  private finish(dl: Download): void {
    if (this.download === dl) this.download = undefined;
    this.d.hooks.complete({ size: dl.received, sha256: dl.hash.digest('hex'), mode: dl.mode });
  }

  private progress(dl: Download): void {
    this.d.hooks.progress({
      received: dl.received,
      ...(dl.total !== undefined ? { total: dl.total } : {}),
      mode: dl.mode,
    });
  }
}
