// A firmware update campaign (issue 17 item 3): which devices, which image, how it is delivered (LwM2M TS 1.2
// Core E.6, object 5: Push writes the package to /5/0/0, Pull writes its URI to /5/0/1) and how fast it rolls
// out. Framework-free: the api validates and stores it, the scheduler drives it.

export type DeliveryMode = 'push' | 'pull';

/**
 * Who is updated, resolved to a list of endpoints when the campaign is created (a device registered later
 * is not added). `group` is the extension point for a groups store (another branch builds groups): it is
 * refused until one exists.
 */
export interface CampaignTarget {
  endpoints?: string[];
  /** Registered devices whose endpoint contains this text (the device list's `q`). */
  filter?: { q?: string; limit?: number };
  group?: string;
}

export interface RolloutPolicy {
  /** Devices between their start and a final state, at most (the "concurrent downloads" cap). */
  maxConcurrent: number;
  /** Devices started per minute, at most (a sliding minute); 0 = no limit. */
  perMinute: number;
  /** The first `canarySize` devices of the target go alone; all must succeed before the rest start. */
  canarySize: number;
  /** Abort when failed/(finished) exceeds this (0..1) once `abortMinFinished` devices finished; 1 = never. */
  abortFailureRatio: number;
  abortMinFinished: number;
  /** One attempt of one device, from its start to Updated (or failed), at most, seconds. */
  deviceTimeoutS: number;
  /** Attempts per device for retryable failures (no answer, timeout, result codes in retryResults). */
  maxAttempts: number;
  /** Backoff of the first retry, ms; doubles per attempt (equal jitter). */
  retryBackoffMs: number;
  /** Update Result codes (/5/0/5) worth another attempt: 4 connection lost, 5 integrity check failure. */
  retryResults: number[];
}

export interface TimeWindow {
  /** ms since epoch; nothing starts before. */
  start?: number;
  /** ms since epoch; nothing starts after; devices still pending then end `cancelled`. */
  end?: number;
}

export type CampaignState = 'running' | 'paused' | 'completed' | 'aborted' | 'cancelled';
export type CampaignPhase = 'canary' | 'rollout';

export interface CampaignDefinition {
  id: string;
  name?: string;
  imageId: string;
  /** What the device fetches in pull mode (coap(s)://<gateway>/fw/<id>, or an operator-given URI). */
  packageUri?: string;
  mode: DeliveryMode;
  /**
   * The object updated: 5 Firmware Update (default) or 9 Software Management on instance `softwareInstance`
   * (default 0): /9/x/3 Package URI or /9/x/2 Package, /9/x/7 Update State and /9/x/9 Update Result observed,
   * Install /9/x/4 on DELIVERED, success on INSTALLED; `activate`: then Activate /9/x/10 (update-object.ts).
   */
  object?: 5 | 9;
  softwareInstance?: number;
  activate?: boolean;
  policy: RolloutPolicy;
  window: TimeWindow;
  /** The resolved target, in start order (the canary batch first). */
  endpoints: string[];
  createdAt: number;
  /** Who created it (the API key's name), for the audit trail. */
  createdBy?: string;
}

export interface Campaign extends CampaignDefinition {
  state: CampaignState;
  phase: CampaignPhase;
  /** Why it was aborted or cancelled. */
  reason?: string;
  updatedAt: number;
  /** Set once the campaign is over and no device is in flight any more. */
  endedAt?: number;
}

export const DEFAULT_POLICY: RolloutPolicy = {
  maxConcurrent: 50,
  perMinute: 0,
  canarySize: 0,
  abortFailureRatio: 1,
  abortMinFinished: 10,
  deviceTimeoutS: 1800,
  maxAttempts: 3,
  retryBackoffMs: 5000,
  retryResults: [4, 5],
};

export function isCampaignOver(state: CampaignState): boolean {
  return state === 'completed' || state === 'aborted' || state === 'cancelled';
}
