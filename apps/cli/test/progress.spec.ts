import { describe, expect, it } from 'vitest';
import { formatStatus, progressBar } from '../src/progress';

const counts = (c: Record<string, number>) => ({
  pending: 0,
  starting: 0,
  downloading: 0,
  downloaded: 0,
  updating: 0,
  succeeded: 0,
  failed: 0,
  'timed-out': 0,
  cancelled: 0,
  ...c,
});

describe('the campaign progress bar', () => {
  it('fills with finished devices by kind, shows the ones in flight, and keeps its width', () => {
    const p = { id: 'cmp-abcdef', state: 'running', phase: 'rollout', total: 100 };
    expect(progressBar({ ...p, counts: counts({ pending: 100 }) }, 10)).toBe('[..........]   0% 0/100');
    expect(
      progressBar({ ...p, counts: counts({ succeeded: 50, failed: 10, downloading: 20, pending: 20 }) }, 10),
    ).toBe('[#####x>>..]  60% 60/100');
    expect(progressBar({ ...p, counts: counts({ succeeded: 95, failed: 5 }) }, 20)).toBe(
      '[###################x] 100% 100/100',
    );
    for (let s = 0; s <= 7; s++) {
      const bar = progressBar({ ...p, total: 7, counts: counts({ succeeded: s, pending: 7 - s }) }, 13);
      expect(bar.indexOf(']') - 1).toBe(13);
    }
  });

  it('prints the state, the counts that are not zero and why it stopped', () => {
    const text = formatStatus({
      id: 'cmp-abcdef',
      name: 'fleet',
      state: 'aborted',
      phase: 'canary',
      reason: 'canary failed: 1 of 5 canary devices',
      total: 10,
      counts: counts({ succeeded: 4, failed: 1, cancelled: 5 }),
      endedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(text).toContain('fleet (cmp-abcdef) aborted, ended, phase canary');
    expect(text).toContain('succeeded 4, failed 1, cancelled 5');
    expect(text).toContain('reason: canary failed');
    expect(text).not.toContain('pending');
  });

  it('says a cancelled campaign drains while interrupted devices owe their reset, and the resets given up', () => {
    const base = {
      id: 'cmp-abcdef',
      state: 'cancelled',
      phase: 'rollout',
      total: 4,
      counts: counts({ cancelled: 3, succeeded: 1 }),
    };
    const draining = formatStatus({ ...base, draining: true, resets: { owed: 2, failed: 1 } });
    expect(draining).toContain('(cmp-abcdef) cancelled, draining, phase rollout');
    expect(draining).toContain('resets: 2 owed, 1 given up');
    const ended = formatStatus({
      ...base,
      endedAt: '2026-01-01T00:00:00.000Z',
      resets: { owed: 0, failed: 0 },
    });
    expect(ended).toContain('cancelled, ended, phase rollout');
    expect(ended).not.toContain('resets');
  });
});
