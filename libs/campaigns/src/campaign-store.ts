// Where campaigns and their devices' runs live: every transition is stored (compare-and-set on the run's
// revision) before the engine acts on it, so a restarted scheduler finds each device where it was.
import type { Campaign, CampaignDefinition, CampaignPhase, CampaignState } from './campaign';
import type { DeviceRun, DeviceRunState } from './device-run';
import type { CampaignCounts } from './rollout';

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** One line of a campaign's own record of transitions. */
export interface TransitionRecord {
  id: string;
  endpoint: string;
  from: DeviceRunState;
  to: DeviceRunState;
  at: number;
  /** Devices in flight (starting..updating) and downloading right after this transition. */
  active: number;
  downloading: number;
}

export type CasResult = 'ok' | 'conflict' | 'missing' | 'full' | 'rate' | 'stopped';

export interface CampaignStore {
  /** Stores a new campaign with its runs; 'busy' lists endpoints already in an unfinished campaign. */
  create(def: CampaignDefinition, runs: DeviceRun[]): Promise<{ ok: true } | { ok: false; busy: string[] }>;
  get(id: string): Promise<Campaign | undefined>;
  list(limit: number, cursor?: string): Promise<Page<Campaign>>;
  /** Campaigns not over yet. */
  running(): Promise<string[]>;
  /** Changes the campaign's state/phase if its state is one of `from`; false otherwise. */
  update(
    id: string,
    from: readonly CampaignState[],
    patch: { state?: CampaignState; phase?: CampaignPhase; reason?: string; endedAt?: number },
    now: number,
  ): Promise<boolean>;
  counts(id: string): Promise<CampaignCounts>;
  getRun(id: string, endpoint: string): Promise<DeviceRun | undefined>;
  runs(id: string, limit: number, cursor?: string, state?: DeviceRunState): Promise<Page<DeviceRun>>;
  /**
   * Stores `next` if the stored run still has `next.rev - 1`, moving it between the queues, the active set
   * and the counts, and appending the transition to the log. `claim`: only if fewer than `maxActive` devices
   * are in flight and fewer than `perMinute` started in the last minute (0 = no limit). `live`: only while
   * the campaign's state is one of these ('stopped' otherwise), in the same atomic step: a cancel stored
   * before it wins over a start, a write or an Execute decided from an older read of the campaign. A run
   * with `resetPending` is (re)indexed by its resetNextAt (resetsDue), one without it leaves that index, and
   * one that becomes `resetFailed` counts in resets().failed, in the same atomic step.
   */
  casRun(
    id: string,
    next: DeviceRun,
    claim?: { maxActive: number; perMinute: number },
    live?: readonly CampaignState[],
  ): Promise<CasResult>;
  /** Pending devices whose earliest start has come, of the canary batch or the rest. */
  due(id: string, canary: boolean, now: number, limit: number): Promise<string[]>;
  /** Devices in flight past their deadline. */
  overdue(id: string, now: number, limit: number): Promise<string[]>;
  /** Runs owing a reset (DeviceRun.resetPending) due by `now`, soonest first. */
  resetsDue(id: string, now: number, limit: number): Promise<string[]>;
  /** Resets owed now, and given up since the campaign began. */
  resets(id: string): Promise<{ owed: number; failed: number }>;
  /** Active runs (for re-driving a step a stopped scheduler left undone). */
  activeEndpoints(id: string, limit: number): Promise<string[]>;
  /** The unfinished campaign an endpoint belongs to. */
  campaignOf(endpoint: string): Promise<string | undefined>;
  /** The endpoint leaves campaign `id` (its run is final): it may join another. */
  release(id: string, endpoints: string[]): Promise<void>;
  /** The campaign is over: no more ticks. */
  retire(id: string): Promise<void>;
  /** Ticked again (among running()): an ended campaign whose device owes a reset again. */
  reopen(id: string): Promise<void>;
  log(id: string, after: string, count: number): Promise<TransitionRecord[]>;
}
