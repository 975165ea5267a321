// LwM2M TS 1.1/1.2 Core Appendix E.6 (object 5, Firmware Update) on the simulated client: a package pushed
// to /5/0/0 with Block1 (RFC 7959 section 2.5), or pulled from the Package URI (/5/0/1) with Block2 (coap,
// coaps) or HTTP, the State machine of /5/0/3 (0 Idle, 1 Downloading, 2 Downloaded, 3 Updating) and the
// Update Result codes of /5/0/5. The package is hashed as it arrives, never kept: a fleet of simulated
// devices pulling a large image costs no memory.
import { createHash, type Hash } from 'node:crypto';
import { EventEmitter } from 'node:events';
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
import { lwm2mObject, multipleResource, objectInstance, singleResource } from '@lwm2m/lwm2m';
import { notAllowed } from './dm-error';
import type { ObjectTree } from './object-tree';

export const FIRMWARE_OBJECT_ID = 5;

/** /5/0/3 State (Core E.6). */
export const FirmwareState = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;

/** /5/0/5 Update Result (Core E.6). */
export const UpdateResult = {
  INITIAL: 0,
  SUCCESS: 1,
  NOT_ENOUGH_FLASH: 2,
  OUT_OF_RAM: 3,
  CONNECTION_LOST: 4,
  INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6,
  INVALID_URI: 7,
  UPDATE_FAILED: 8,
  UNSUPPORTED_PROTOCOL: 9,
  CANCELLED: 10,
} as const;

/** Results that end a download (Downloading -> Idle); the others (8) end an update (Updating -> Downloaded). */
const DOWNLOAD_FAILURES = new Set([2, 3, 4, 5, 6, 7, 9]);

export interface FirmwareOptions {
  /** Download speed in bytes per second, push and pull alike (absent or 0: as fast as the link goes). */
  bytesPerSecond?: number;
  /** Probability in [0, 1] that a download or an update fails (default 0). */
  failureRate?: number;
  /**
   * The Update Result of a drawn failure (default 8, Firmware update failed: Updating -> Downloaded). A
   * download failure code (2-7, 9) fails the download instead once its last block arrived (-> Idle).
   */
  failureResult?: number;
  /** How long Execute Update takes before the result, ms (default 500). */
  updateMs?: number;
  /** Block size of a CoAP pull, 16..1024 (default 1024, SZX 6). */
  pullBlockSize?: number;
  /** Attempts per block of a pull before giving up with result 4 (default 5). */
  pullAttempts?: number;
  /** Timeout of one block request of a pull, ms (default: CoAP's exchange lifetime). */
  pullTimeoutMs?: number;
}

export interface FirmwareProgress {
  state: number;
  result: number;
  /** Bytes of the package received so far. */
  received: number;
  /** Its size when known (Size1 of a push, Size2 of a pull, Content-Length of HTTP). */
  total?: number;
  mode?: 'push' | 'pull';
}

/** The package last downloaded whole: its size and SHA-256 (hex). */
export interface ReceivedPackage {
  size: number;
  sha256: string;
  mode: 'push' | 'pull';
}

export interface FirmwareObjectEvents {
  progress: [FirmwareProgress];
  state: [{ state: number; result: number }];
  downloaded: [ReceivedPackage];
  updated: [{ result: number; firmwareVersion?: string }];
}

interface Download {
  mode: 'push' | 'pull';
  hash: Hash;
  received: number;
  total?: number;
  /** The failure drawn for this download and its update (undefined: it goes well). */
  failure?: number;
  cancelled: boolean;
  /** Block1 blocks answered again because the server sent them twice (a resumed push). */
  repeated: number;
}

export interface FirmwareObjectDeps {
  tree: ObjectTree;
  coap: CoapEndpoint;
  /** The LwM2M server: a Package URI naming its host and port is fetched over the device's own session. */
  server: Peer;
  now: () => number;
  random: () => number;
  options: FirmwareOptions;
}

const PACKAGE_PATH = '5/0/0';

export class FirmwareUpdateObject extends EventEmitter<FirmwareObjectEvents> {
  private download?: Download;
  private nextFreeAt = 0;
  private updateTimer?: ReturnType<typeof setTimeout>;
  private closed = false;
  /** The failure drawn at download, applied by the Update (result 8). */
  private pendingFailure?: number;
  /** The last whole package (what an Update installs). */
  lastPackage?: ReceivedPackage;
  /** Blocks a resumed push sent again (already received). */
  repeatedBlocks = 0;

  constructor(private readonly d: FirmwareObjectDeps) {
    super();
    d.tree.addObject(
      lwm2mObject(FIRMWARE_OBJECT_ID, [
        objectInstance(0, [
          singleResource(1, 'string', ''),
          singleResource(3, 'integer', FirmwareState.IDLE),
          singleResource(5, 'integer', UpdateResult.INITIAL),
          singleResource(6, 'string', ''),
          singleResource(7, 'string', ''),
          // Protocols of a pull: 0 CoAP, 1 CoAPS, 2 HTTP 1.1 (E.6 resource 8).
          multipleResource(8, 'integer', [
            [0, 0],
            [1, 1],
            [2, 2],
          ]),
          // 2: both pull and push (resource 9).
          singleResource(9, 'integer', 2),
          singleResource(12, 'time', new Date(Math.floor(d.now() / 1000) * 1000)),
        ]),
      ]),
    );
    d.tree.onExecute('/5/0/2', () => this.executeUpdate());
    d.tree.onExecute('/5/0/10', () => this.cancel());
  }

  get state(): number {
    return Number(this.d.tree.getValue('/5/0/3'));
  }

  get result(): number {
    return Number(this.d.tree.getValue('/5/0/5'));
  }

  /** For CoapEndpointOptions.streamedBlocks: the Package resource takes its blocks one at a time. */
  streams(path: readonly string[]): boolean {
    return path.join('/') === PACKAGE_PATH;
  }

  close(): void {
    this.closed = true;
    if (this.download) this.download.cancelled = true;
    if (this.updateTimer) clearTimeout(this.updateTimer);
  }

  // ------------------------------------------------------------------ push (Write /5/0/0)

  /** A Write of /5/0/0, whole or one Block1 block (RFC 7959 section 2.5); answers 2.31 / 2.04 / 4.xx. */
  async receivePackage(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.code !== CoapCode.PUT && req.code !== CoapCode.POST)
      return { code: CoapCode.METHOD_NOT_ALLOWED, payload: 'the Package is write-only' };
    let block: BlockValue | undefined;
    try {
      const raw = getOption(req.message, OptionNumber.BLOCK1);
      block = raw === undefined ? undefined : decodeBlock(raw);
    } catch (err) {
      return { code: CoapCode.BAD_OPTION, payload: String(err) };
    }
    if (this.state === FirmwareState.UPDATING)
      return { code: CoapCode.METHOD_NOT_ALLOWED, payload: 'updating' };
    const payload = req.payload;
    if (block === undefined) {
      // E.6: writing an empty Package resets the state machine to Idle.
      if (payload.length === 0) {
        this.reset(UpdateResult.INITIAL);
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
      dl.repeated++;
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

  private ack(block: BlockValue, size: number): OutgoingResponse {
    return {
      code: CoapCode.CONTINUE,
      options: [
        {
          number: OptionNumber.BLOCK1,
          value: encodeBlock({ num: block.num, more: true, szx: szxForSize(size) }),
        },
      ],
    };
  }

  // ------------------------------------------------------------------ pull (Write /5/0/1)

  /** The server wrote the Package URI: an empty one resets, any other starts a pull. */
  packageUriWritten(): void {
    const uri = String(this.d.tree.getValue('/5/0/1') ?? '');
    if (uri === '') {
      this.reset(UpdateResult.INITIAL);
      return;
    }
    if (this.state === FirmwareState.UPDATING) return;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      this.reset(UpdateResult.INVALID_URI);
      return;
    }
    const dl = this.begin('pull');
    const run =
      url.protocol === 'coap:' || url.protocol === 'coaps:'
        ? this.pullCoap(dl, url)
        : url.protocol === 'http:' || url.protocol === 'https:'
          ? this.pullHttp(dl, url)
          : Promise.resolve(UpdateResult.UNSUPPORTED_PROTOCOL);
    void run
      .then((failed) => {
        if (dl.cancelled || this.download !== dl) return;
        if (failed !== undefined) this.reset(failed);
        else this.finish(dl);
      })
      .catch(() => {
        if (!dl.cancelled && this.download === dl) this.reset(UpdateResult.CONNECTION_LOST);
      });
  }

  /** RFC 7959 section 2.4: GET block after block, each request naming the next (Block2 NUM, SZX). */
  private async pullCoap(dl: Download, url: URL): Promise<number | undefined> {
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
          if (attempt >= attempts) return UpdateResult.CONNECTION_LOST;
        }
      }
      if (res.code === CoapCode.NOT_FOUND || codeClass(res.code) === 4) return UpdateResult.INVALID_URI;
      if (res.code !== CoapCode.CONTENT) return UpdateResult.CONNECTION_LOST;
      const raw = getOption(res.message, OptionNumber.BLOCK2);
      const b = raw === undefined ? undefined : decodeBlock(raw);
      if (dl.received === 0) dl.total = getUintOption(res.message, OptionNumber.SIZE2);
      if (b !== undefined && b.num * blockSize(b.szx) !== dl.received) return UpdateResult.CONNECTION_LOST;
      await this.take(dl, res.payload);
      if (b === undefined || !b.more) return undefined;
      szx = b.szx;
    }
  }

  /** The same over HTTP(S), as a stream (the api serves GET /api/v1/firmware/{id}/content). */
  private async pullHttp(dl: Download, url: URL): Promise<number | undefined> {
    const res = await fetch(url);
    if (!res.ok || res.body === null) return res.status === 404 ? UpdateResult.INVALID_URI : 4;
    const length = Number(res.headers.get('content-length'));
    if (Number.isFinite(length) && length > 0) dl.total = length;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (dl.cancelled || this.closed) return undefined;
      await this.take(dl, Buffer.from(chunk));
    }
    return undefined;
  }

  // ------------------------------------------------------------------ state machine

  private begin(mode: 'push' | 'pull', total?: number): Download {
    if (this.download) this.download.cancelled = true;
    const rate = this.d.options.failureRate ?? 0;
    const failure = rate > 0 && this.d.random() < rate ? (this.d.options.failureResult ?? 8) : undefined;
    const dl: Download = {
      mode,
      hash: createHash('sha256'),
      received: 0,
      ...(total !== undefined ? { total } : {}),
      ...(failure !== undefined ? { failure } : {}),
      cancelled: false,
      repeated: 0,
    };
    this.download = dl;
    this.lastPackage = undefined;
    this.setState(FirmwareState.DOWNLOADING, UpdateResult.INITIAL);
    this.emitProgress(dl);
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
    this.emitProgress(dl);
  }

  private finish(dl: Download): void {
    this.download = undefined;
    if (dl.failure !== undefined && DOWNLOAD_FAILURES.has(dl.failure)) {
      this.reset(dl.failure);
      return;
    }
    this.lastPackage = { size: dl.received, sha256: dl.hash.digest('hex'), mode: dl.mode };
    this.pendingFailure = dl.failure;
    this.setState(FirmwareState.DOWNLOADED, UpdateResult.INITIAL);
    this.emit('downloaded', this.lastPackage);
  }

  /** Execute /5/0/2 (E.6): only in Downloaded; Updating, then Idle with 1 or back to Downloaded with 8. */
  private executeUpdate(): void {
    if (this.state !== FirmwareState.DOWNLOADED || this.lastPackage === undefined)
      throw notAllowed(`Update in state ${this.state}`);
    this.setState(FirmwareState.UPDATING, UpdateResult.INITIAL);
    const failure = this.pendingFailure;
    this.updateTimer = setTimeout(() => {
      if (this.closed) return;
      if (failure !== undefined) {
        this.setState(FirmwareState.DOWNLOADED, failure);
        this.emit('updated', { result: failure });
        return;
      }
      const version = `fw-${this.lastPackage!.sha256.slice(0, 12)}`;
      this.d.tree.setValue('/3/0/3', version);
      this.d.tree.setValue('/5/0/7', version);
      this.setState(FirmwareState.IDLE, UpdateResult.SUCCESS);
      this.emit('updated', { result: UpdateResult.SUCCESS, firmwareVersion: version });
    }, this.d.options.updateMs ?? 500);
    this.updateTimer.unref?.();
  }

  /** Execute /5/0/10 Cancel (1.1): a download in progress stops, result 10. */
  private cancel(): void {
    if (this.state === FirmwareState.UPDATING) throw notAllowed('cancel while updating');
    this.reset(UpdateResult.CANCELLED);
  }

  private reset(result: number): void {
    if (this.download) this.download.cancelled = true;
    this.download = undefined;
    this.pendingFailure = undefined;
    this.setState(FirmwareState.IDLE, result);
  }

  private setState(state: number, result: number): void {
    const changed = state !== this.state || result !== this.result;
    this.d.tree.setValue('/5/0/3', state);
    this.d.tree.setValue('/5/0/5', result);
    if (!changed) return;
    this.d.tree.setValue('/5/0/12', new Date(Math.floor(this.d.now() / 1000) * 1000));
    this.emit('state', { state, result });
  }

  private emitProgress(dl: Download): void {
    this.emit('progress', {
      state: this.state,
      result: this.result,
      received: dl.received,
      ...(dl.total !== undefined ? { total: dl.total } : {}),
      mode: dl.mode,
    });
  }
}

/** A text progress bar of a download (the CLI simulator prints it on stderr). */
export function progressBar(p: FirmwareProgress, width = 30): string {
  const names = ['idle', 'downloading', 'downloaded', 'updating'];
  const total = p.total ?? 0;
  const frac = total > 0 ? Math.min(1, p.received / total) : 0;
  const full = Math.round(frac * width);
  const pct = total > 0 ? `${(frac * 100).toFixed(1).padStart(5)}%` : '    ?%';
  const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct} ${kib(p.received)}${
    total > 0 ? `/${kib(total)}` : ''
  } ${names[p.state] ?? p.state}${p.result !== 0 ? ` result ${p.result}` : ''}`;
}
