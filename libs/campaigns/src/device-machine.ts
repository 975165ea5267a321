// The per-device state machine as pure functions: given a run and what happened, the next run and the one
// action to take after it is stored. No I/O; the engine persists the result, then acts.
import type { RolloutPolicy } from './campaign';
import { type DeviceRun, isActive } from './device-run';
import { FirmwareState, FirmwareUpdateResult } from '@lwm2m/lwm2m';
import type { FirmwareReport } from './firmware-object';

export type RunAction = 'execute' | 'release' | 'interrupt';

export interface Decision {
  run: DeviceRun;
  /**
   * After storing: 'execute' = Execute /5/0/2; 'release' = the attempt ended (cancel the observation);
   * 'interrupt' = as release, after resetting the device (it was written to: abort a push, write an empty
   * Package URI or Package).
   */
  action?: RunAction;
}

/** Exponential backoff with equal jitter (half fixed, half random), as libs/scheduler's. */
export function retryDelayMs(attempts: number, policy: RolloutPolicy, random: () => number): number {
  const exp = Math.min(600_000, policy.retryBackoffMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** The attempt failed: another one later while attempts remain and the cause may pass, else final. */
export function failAttempt(
  run: DeviceRun,
  how: { error: string; resultCode?: number; retryable: boolean; timedOut?: boolean },
  policy: RolloutPolicy,
  now: number,
  random: () => number,
): Decision {
  const base = clearAttempt(run, now);
  const common = {
    ...base,
    error: how.error,
    ...(how.resultCode !== undefined ? { resultCode: how.resultCode } : {}),
  };
  if (how.retryable && run.attempts < policy.maxAttempts) {
    return {
      run: { ...common, state: 'pending', notBefore: now + retryDelayMs(run.attempts, policy, random) },
      action: 'release',
    };
  }
  return { run: { ...common, state: how.timedOut ? 'timed-out' : 'failed' }, action: 'release' };
}

function clearAttempt(run: DeviceRun, now: number): DeviceRun {
  const {
    startedAt: _s,
    deadline: _d,
    writtenAt: _w,
    executedAt: _e,
    pendingRequest: _p,
    notBefore: _n,
    ...rest
  } = run;
  return { ...rest, updatedAt: now };
}

/**
 * What a report of /5/0/3 and /5/0/5 does to an active run (TS 1.2 Core E.6). Until the device acknowledged
 * the current attempt's write, reports are left alone: the values of a previous update (Idle, result 1) must
 * not count for this one. Returns undefined when nothing changes.
 */
export function onReport(
  run: DeviceRun,
  report: FirmwareReport,
  policy: RolloutPolicy,
  now: number,
  random: () => number,
): Decision | undefined {
  if (!isActive(run.state) || run.writtenAt === undefined) return undefined;
  const { state, result } = report;
  const seen: Partial<DeviceRun> = state !== undefined ? { fwState: state } : {};
  // A failure code ends the attempt whatever the state says (the device went back to Idle).
  if (result !== undefined && result >= 2 && result !== 11) {
    return failAttempt(
      { ...run, ...seen },
      {
        error: `the device reported Update Result ${result}`,
        resultCode: result,
        retryable: policy.retryResults.includes(result),
      },
      policy,
      now,
      random,
    );
  }
  if (result === FirmwareUpdateResult.SUCCESS && (run.state === 'updating' || run.executedAt !== undefined)) {
    const { resultCode: _r, error: _e, ...rest } = clearAttempt({ ...run, ...seen }, now);
    return {
      run: { ...rest, state: 'succeeded', resultCode: FirmwareUpdateResult.SUCCESS },
      action: 'release',
    };
  }
  if (state === FirmwareState.UPDATING && run.state !== 'updating') {
    return { run: { ...run, ...seen, state: 'updating', updatedAt: now } };
  }
  if (state === FirmwareState.DOWNLOADED && (run.state === 'starting' || run.state === 'downloading')) {
    return {
      run: { ...run, ...seen, state: 'downloaded', executedAt: now, updatedAt: now },
      action: 'execute',
    };
  }
  if (state === FirmwareState.DOWNLOADING && run.state === 'starting') {
    return { run: { ...run, ...seen, state: 'downloading', updatedAt: now } };
  }
  return undefined;
}

/** The current attempt passed its deadline. */
export function onDeadline(
  run: DeviceRun,
  policy: RolloutPolicy,
  now: number,
  random: () => number,
): Decision {
  return failAttempt(
    run,
    {
      error: `no progress within ${policy.deviceTimeoutS} s (was ${run.state})`,
      retryable: true,
      timedOut: true,
    },
    policy,
    now,
    random,
  );
}

/**
 * A command of the attempt (Observe, Write, Execute) failed: statuses as in DeviceCommandResult. A device
 * answer (CoAP code, e.g. 4.04 without object 5) will not change by retrying; no answer (504), a bus or
 * gateway problem (5xx) or an unregistered device (404) may.
 */
export function onCommandFailure(
  run: DeviceRun,
  what: string,
  res: { status: number; coapCode?: string; error?: string },
  policy: RolloutPolicy,
  now: number,
  random: () => number,
): Decision {
  const retryable = res.coapCode === undefined && res.status !== 400;
  const detail = res.coapCode ? `the device answered ${res.coapCode}` : (res.error ?? `status ${res.status}`);
  return failAttempt(run, { error: `${what}: ${detail}`, retryable }, policy, now, random);
}

/**
 * The campaign was cancelled or aborted: an attempt that was not told to install is stopped (TS 1.2 Core
 * E.6: an empty Package URI or Package resets the state machine to Idle and cancels the download). Never an
 * `updating` run, nor one whose Execute was decided (executedAt): it finishes and ends as it reports.
 */
export function onInterrupt(run: DeviceRun, reason: string, now: number): Decision | undefined {
  if (!isActive(run.state) || run.state === 'updating' || run.executedAt !== undefined) return undefined;
  const written = run.writtenAt !== undefined;
  const { resultCode: _r, ...rest } = clearAttempt(run, now);
  return {
    run: {
      // The reset is owed from this very write on (the same compare-and-set): due at once.
      ...(written ? oweReset(rest, now) : rest),
      state: 'cancelled',
      interrupted: run.state,
      error: written
        ? `interrupted while ${run.state} (${reason}): the device is reset`
        : `interrupted while ${run.state} (${reason}), before anything was written to the device`,
    },
    action: written ? 'interrupt' : 'release',
  };
}

/** Reset attempts of an interrupted device before it is given up. */
export const RESET_ATTEMPTS = 6;

/** The run owes its device a reset, due now (a new debt: attempts from zero). */
export function oweReset(run: DeviceRun, now: number): DeviceRun {
  const { resetFailed: _f, ...rest } = run;
  return { ...rest, resetPending: true, resetAttempts: 0, resetNextAt: now, updatedAt: now };
}

/**
 * Claims the next attempt of an owed reset that is due: the attempt is counted and the one after is due
 * after `backoffMs`, doubled per attempt (10 min at most): another process (a tick elsewhere, a restarted
 * scheduler) sends it only after that. Undefined when nothing is owed or it is not due.
 */
export function claimReset(run: DeviceRun, now: number, backoffMs: number): Decision | undefined {
  if (!run.resetPending || (run.resetNextAt ?? 0) > now) return undefined;
  const attempts = (run.resetAttempts ?? 0) + 1;
  const wait = Math.min(600_000, backoffMs * 2 ** (attempts - 1));
  return { run: { ...run, resetAttempts: attempts, resetNextAt: now + wait, updatedAt: now } };
}

/**
 * What the claimed attempt (`claim`: the run as claimed) got: acknowledged (or queued) clears the debt;
 * a failure of the last attempt gives it up, with why in the error; another failure leaves it due at the
 * claim's resetNextAt. Undefined when the run changed since (a newer claim, or a new debt).
 */
export function resetOutcome(
  run: DeviceRun,
  claim: DeviceRun,
  outcome: { ok: true } | { ok: false; error: string },
  maxAttempts: number,
  now: number,
): Decision | undefined {
  if (!run.resetPending || run.resetNextAt !== claim.resetNextAt || run.resetAttempts !== claim.resetAttempts)
    return undefined;
  const { resetPending: _p, resetNextAt: _n, ...rest } = run;
  if (outcome.ok) return { run: { ...rest, updatedAt: now } };
  if ((run.resetAttempts ?? 0) < maxAttempts) return undefined;
  return {
    run: {
      ...rest,
      resetFailed: true,
      error: `${run.error ?? 'interrupted'}; the reset was given up after ${run.resetAttempts} attempts: ${outcome.error}`,
      updatedAt: now,
    },
  };
}
