// The in-memory twin of RedisCampaignStore (memory mode, tests); the same contract suite runs on both
// (libs/campaigns/test/contracts). Each method runs to its end without awaiting, so a device's transition
// (the compare-and-set on its revision, the concurrency and rate claims, the counts, the queues and the log)
// is as atomic as the Lua script. Runs and definitions are kept as JSON, as in Redis: what is read back
// is what a Redis round trip would give (no undefined fields, no shared objects).
import { compareEventIds } from '@lwm2m/server';
import type { Campaign, CampaignDefinition, CampaignPhase, CampaignState } from './campaign';
import type { CampaignStore, CasResult, Page, TransitionRecord } from './campaign-store';
import { ACTIVE_STATES, type DeviceRun, type DeviceRunState } from './device-run';
import { type CampaignCounts, type Counts, emptyCounts } from './rollout';

/** The log's cap (the Redis stream's MAXLEN ~ 1 000 000): the oldest records go first. */
const LOG_MAX = 1_000_000;

/** A Redis sorted set's order: by score, then by member. */
class ScoredSet {
  private readonly scores = new Map<string, number>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  add(member: string, score: number): void {
    this.remove(member);
    this.scores.set(member, score);
    this.order.splice(this.indexOf(score, member), 0, member);
  }

  remove(member: string): void {
    const score = this.scores.get(member);
    if (score === undefined) return;
    this.scores.delete(member);
    this.order.splice(this.indexOf(score, member), 1);
  }

  /** Members with score <= max, in order, at most `limit` (ZRANGEBYSCORE -inf max LIMIT 0 limit). */
  upTo(max: number, limit: number): string[] {
    const out: string[] = [];
    for (const m of this.order) {
      if (out.length >= limit || this.scores.get(m)! > max) break;
      out.push(m);
    }
    return out;
  }

  first(limit: number): string[] {
    return this.order.slice(0, Math.max(0, limit));
  }

  /** Drops the members with score <= max (ZREMRANGEBYSCORE -inf max). */
  dropUpTo(max: number): void {
    let n = 0;
    while (n < this.order.length && this.scores.get(this.order[n])! <= max) n++;
    for (const m of this.order.splice(0, n)) this.scores.delete(m);
  }

  /** Where (score, member) is or would go (binary search). */
  private indexOf(score: number, member: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.order[mid];
      const s = this.scores.get(m)!;
      if (s < score || (s === score && m < member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface Row {
  id: string;
  /** The definition, JSON. */
  def: string;
  createdAt: number;
  state: CampaignState;
  phase: CampaignPhase;
  reason?: string;
  updatedAt: number;
  endedAt?: number;
  /** endpoint -> DeviceRun JSON, in the order the runs were stored (the devices pages' order). */
  runs: Map<string, string>;
  order: string[];
  counts: Counts;
  canaryCounts: Counts;
  queue: ScoredSet;
  canaryQueue: ScoredSet;
  /** Devices in flight -> their attempt's deadline. */
  active: ScoredSet;
  /** Starts of the last minute. */
  starts: ScoredSet;
  /** Devices owing a reset -> when it is due; resets given up. */
  resets: ScoredSet;
  resetsFailed: number;
  log: TransitionRecord[];
}

export class InMemoryCampaignStore implements CampaignStore {
  private readonly rows = new Map<string, Row>();
  /** Campaigns not over yet (a set: insertion order). */
  private readonly runningIds = new Set<string>();
  /** endpoint -> the unfinished campaign it belongs to. */
  private readonly members = new Map<string, string>();
  /** The log's record ids: "<ms>-<seq>", as a Redis stream's. */
  private lastMs = 0;
  private seq = 0;

  async create(def: CampaignDefinition, runs: DeviceRun[]) {
    const busy = def.endpoints.filter((ep) => this.members.has(ep));
    if (busy.length > 0) return { ok: false as const, busy };
    for (const ep of def.endpoints) this.members.set(ep, def.id);
    this.runningIds.add(def.id);
    const row: Row = {
      id: def.id,
      def: JSON.stringify(def),
      createdAt: def.createdAt,
      state: 'running',
      phase: def.policy.canarySize > 0 ? 'canary' : 'rollout',
      updatedAt: def.createdAt,
      runs: new Map(),
      order: [],
      counts: emptyCounts(),
      canaryCounts: emptyCounts(),
      queue: new ScoredSet(),
      canaryQueue: new ScoredSet(),
      active: new ScoredSet(),
      starts: new ScoredSet(),
      resets: new ScoredSet(),
      resetsFailed: 0,
      log: [],
    };
    runs.forEach((r, i) => {
      if (!row.runs.has(r.endpoint)) row.order.push(r.endpoint);
      row.runs.set(r.endpoint, JSON.stringify(r));
      // Start order is the target's order: the score is the position (all "due" from the start).
      (r.canary ? row.canaryQueue : row.queue).add(r.endpoint, i);
      row.counts[r.state]++;
      if (r.canary) row.canaryCounts[r.state]++;
    });
    this.rows.set(def.id, row);
    return { ok: true as const };
  }

  async get(id: string): Promise<Campaign | undefined> {
    const row = this.rows.get(id);
    if (!row) return undefined;
    return {
      ...(JSON.parse(row.def) as CampaignDefinition),
      state: row.state,
      phase: row.phase,
      updatedAt: row.updatedAt,
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.endedAt !== undefined ? { endedAt: row.endedAt } : {}),
    };
  }

  async list(limit: number, cursor?: string): Promise<Page<Campaign>> {
    // Newest first (ties: the greater id first, as ZREVRANGE); the cursor is the rank to continue from.
    const from = cursor ? Number(cursor) : 0;
    const ids = [...this.rows.values()]
      .sort((a, b) => b.createdAt - a.createdAt || cmp(b.id, a.id))
      .slice(from, from + limit)
      .map((r) => r.id);
    const items = (await Promise.all(ids.map((id) => this.get(id)))).filter(
      (c): c is Campaign => c !== undefined,
    );
    return { items, ...(ids.length === limit ? { nextCursor: String(from + limit) } : {}) };
  }

  async running(): Promise<string[]> {
    return [...this.runningIds];
  }

  async update(
    id: string,
    from: readonly CampaignState[],
    patch: { state?: CampaignState; phase?: CampaignPhase; reason?: string; endedAt?: number },
    now: number,
  ): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || !from.includes(row.state)) return false;
    if (patch.state) row.state = patch.state;
    if (patch.phase) row.phase = patch.phase;
    if (patch.reason) row.reason = patch.reason;
    if (patch.endedAt !== undefined) row.endedAt = patch.endedAt;
    row.updatedAt = now;
    return true;
  }

  async counts(id: string): Promise<CampaignCounts> {
    const row = this.rows.get(id);
    return row
      ? { all: { ...row.counts }, canary: { ...row.canaryCounts } }
      : { all: emptyCounts(), canary: emptyCounts() };
  }

  async getRun(id: string, endpoint: string): Promise<DeviceRun | undefined> {
    const v = this.rows.get(id)?.runs.get(endpoint);
    return v ? (JSON.parse(v) as DeviceRun) : undefined;
  }

  async runs(id: string, limit: number, cursor = '0', state?: DeviceRunState): Promise<Page<DeviceRun>> {
    // The cursor is the position in the stored order; a page filtered by state may hold fewer than `limit`.
    const row = this.rows.get(id);
    if (!row) return { items: [] };
    const from = Number(cursor);
    const items: DeviceRun[] = [];
    for (const ep of row.order.slice(from, from + limit)) {
      const r = JSON.parse(row.runs.get(ep)!) as DeviceRun;
      if (state === undefined || r.state === state) items.push(r);
    }
    return { items, ...(from + limit < row.order.length ? { nextCursor: String(from + limit) } : {}) };
  }

  async casRun(
    id: string,
    next: DeviceRun,
    claim?: { maxActive: number; perMinute: number },
    live?: readonly CampaignState[],
  ): Promise<CasResult> {
    const row = this.rows.get(id);
    const cur = row?.runs.get(next.endpoint);
    if (!row || cur === undefined) return 'missing';
    const stored = JSON.parse(cur) as DeviceRun;
    if (stored.rev !== next.rev - 1) return 'conflict';
    if (live !== undefined && live.length > 0 && !live.includes(row.state)) return 'stopped';
    const old = stored.state;
    const ep = next.endpoint;
    const now = next.updatedAt;
    if ((claim?.maxActive ?? 0) > 0 && row.active.size >= claim!.maxActive) return 'full';
    if ((claim?.perMinute ?? 0) > 0) {
      row.starts.dropUpTo(now - 60_000);
      if (row.starts.size >= claim!.perMinute) return 'rate';
      row.starts.add(`${ep}:${now}`, now);
    }
    row.runs.set(ep, JSON.stringify(next));
    if (next.resetPending) row.resets.add(ep, next.resetNextAt ?? 0);
    else row.resets.remove(ep);
    if (next.resetFailed && !stored.resetFailed) row.resetsFailed++;
    const to = next.state;
    if (old !== to) {
      row.counts[old]--;
      row.counts[to]++;
      if (next.canary) {
        row.canaryCounts[old]--;
        row.canaryCounts[to]++;
      }
    }
    row.queue.remove(ep);
    row.canaryQueue.remove(ep);
    if (to === 'pending') {
      (next.canary ? row.canaryQueue : row.queue).add(ep, next.notBefore ?? 0);
      row.active.remove(ep);
    } else if (ACTIVE_STATES.includes(to)) {
      row.active.add(ep, next.deadline ?? 0);
    } else {
      row.active.remove(ep);
    }
    if (old !== to) {
      row.log.push({
        id: this.nextLogId(),
        endpoint: ep,
        from: old,
        to,
        at: now,
        active: row.active.size,
        downloading: row.counts.downloading,
      });
      if (row.log.length > LOG_MAX) row.log.splice(0, row.log.length - LOG_MAX);
    }
    return 'ok';
  }

  async due(id: string, canary: boolean, now: number, limit: number): Promise<string[]> {
    const row = this.rows.get(id);
    return row ? (canary ? row.canaryQueue : row.queue).upTo(now, limit) : [];
  }

  async overdue(id: string, now: number, limit: number): Promise<string[]> {
    return this.rows.get(id)?.active.upTo(now, limit) ?? [];
  }

  async resetsDue(id: string, now: number, limit: number): Promise<string[]> {
    return this.rows.get(id)?.resets.upTo(now, limit) ?? [];
  }

  async resets(id: string): Promise<{ owed: number; failed: number }> {
    const row = this.rows.get(id);
    return { owed: row?.resets.size ?? 0, failed: row?.resetsFailed ?? 0 };
  }

  async activeEndpoints(id: string, limit: number): Promise<string[]> {
    return this.rows.get(id)?.active.first(limit) ?? [];
  }

  async campaignOf(endpoint: string): Promise<string | undefined> {
    return this.members.get(endpoint);
  }

  async release(id: string, endpoints: string[]): Promise<void> {
    for (const ep of endpoints) if (this.members.get(ep) === id) this.members.delete(ep);
  }

  async retire(id: string): Promise<void> {
    this.runningIds.delete(id);
  }

  async reopen(id: string): Promise<void> {
    this.runningIds.add(id);
  }

  async log(id: string, after: string, count: number): Promise<TransitionRecord[]> {
    const log = this.rows.get(id)?.log ?? [];
    // The first record after `after` ("<ms>" or "<ms>-<seq>", "0" = from the start): binary search.
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEventIds(log[mid].id, after) > 0) hi = mid;
      else lo = mid + 1;
    }
    return log.slice(lo, lo + count).map((r) => ({ ...r }));
  }

  private nextLogId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else this.seq++;
    return `${this.lastMs}-${this.seq}`;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
