import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  type DeviceRun,
  isActive,
  newRun,
  onCommandFailure,
  onDeadline,
  claimReset,
  onInterrupt,
  onReport,
  resetOutcome,
  type RolloutPolicy,
} from '../src';

const policy: RolloutPolicy = { ...DEFAULT_POLICY, maxAttempts: 2, retryBackoffMs: 1000 };
const half = () => 0.5;
const started = (over: Partial<DeviceRun> = {}): DeviceRun => ({
  ...newRun('dev', false, 0),
  state: 'starting',
  attempts: 1,
  startedAt: 0,
  deadline: 60_000,
  writtenAt: 10,
  ...over,
});

describe('a device run follows /5/0/3 and /5/0/5 (TS 1.2 Core E.6)', () => {
  it('walks Downloading, Downloaded (then Execute), Updating, and succeeds on result 1', () => {
    let run = started();
    run = onReport(run, { state: 1, result: 0 }, policy, 100, half)!.run;
    expect(run.state).toBe('downloading');
    const downloaded = onReport(run, { state: 2 }, policy, 200, half)!;
    expect(downloaded.run.state).toBe('downloaded');
    expect(downloaded.action).toBe('execute');
    run = onReport(downloaded.run, { state: 3 }, policy, 300, half)!.run;
    expect(run.state).toBe('updating');
    const done = onReport(run, { state: 0, result: 1 }, policy, 400, half)!;
    expect(done.run).toMatchObject({ state: 'succeeded', resultCode: 1 });
    expect(done.action).toBe('release');
  });

  it('ignores what the device says before the write of this attempt (a previous update left Idle + 1)', () => {
    expect(
      onReport(started({ writtenAt: undefined }), { state: 0, result: 1 }, policy, 5, half),
    ).toBeUndefined();
    expect(onReport(started(), { state: 0, result: 1 }, policy, 5, half)).toBeUndefined();
  });

  it('fails with the result code, retries a retryable one with backoff while attempts remain', () => {
    const failed = onReport(
      started({ state: 'updating', attempts: 1 }),
      { state: 2, result: 8 },
      policy,
      1000,
      half,
    )!;
    expect(failed.run).toMatchObject({ state: 'failed', resultCode: 8 });
    const retry = onReport(
      started({ state: 'downloading', attempts: 1 }),
      { state: 0, result: 4 },
      policy,
      1000,
      half,
    )!;
    expect(retry.run).toMatchObject({ state: 'pending', resultCode: 4 });
    expect(retry.run.notBefore).toBe(1000 + 750);
    expect(retry.run.writtenAt).toBeUndefined();
    const last = onReport(started({ state: 'downloading', attempts: 2 }), { result: 4 }, policy, 1000, half)!;
    expect(last.run.state).toBe('failed');
  });

  it('times out, and a command the device refused is final while no answer is retried', () => {
    expect(onDeadline(started({ attempts: 2 }), policy, 70_000, half).run.state).toBe('timed-out');
    expect(onDeadline(started({ attempts: 1 }), policy, 70_000, half).run.state).toBe('pending');
    const refused = onCommandFailure(
      started(),
      'write /5/0/1',
      { status: 404, coapCode: '4.04' },
      policy,
      1,
      half,
    );
    expect(refused.run.state).toBe('failed');
    expect(refused.run.error).toContain('4.04');
    expect(onCommandFailure(started(), 'observe', { status: 504 }, policy, 1, half).run.state).toBe(
      'pending',
    );
  });

  it('never leaves a final state and never goes back to downloading once downloaded (any reports)', () => {
    const report = fc.record({
      state: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      result: fc.option(fc.integer({ min: 0, max: 11 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(report, { maxLength: 30 }), (reports) => {
        let run = started();
        const seen: string[] = [run.state];
        for (const r of reports) {
          const d = onReport(run, r, policy, 1, half);
          if (d) run = d.run;
          seen.push(run.state);
          if (!isActive(run.state) && run.state !== 'pending') {
            expect(onReport(run, { state: 1, result: 1 }, policy, 1, half)).toBeUndefined();
          }
        }
        const firstDownloaded = seen.indexOf('downloaded');
        const firstPending = seen.indexOf('pending');
        if (firstDownloaded >= 0 && (firstPending < 0 || firstPending > firstDownloaded)) {
          const upto = firstPending < 0 ? seen.length : firstPending;
          expect(seen.slice(firstDownloaded, upto)).not.toContain('downloading');
        }
      }),
    );
  });
});

describe('a cancel or an abort interrupts a run not told to install (TS 1.2 Core E.6 reset)', () => {
  it('starting or downloading: cancelled, reset when written, with the state it was in', () => {
    const d = onInterrupt(started({ state: 'downloading', observationId: 'o' }), 'campaign cancelled', 500)!;
    expect(d.action).toBe('interrupt');
    expect(d.run).toMatchObject({ state: 'cancelled', interrupted: 'downloading', updatedAt: 500 });
    expect(d.run.error).toMatch(/interrupted while downloading \(campaign cancelled\)/);
    expect(d.run.writtenAt).toBeUndefined();
    expect(d.run.deadline).toBeUndefined();
    const never = onInterrupt(started({ writtenAt: undefined }), 'campaign aborted', 500)!;
    expect(never.action).toBe('release');
    expect(never.run).toMatchObject({ state: 'cancelled', interrupted: 'starting' });
    expect(never.run.error).toMatch(/before anything was written/);
    // The reset is owed with the interruption itself (one compare-and-set), due at once; none when unwritten.
    expect(d.run).toMatchObject({ resetPending: true, resetAttempts: 0, resetNextAt: 500 });
    expect(never.run.resetPending).toBeUndefined();
  });

  it('an owed reset is claimed when due (backoff doubling), cleared when acknowledged, given up at the last', () => {
    const owed = onInterrupt(started({ state: 'downloading' }), 'campaign cancelled', 500)!.run;
    expect(claimReset(owed, 499, 1000)).toBeUndefined();
    const first = claimReset(owed, 500, 1000)!.run;
    expect(first).toMatchObject({ resetPending: true, resetAttempts: 1, resetNextAt: 1500 });
    // Claimed: not due again before its time (another process does not send it too).
    expect(claimReset(first, 1499, 1000)).toBeUndefined();
    const second = claimReset(first, 1500, 1000)!.run;
    expect(second).toMatchObject({ resetAttempts: 2, resetNextAt: 3500 });
    // A failure before the last attempt stores nothing (due at the claim's time); an outcome of an older
    // claim is ignored.
    expect(resetOutcome(second, second, { ok: false, error: 'e' }, 3, 1600)).toBeUndefined();
    expect(resetOutcome(second, first, { ok: true }, 3, 1600)).toBeUndefined();
    const acked = resetOutcome(second, second, { ok: true }, 3, 1600)!.run;
    expect(acked.resetPending).toBeUndefined();
    expect(acked.resetNextAt).toBeUndefined();
    expect(acked).toMatchObject({ state: 'cancelled', resetAttempts: 2 });
    expect(claimReset(acked, 10_000_000, 1000)).toBeUndefined();
    const third = claimReset(second, 3500, 1000)!.run;
    const gaveUp = resetOutcome(third, third, { ok: false, error: '/5/0/1: 4.04' }, 3, 3600)!.run;
    expect(gaveUp).toMatchObject({ resetFailed: true, resetAttempts: 3 });
    expect(gaveUp.resetPending).toBeUndefined();
    expect(gaveUp.error).toMatch(
      /interrupted while downloading .*; the reset was given up after 3 attempts: \/5\/0\/1: 4\.04/,
    );
    // The wait is capped at 10 minutes.
    expect(claimReset({ ...owed, resetAttempts: 20 }, 500, 1000)!.run.resetNextAt).toBe(500 + 600_000);
  });

  it('downloaded without an Execute decided is interrupted; with one, or updating, or final, never', () => {
    expect(onInterrupt(started({ state: 'downloaded' }), 'x', 1)!.run.interrupted).toBe('downloaded');
    expect(onInterrupt(started({ state: 'downloaded', executedAt: 5 }), 'x', 1)).toBeUndefined();
    expect(onInterrupt(started({ state: 'updating', executedAt: 5 }), 'x', 1)).toBeUndefined();
    for (const state of ['pending', 'succeeded', 'failed', 'timed-out', 'cancelled'] as const)
      expect(onInterrupt({ ...newRun('dev', false, 0), state }, 'x', 1)).toBeUndefined();
  });
});
