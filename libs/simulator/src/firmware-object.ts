// LwM2M TS 1.1/1.2 Core Appendix E.6 (object 5, Firmware Update) on the simulated client: a package pushed
// to /5/0/0 with Block1, or pulled from the Package URI (/5/0/1) with Block2 (coap, coaps) or HTTP
// (package-download.ts), the State machine of /5/0/3 (0 Idle, 1 Downloading, 2 Downloaded, 3 Updating) and
// the Update Result codes of /5/0/5, with a configurable speed and failure rate.
import { EventEmitter } from 'node:events';
import {
  CoapCode,
  type CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import {
  FirmwareState,
  FirmwareUpdateResult,
  lwm2mObject,
  multipleResource,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { notAllowed } from './dm-error';
import type { ObjectTree } from './object-tree';
import {
  type DownloadFailure,
  type DownloadOptions,
  PackageReceiver,
  type ReceivedPackage,
} from './package-download';

export type { ReceivedPackage } from './package-download';

export const FIRMWARE_OBJECT_ID = 5;

/** Results that end a download (Downloading -> Idle); the others (8) end an update (Updating -> Downloaded). */
const DOWNLOAD_FAILURES = new Set([2, 3, 4, 5, 6, 7, 9]);

const FAILURE_RESULT: Record<DownloadFailure, number> = {
  'connection-lost': FirmwareUpdateResult.CONNECTION_LOST,
  'invalid-uri': FirmwareUpdateResult.INVALID_URI,
  'unsupported-protocol': FirmwareUpdateResult.UNSUPPORTED_PROTOCOL,
};

export interface FirmwareOptions extends DownloadOptions {
  /** Probability in [0, 1] that a download or an update fails (default 0). */
  failureRate?: number;
  /**
   * The Update Result of a drawn failure (default 8, Firmware update failed: Updating -> Downloaded). A
   * download failure code (2-7, 9) fails the download instead once its last block arrived (-> Idle).
   */
  failureResult?: number;
  /** How long Execute Update takes before the result, ms (default 500). */
  updateMs?: number;
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

export interface FirmwareObjectEvents {
  progress: [FirmwareProgress];
  state: [{ state: number; result: number }];
  downloaded: [ReceivedPackage];
  updated: [{ result: number; firmwareVersion?: string }];
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
  private readonly receiver: PackageReceiver;
  private updateTimer?: ReturnType<typeof setTimeout>;
  private closed = false;
  /** The failure drawn for the current download and its update (undefined: it goes well). */
  private failure?: number;
  /** The last whole package (what an Update installs). */
  lastPackage?: ReceivedPackage;

  constructor(private readonly d: FirmwareObjectDeps) {
    super();
    d.tree.addObject(
      lwm2mObject(FIRMWARE_OBJECT_ID, [
        objectInstance(0, [
          singleResource(1, 'string', ''),
          singleResource(3, 'integer', FirmwareState.IDLE),
          singleResource(5, 'integer', FirmwareUpdateResult.INITIAL),
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
    this.receiver = new PackageReceiver({
      coap: d.coap,
      server: d.server,
      now: d.now,
      options: d.options,
      hooks: {
        begin: () => {
          const rate = d.options.failureRate ?? 0;
          this.failure = rate > 0 && d.random() < rate ? (d.options.failureResult ?? 8) : undefined;
          this.lastPackage = undefined;
          this.setState(FirmwareState.DOWNLOADING, FirmwareUpdateResult.INITIAL);
        },
        progress: (p) => this.emit('progress', { state: this.state, result: this.result, ...p }),
        complete: (pkg) => {
          if (this.failure !== undefined && DOWNLOAD_FAILURES.has(this.failure))
            return this.reset(this.failure);
          this.lastPackage = pkg;
          this.setState(FirmwareState.DOWNLOADED, FirmwareUpdateResult.INITIAL);
          this.emit('downloaded', pkg);
        },
        failed: (why) => this.reset(FAILURE_RESULT[why]),
        // E.6: writing an empty Package (or Package URI) resets the state machine to Idle.
        emptied: () => this.discard(FirmwareUpdateResult.INITIAL),
      },
    });
  }

  get state(): number {
    return Number(this.d.tree.getValue('/5/0/3'));
  }

  get result(): number {
    return Number(this.d.tree.getValue('/5/0/5'));
  }

  /** Blocks a resumed push sent again (already received). */
  get repeatedBlocks(): number {
    return this.receiver.repeatedBlocks;
  }

  /** For CoapEndpointOptions.streamedBlocks: the Package resource takes its blocks one at a time. */
  streams(path: readonly string[]): boolean {
    return path.join('/') === PACKAGE_PATH;
  }

  close(): void {
    this.closed = true;
    this.receiver.close();
    if (this.updateTimer) clearTimeout(this.updateTimer);
  }

  /** A Write of /5/0/0 (push), whole or one Block1 block. */
  receivePackage(req: IncomingRequest): Promise<OutgoingResponse> | OutgoingResponse {
    if (this.state === FirmwareState.UPDATING)
      return { code: CoapCode.METHOD_NOT_ALLOWED, payload: 'no new package while updating' };
    return this.receiver.receive(req);
  }

  /** The server wrote the Package URI (/5/0/1): an empty one resets, any other starts a pull. */
  packageUriWritten(): void {
    const uri = String(this.d.tree.getValue('/5/0/1') ?? '');
    if (uri === '') {
      this.receiver.cancel();
      this.discard(FirmwareUpdateResult.INITIAL);
      return;
    }
    if (this.state === FirmwareState.UPDATING) return;
    this.receiver.pull(uri);
  }

  /** Execute /5/0/2 (E.6): only in Downloaded; Updating, then Idle with 1 or back to Downloaded with 8. */
  private executeUpdate(): void {
    if (this.state !== FirmwareState.DOWNLOADED || this.lastPackage === undefined)
      throw notAllowed(`Update in state ${this.state}`);
    this.setState(FirmwareState.UPDATING, FirmwareUpdateResult.INITIAL);
    const failure = this.failure;
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
      this.setState(FirmwareState.IDLE, FirmwareUpdateResult.SUCCESS);
      this.emit('updated', { result: FirmwareUpdateResult.SUCCESS, firmwareVersion: version });
    }, this.d.options.updateMs ?? 500);
    this.updateTimer.unref?.();
  }

  /** Execute /5/0/10 Cancel (1.1): a download in progress stops, result 10. */
  private cancel(): void {
    if (this.state === FirmwareState.UPDATING) throw notAllowed('cancel while updating');
    this.receiver.cancel();
    this.discard(FirmwareUpdateResult.CANCELLED);
  }

  /**
   * A reset by the server (empty Package or URI, Cancel): a package downloaded but not installed is dropped
   * with it (E.6: back to Idle, nothing to update with); an installed one stays what the device runs.
   */
  private discard(result: number): void {
    if (this.state === FirmwareState.DOWNLOADING || this.state === FirmwareState.DOWNLOADED) {
      this.lastPackage = undefined;
    }
    this.reset(result);
  }

  private reset(result: number): void {
    this.failure = undefined;
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
