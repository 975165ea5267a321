// The fleet's devices by presence state (online / asleep / offline, as DeviceSummaryDto.state) for
// GET /api/v1/devices. The registration store counts registrations (a ZCARD) but not states: asleep hangs
// on each device's presence record (last seen, marked asleep; TS 1.2 Core 6.5 queue mode), merged when a
// registration is read, so the counts need one pass over every registration. It runs at most once per
// MIN_AGE_MS in an api process (longer when a pass is slow: 10 times its duration), concurrent callers share
// one pass, and callers in between get the counts of the last pass with the time they were taken.
import type { RegistrationStore } from '@lwm2m/server';
import { presenceState } from './dto/device.dto';

export type StateCounts = Record<'online' | 'asleep' | 'offline', number>;
export interface FleetStateCounts {
  counts: StateCounts;
  /** ms since epoch: when the pass that counted them started. */
  at: number;
}

/** Counts are reused this long at least, ms. */
export const FLEET_STATES_MIN_AGE_MS = 5000;
const PAGE = 1000;

export class FleetStates {
  private last?: FleetStateCounts;
  /** How long `last` is reused: MIN_AGE_MS, or 10 times the last pass's duration when longer. */
  private maxAgeMs = FLEET_STATES_MIN_AGE_MS;
  private pass?: Promise<FleetStateCounts>;

  constructor(
    private readonly registrations: Pick<RegistrationStore, 'list'>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<FleetStateCounts> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return Promise.resolve(this.last);
    this.pass ??= this.count().finally(() => {
      this.pass = undefined;
    });
    return this.pass;
  }

  private async count(): Promise<FleetStateCounts> {
    const at = this.now();
    const counts: StateCounts = { online: 0, asleep: 0, offline: 0 };
    let cursor: string | undefined;
    do {
      const page = await this.registrations.list({
        limit: PAGE,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const r of page.items) counts[presenceState(r, at)]++;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    this.maxAgeMs = Math.max(FLEET_STATES_MIN_AGE_MS, 10 * (this.now() - at));
    this.last = { counts, at };
    return this.last;
  }
}
