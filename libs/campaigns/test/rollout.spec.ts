import { describe, expect, it } from 'vitest';
import { type Campaign, type CampaignCounts, DEFAULT_POLICY, emptyCounts, evaluate, mayStart } from '../src';

const campaign = (over: Partial<Campaign> = {}): Campaign => ({
  id: 'cmp-abcdef',
  imageId: 'img',
  mode: 'pull',
  policy: { ...DEFAULT_POLICY, canarySize: 3, abortFailureRatio: 0.2, abortMinFinished: 10 },
  window: {},
  endpoints: [...Array(100).keys()].map((i) => `d${i}`),
  createdAt: 0,
  state: 'running',
  phase: 'canary',
  updatedAt: 0,
  ...over,
});
const counts = (all: Partial<CampaignCounts['all']>, canary: Partial<CampaignCounts['canary']> = {}) => ({
  all: { ...emptyCounts(), ...all },
  canary: { ...emptyCounts(), ...canary },
});

describe('the rollout rules', () => {
  it('opens the rollout once the whole canary batch succeeded, and aborts on any canary failure', () => {
    expect(
      evaluate(campaign(), counts({ succeeded: 2, pending: 98 }, { succeeded: 2, pending: 1 }), 0),
    ).toEqual({});
    expect(evaluate(campaign(), counts({ succeeded: 3, pending: 97 }, { succeeded: 3 }), 0).phase).toBe(
      'rollout',
    );
    const v = evaluate(
      campaign(),
      counts({ succeeded: 2, failed: 1, pending: 97 }, { succeeded: 2, failed: 1 }),
      0,
    );
    expect(v).toMatchObject({ state: 'aborted', cancelPending: true });
    expect(v.reason).toContain('canary');
  });

  it('aborts above the failure ratio only once enough devices finished', () => {
    const c = campaign({ phase: 'rollout' });
    expect(evaluate(c, counts({ failed: 5, succeeded: 4, pending: 91 }), 0).state).toBeUndefined();
    expect(evaluate(c, counts({ failed: 3, succeeded: 12, pending: 85 }), 0).state).toBeUndefined();
    const v = evaluate(c, counts({ failed: 2, 'timed-out': 1, succeeded: 9, pending: 88 }), 0);
    expect(v.state).toBe('aborted');
    expect(v.reason).toContain('failure ratio');
  });

  it('ends when nothing is in flight or pending; a paused or cancelled campaign waits for its devices in flight', () => {
    expect(evaluate(campaign({ phase: 'rollout' }), counts({ succeeded: 100 }), 0)).toMatchObject({
      ended: true,
      state: 'completed',
    });
    const cancelled = campaign({ phase: 'rollout', state: 'cancelled' });
    expect(evaluate(cancelled, counts({ updating: 2, pending: 5, succeeded: 93 }), 0)).toEqual({
      cancelPending: true,
    });
    expect(evaluate(cancelled, counts({ cancelled: 7, succeeded: 93 }), 0)).toEqual({ ended: true });
  });

  it('starts devices only while running and inside the time window; past the window the rest is cancelled', () => {
    const c = campaign({ window: { start: 1000, end: 2000 } });
    expect(mayStart(c, 999)).toBe(false);
    expect(mayStart(c, 1500)).toBe(true);
    expect(mayStart(c, 2001)).toBe(false);
    expect(mayStart({ ...c, state: 'paused' }, 1500)).toBe(false);
    expect(evaluate({ ...c, phase: 'rollout' }, counts({ pending: 10, succeeded: 90 }), 2500)).toMatchObject({
      cancelPending: true,
      reason: 'the time window closed',
    });
  });
});
