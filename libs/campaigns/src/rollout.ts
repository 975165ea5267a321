// The campaign-level rules as pure functions: what the counts by device state mean for the rollout (canary
// gate, abort threshold, completion) and whether a device may start now.
import { type Campaign, type CampaignPhase, type CampaignState, isCampaignOver } from './campaign';
import type { DeviceRunState } from './device-run';

export type Counts = Record<DeviceRunState, number>;

export interface CampaignCounts {
  all: Counts;
  canary: Counts;
}

export interface Verdict {
  state?: CampaignState;
  phase?: CampaignPhase;
  reason?: string;
  /** Pending devices are to be left `cancelled` (abort, cancel, window closed). */
  cancelPending?: boolean;
  /** Nothing is in flight and nothing will start: the campaign is over. */
  ended?: boolean;
}

export const active = (c: Counts): number => c.starting + c.downloading + c.downloaded + c.updating;
export const failures = (c: Counts): number => c.failed + c['timed-out'];
export const finished = (c: Counts): number => c.succeeded + failures(c);

/** Evaluated after every change: the canary gate, the abort threshold, the window's end and the end. */
export function evaluate(c: Campaign, counts: CampaignCounts, now: number): Verdict {
  const v: Verdict = {};
  let state = c.state;
  if (state === 'running' || state === 'paused') {
    if (c.phase === 'canary') {
      if (failures(counts.canary) > 0) {
        state = 'aborted';
        v.reason = `canary failed: ${failures(counts.canary)} of ${c.policy.canarySize} canary devices`;
      } else if (counts.canary.succeeded >= Math.min(c.policy.canarySize, c.endpoints.length)) {
        v.phase = 'rollout';
      }
    }
    const done = finished(counts.all);
    if (
      state !== 'aborted' &&
      c.policy.abortFailureRatio < 1 &&
      done >= c.policy.abortMinFinished &&
      failures(counts.all) / done > c.policy.abortFailureRatio
    ) {
      state = 'aborted';
      v.reason =
        `failure ratio ${(failures(counts.all) / done).toFixed(3)} over the threshold ` +
        `${c.policy.abortFailureRatio} (${failures(counts.all)} of ${done} finished)`;
    }
    if (state === 'running' && c.window.end !== undefined && now > c.window.end && counts.all.pending > 0) {
      v.cancelPending = true;
      v.reason = 'the time window closed';
    }
    if (state === 'aborted') {
      v.state = 'aborted';
      v.cancelPending = true;
    }
  }
  if (isCampaignOver(state) && counts.all.pending > 0) v.cancelPending = true;
  const pendingLeft = v.cancelPending ? 0 : counts.all.pending;
  if (active(counts.all) === 0 && pendingLeft === 0 && c.endedAt === undefined) {
    v.ended = true;
    if (state === 'running' || state === 'paused') v.state = 'completed';
  }
  return v;
}

/** May devices start now (state, window)? */
export function mayStart(c: Campaign, now: number): boolean {
  if (c.state !== 'running') return false;
  if (c.window.start !== undefined && now < c.window.start) return false;
  if (c.window.end !== undefined && now > c.window.end) return false;
  return true;
}

export function emptyCounts(): Counts {
  return {
    pending: 0,
    starting: 0,
    downloading: 0,
    downloaded: 0,
    updating: 0,
    succeeded: 0,
    failed: 0,
    'timed-out': 0,
    cancelled: 0,
  };
}
