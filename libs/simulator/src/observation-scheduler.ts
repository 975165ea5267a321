// LwM2M TS 1.1 Core section 5.1.2 (pmin, pmax, gt, lt, st) and 5.5 (Information Reporting): when the
// simulated client sends a notification for each observed path. The CoAP layer (RFC 7641) keeps the
// observers; this decides the timing and asks the endpoint to notify.
import { CoapCode, type IncomingRequest, type NotifyOptions } from '@lwm2m/coap';
import {
  type CompositeNodes,
  ContentFormat,
  encodeSenmlPatch,
  flatten,
  getCompositeCodec,
  Lwm2mPath,
  type Lwm2mValue,
  valuesEqual,
} from '@lwm2m/lwm2m';
import type { AttributeStore, NotificationAttributes } from './attributes';
import type { ObjectTree } from './object-tree';

/** The parts of CoapEndpoint the scheduler uses. */
export interface NotifyingEndpoint {
  notify(resource: string | string[], opts?: NotifyOptions): Promise<number>;
  listObservers(resource?: string | string[]): unknown[];
}

interface Observed {
  /** CoAP resource key: Uri-Path joined by "/" ("" for composite observations on the root). */
  key: string;
  paths: Lwm2mPath[];
  composite: boolean;
  createdAt: number;
  lastSentAt: number;
  lastValues: Map<string, Lwm2mValue>;
  sending: boolean;
}

export interface ObservationSchedulerOptions {
  tree: ObjectTree;
  attributes: AttributeStore;
  endpoint: NotifyingEndpoint;
  now: () => number;
  tickMs: number;
  /** False while a queue-mode device sleeps: nothing is sent then. */
  canSend: () => boolean;
  onNotification: (key: string, observers: number) => void;
  /**
   * Issue 19, "patch" notifications: after the first response, a notification carries only the resources
   * that changed since the last one. 'etch-json' / 'etch-cbor': a SenML-ETCH Patch Pack (RFC 8790, 320/322),
   * where a removed resource instance is a record with a null value; 'senml': plain partial SenML or LwM2M
   * CBOR in `compositeFormat` (removals cannot be said; a notification with nothing changed is a full one).
   */
  patch?: PatchNotifications;
  /** The composite format of 'senml' patches (the device's preferred one when it is composite). */
  compositeFormat?: number;
}

export type PatchNotifications = 'etch-json' | 'etch-cbor' | 'senml';

export const PATCH_NOTIFICATIONS: readonly PatchNotifications[] = ['etch-json', 'etch-cbor', 'senml'];

/** A registration that the CoAP layer has not (yet) confirmed is kept this long before it is dropped. */
const CONFIRM_GRACE_MS = 2_000;

export class ObservationScheduler {
  private readonly observed = new Map<string, Observed>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly o: ObservationSchedulerOptions) {}

  /** Called by the DM handler for every Observe registration and every re-run of it. */
  track(req: IncomingRequest, paths: Lwm2mPath[], composite: boolean): void {
    const key = req.path.join('/');
    const existing = this.observed.get(key);
    const now = this.o.now();
    if (existing !== undefined && existing.sending) return;
    this.observed.set(key, {
      key,
      paths,
      composite,
      createdAt: now,
      lastSentAt: now,
      lastValues: this.snapshot(paths),
      sending: false,
    });
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.tick(), this.o.tickMs);
      this.timer.unref?.();
    }
  }

  get size(): number {
    return this.observed.size;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.observed.clear();
  }

  /** Current leaf values under the observed paths (missing paths give nothing). */
  private snapshot(paths: Lwm2mPath[]): Map<string, Lwm2mValue> {
    const out = new Map<string, Lwm2mValue>();
    for (const p of paths) {
      try {
        for (const v of flatten(this.o.tree.read(p), p)) out.set(v.path.toString(), v.value);
      } catch {
        // A deleted path: the CoAP layer's notification will carry the error.
      }
    }
    return out;
  }

  /** The patch notification of what changed from `before` to `now`, or undefined for a full one. */
  private patchResponse(
    before: Map<string, Lwm2mValue>,
    now: Map<string, Lwm2mValue>,
  ): NotifyOptions['response'] | undefined {
    const mode = this.o.patch;
    if (mode === undefined) return undefined;
    const set: CompositeNodes = [];
    for (const [k, v] of now) {
      const w = before.get(k);
      if (w !== undefined && valuesEqual(v, w)) continue;
      const path = Lwm2mPath.parse(k);
      // A changed resource instance goes alone; a single resource as itself.
      set.push({ path, node: this.o.tree.read(path) });
    }
    const removed = [...before.keys()].filter((k) => !now.has(k)).map((k) => Lwm2mPath.parse(k));
    if (mode === 'senml') {
      const format = this.o.compositeFormat ?? ContentFormat.SENML_CBOR;
      const codec = getCompositeCodec(format);
      if (set.length === 0 || codec === undefined) return undefined;
      return {
        code: CoapCode.CONTENT,
        contentFormat: format,
        payload: codec.encodeComposite(set, this.o.tree.model),
      };
    }
    const cf = mode === 'etch-json' ? ContentFormat.SENML_ETCH_JSON : ContentFormat.SENML_ETCH_CBOR;
    return { code: CoapCode.CONTENT, contentFormat: cf, payload: encodeSenmlPatch({ set, removed }, cf) };
  }

  /** Effective attributes; pmin/pmax default to the Server object's 2 and 3 (Core 5.1.2). */
  private attributesOf(obs: Observed): NotificationAttributes {
    const base: NotificationAttributes = {};
    const dmin = this.o.tree.getValue('/1/0/2');
    const dmax = this.o.tree.getValue('/1/0/3');
    if (typeof dmin === 'number') base.pmin = dmin;
    if (typeof dmax === 'number' && dmax > 0) base.pmax = dmax;
    if (obs.composite) return base;
    return { ...base, ...this.o.attributes.effective(obs.paths[0]) };
  }

  private changed(obs: Observed, values: Map<string, Lwm2mValue>, a: NotificationAttributes): boolean {
    const single = obs.paths.length === 1 && obs.paths[0].depth >= 3 && values.size === 1;
    if (single && (a.gt !== undefined || a.lt !== undefined || a.st !== undefined)) {
      const now = [...values.values()][0];
      const before = [...obs.lastValues.values()][0];
      if (typeof now === 'number' && typeof before === 'number') {
        const crossed = (t: number): boolean => (before <= t && now > t) || (before > t && now <= t);
        return (
          (a.gt !== undefined && crossed(a.gt)) ||
          (a.lt !== undefined && (before >= a.lt ? now < a.lt : now >= a.lt)) ||
          (a.st !== undefined && Math.abs(now - before) >= a.st)
        );
      }
    }
    if (values.size !== obs.lastValues.size) return true;
    for (const [k, v] of values) {
      const w = obs.lastValues.get(k);
      if (w === undefined || !valuesEqual(v, w)) return true;
    }
    return false;
  }

  /** One pass over the observations: pmax forces a notification, a change after pmin sends one. */
  async tick(): Promise<void> {
    if (!this.o.canSend()) return;
    const now = this.o.now();
    for (const obs of [...this.observed.values()]) {
      if (obs.sending) continue;
      if (this.o.endpoint.listObservers(obs.key).length === 0) {
        if (now - obs.createdAt > CONFIRM_GRACE_MS) this.observed.delete(obs.key);
        continue;
      }
      const a = this.attributesOf(obs);
      const since = now - obs.lastSentAt;
      if (a.pmin !== undefined && since < a.pmin * 1000) continue;
      const values = this.snapshot(obs.paths);
      const due =
        (a.pmax !== undefined &&
          a.pmax > 0 &&
          (a.pmin === undefined || a.pmax >= a.pmin) &&
          since >= a.pmax * 1000) ||
        this.changed(obs, values, a);
      if (!due) continue;
      obs.sending = true;
      obs.lastSentAt = now;
      const before = obs.lastValues;
      obs.lastValues = values;
      try {
        const response = this.patchResponse(before, values);
        // A lost patch is not repaired by the next one (it carries only its own change): patches go CON, so
        // the message layer retransmits them until acknowledged (RFC 7641 section 4.5 lets the server choose).
        const n = await this.o.endpoint.notify(obs.key, response ? { response, confirmable: true } : {});
        this.o.onNotification(obs.key, n);
      } finally {
        obs.sending = false;
      }
    }
    if (this.observed.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
