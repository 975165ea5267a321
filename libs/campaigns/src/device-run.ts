// One device's progress in a campaign, driven by what it reports on /5/0/3 (State) and /5/0/5 (Update
// Result), LwM2M TS 1.2 Core E.6 (Firmware Update object, state diagram of Figure E.6.1-1).
//
//   pending --start--> starting --/5/0/3=1--> downloading --/5/0/3=2--> downloaded --Execute /5/0/2-->
//   updating --/5/0/5=1--> succeeded
// Any attempt: /5/0/5 >= 2 -> failed (with the code) or back to pending (a retryable code, attempts left);
// no progress within the device timeout -> timed-out (or pending again). A campaign cancelled or past its
// window leaves its pending devices `cancelled`; a cancelled or aborted one also interrupts the devices in
// starting, downloading or downloaded that were not told to Execute yet (`cancelled`, `interrupted` = the
// state it was in; the device is reset with an empty Package URI or Package, E.6). An `updating` device, or
// one whose Execute was decided, is left to finish and ends as it reports. The reset is owed (`resetPending`,
// stored with the interruption) until the device acknowledged it or it was queued for a sleeping device;
// the engine's tick sends it again (backoff) and gives up after a bounded number of attempts.

export type DeviceRunState =
  | 'pending'
  | 'starting'
  | 'downloading'
  | 'downloaded'
  | 'updating'
  | 'succeeded'
  | 'failed'
  | 'timed-out'
  | 'cancelled';

export const DEVICE_RUN_STATES: readonly DeviceRunState[] = [
  'pending',
  'starting',
  'downloading',
  'downloaded',
  'updating',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
];

/** Between its start and a final state: counts against the campaign's maxConcurrent. */
export const ACTIVE_STATES: readonly DeviceRunState[] = ['starting', 'downloading', 'downloaded', 'updating'];
export const FINAL_STATES: readonly DeviceRunState[] = ['succeeded', 'failed', 'timed-out', 'cancelled'];

export function isActive(s: DeviceRunState): boolean {
  return ACTIVE_STATES.includes(s);
}
export function isFinalRun(s: DeviceRunState): boolean {
  return FINAL_STATES.includes(s);
}

export interface DeviceRun {
  endpoint: string;
  state: DeviceRunState;
  /** Optimistic concurrency: every stored change increments it (compare-and-set in the store). */
  rev: number;
  canary: boolean;
  /** Attempts started. */
  attempts: number;
  updatedAt: number;
  /** The current attempt's start, and when it times out. */
  startedAt?: number;
  deadline?: number;
  /** Earliest next start (retry backoff, or a sleeping device looked at again). */
  notBefore?: number;
  /** The device acknowledged the Package URI (pull) or the package (push) of the current attempt. */
  writtenAt?: number;
  /** Execute /5/0/2 was sent (an intent recorded before it is sent). */
  executedAt?: number;
  /** The observation of /5/0/3 and /5/0/5. */
  observationId?: string;
  /** A queued request (sleeping device) whose result decides this step. */
  pendingRequest?: string;
  /** The device slept when it was due: it is started when it wakes. */
  asleep?: boolean;
  /** Last values seen. */
  fwState?: number;
  /** Cancelled in flight by the campaign's cancel or abort: the state it was in (the device was reset). */
  interrupted?: DeviceRunState;
  /**
   * The interruption's reset is owed: stored in the same compare-and-set as the interruption, so a process
   * that stops before sending it leaves it to the next tick; cleared once acknowledged (or queued).
   */
  resetPending?: boolean;
  /** Reset attempts made; the next is due at resetNextAt (claimed before it is sent: one process sends it). */
  resetAttempts?: number;
  resetNextAt?: number;
  /** The reset was given up after its attempts (the error says what the last one got). */
  resetFailed?: boolean;
  /** /5/0/5 of a failure (TS 1.2 Core E.6: 2 flash, 3 RAM, 4 connection lost, 5 integrity, 6 type, 7 URI, 8 update failed, 9 protocol). */
  resultCode?: number;
  error?: string;
}

export function newRun(endpoint: string, canary: boolean, now: number): DeviceRun {
  return { endpoint, state: 'pending', rev: 0, canary, attempts: 0, updatedAt: now };
}
