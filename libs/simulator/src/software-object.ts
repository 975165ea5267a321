// LwM2M object 9 (Software Management 1.0, OMNA registry 9.xml) on the simulated client, where simple: a
// package pushed to /9/0/2 (Block1) or pulled from /9/0/3 (Block2 or HTTP) through the same PackageReceiver
// as object 5; Update State /9/0/7 0 INITIAL -> 1 DOWNLOAD STARTED -> 2 DOWNLOADED -> 3 DELIVERED -> (Install
// /9/0/4) 4 INSTALLED, Update Result /9/0/9 (1 downloading, 3 downloaded and verified, 2 installed, 5x
// failures), Activate /9/0/10 and Deactivate /9/0/11 setting Activation State /9/0/12, Uninstall /9/0/6
// back to INITIAL. The failure rate of the firmware options applies to Install (result 58).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import {
  CoapCode,
  type CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import {
  type ObjectModel,
  parseDdf,
  SoftwareUpdateResult,
  SoftwareUpdateState,
  vendoredModelsDir,
} from '@lwm2m/lwm2m';
import { notAllowed } from './dm-error';
import type { FirmwareOptions } from './firmware-object';
import { addModelObject } from './model-objects';
import type { ObjectTree } from './object-tree';
import { type DownloadFailure, PackageReceiver, type ReceivedPackage } from './package-download';

export const SOFTWARE_OBJECT_ID = 9;

const FAILURE_RESULT: Record<DownloadFailure, number> = {
  'connection-lost': SoftwareUpdateResult.CONNECTION_LOST,
  'invalid-uri': SoftwareUpdateResult.INVALID_URI,
  // 9.xml has no code for an unsupported protocol.
  'unsupported-protocol': SoftwareUpdateResult.DEVICE_DEFINED_ERROR,
};

let model: ObjectModel | undefined;

/** Object 9's model, from the vendored OMNA registry (read once). */
export function softwareManagementModel(): ObjectModel {
  model ??= parseDdf(readFileSync(join(vendoredModelsDir(), '9.xml')), '9.xml')[0]!;
  return model;
}

export interface SoftwareObjectEvents {
  state: [{ state: number; result: number; active: boolean }];
  downloaded: [ReceivedPackage];
}

export interface SoftwareObjectDeps {
  tree: ObjectTree;
  coap: CoapEndpoint;
  server: Peer;
  now: () => number;
  random: () => number;
  options: FirmwareOptions;
}

const PACKAGE_PATH = '9/0/2';

export class SoftwareManagementObject extends EventEmitter<SoftwareObjectEvents> {
  private readonly receiver: PackageReceiver;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;
  lastPackage?: ReceivedPackage;

  constructor(private readonly d: SoftwareObjectDeps) {
    super();
    addModelObject(d.tree, softwareManagementModel(), [0], d.now());
    d.tree.setValue('/9/0/7', SoftwareUpdateState.INITIAL);
    d.tree.setValue('/9/0/9', SoftwareUpdateResult.INITIAL);
    d.tree.setValue('/9/0/12', false);
    d.tree.onExecute('/9/0/4', () => this.install());
    d.tree.onExecute('/9/0/6', () => this.uninstall());
    d.tree.onExecute('/9/0/10', () => this.activate(true));
    d.tree.onExecute('/9/0/11', () => this.activate(false));
    this.receiver = new PackageReceiver({
      coap: d.coap,
      server: d.server,
      now: d.now,
      options: d.options,
      hooks: {
        begin: () => {
          this.lastPackage = undefined;
          this.set(SoftwareUpdateState.DOWNLOAD_STARTED, SoftwareUpdateResult.DOWNLOADING);
        },
        progress: () => undefined,
        complete: (pkg) => {
          this.lastPackage = pkg;
          this.set(SoftwareUpdateState.DOWNLOADED, SoftwareUpdateResult.DOWNLOADING);
          // The package verified (its hash computed): ready to install.
          this.set(SoftwareUpdateState.DELIVERED, SoftwareUpdateResult.DOWNLOADED_VERIFIED);
          this.emit('downloaded', pkg);
        },
        failed: (why) => this.set(SoftwareUpdateState.INITIAL, FAILURE_RESULT[why]),
        emptied: () => this.set(SoftwareUpdateState.INITIAL, SoftwareUpdateResult.INITIAL),
      },
    });
  }

  get state(): number {
    return Number(this.d.tree.getValue('/9/0/7'));
  }

  get result(): number {
    return Number(this.d.tree.getValue('/9/0/9'));
  }

  get active(): boolean {
    return this.d.tree.getValue('/9/0/12') === true;
  }

  streams(path: readonly string[]): boolean {
    return path.join('/') === PACKAGE_PATH;
  }

  close(): void {
    this.closed = true;
    this.receiver.close();
    if (this.timer) clearTimeout(this.timer);
  }

  receivePackage(req: IncomingRequest): Promise<OutgoingResponse> | OutgoingResponse {
    if (this.state === SoftwareUpdateState.INSTALLED)
      return { code: CoapCode.METHOD_NOT_ALLOWED, payload: 'installed: Uninstall first' };
    return this.receiver.receive(req);
  }

  /** The server wrote /9/0/3: a pull starts (an empty URI resets). */
  packageUriWritten(): void {
    const uri = String(this.d.tree.getValue('/9/0/3') ?? '');
    if (this.state === SoftwareUpdateState.INSTALLED) return;
    if (uri === '') {
      this.receiver.cancel();
      this.set(SoftwareUpdateState.INITIAL, SoftwareUpdateResult.INITIAL);
      return;
    }
    this.receiver.pull(uri);
  }

  /** Install (resource 4): only in DELIVERED; INSTALLED with result 2, or DELIVERED with 58. */
  private install(): void {
    if (this.state !== SoftwareUpdateState.DELIVERED) throw notAllowed(`Install in state ${this.state}`);
    const rate = this.d.options.failureRate ?? 0;
    const fails = rate > 0 && this.d.random() < rate;
    this.timer = setTimeout(() => {
      if (this.closed) return;
      if (fails) return this.set(SoftwareUpdateState.DELIVERED, SoftwareUpdateResult.INSTALLATION_FAILURE);
      this.d.tree.setValue('/9/0/0', `sw-${this.lastPackage?.sha256.slice(0, 12) ?? ''}`);
      this.d.tree.setValue('/9/0/1', this.lastPackage?.sha256.slice(0, 12) ?? '');
      this.set(SoftwareUpdateState.INSTALLED, SoftwareUpdateResult.INSTALLED);
    }, this.d.options.updateMs ?? 500);
    this.timer.unref?.();
  }

  /** Uninstall (resource 6): back to INITIAL, result 0, deactivated. */
  private uninstall(): void {
    this.receiver.cancel();
    this.d.tree.setValue('/9/0/12', false);
    this.lastPackage = undefined;
    this.set(SoftwareUpdateState.INITIAL, SoftwareUpdateResult.INITIAL);
  }

  /** Activate / Deactivate (resources 10, 11): only once INSTALLED. */
  private activate(on: boolean): void {
    if (this.state !== SoftwareUpdateState.INSTALLED)
      throw notAllowed(`${on ? 'Activate' : 'Deactivate'} before Install`);
    this.d.tree.setValue('/9/0/12', on);
    this.emit('state', { state: this.state, result: this.result, active: on });
  }

  private set(state: number, result: number): void {
    this.d.tree.setValue('/9/0/7', state);
    this.d.tree.setValue('/9/0/9', result);
    this.emit('state', { state, result, active: this.active });
  }
}
