// The in-memory twin of RedisGroupStore (memory mode, unit tests); same contract suite.
import type { Group } from './group';
import {
  emptyCounts,
  FINAL_MEMBER_STATES,
  type GroupRequest,
  type GroupRequestState,
  type MemberResult,
} from './group-request';
import {
  type GroupRequestPage,
  type GroupRequestQuery,
  type GroupStore,
  type NewGroupRequest,
  requestListEntry,
} from './group-store';

interface Row {
  req: GroupRequest;
  /** Members not yet dispatched, in order (takePending and endPending take from the front). */
  undispatched: string[];
  members: Map<string, MemberResult>;
  results: MemberResult[];
  /** A multicast request's servers: where each one's result is in `results` (notify replaces it there). */
  resultIndex: Map<string, number>;
  /** A multicast observation's later notifications, in the order they came. */
  notes: MemberResult[];
  lease?: { owner: string; until: number };
  sent?: boolean;
  expiresAt?: number;
}

export class InMemoryGroupStore implements GroupStore {
  private readonly groups = new Map<string, Group>();
  private readonly rows = new Map<string, Row>();

  constructor(private readonly now: () => number = Date.now) {}

  async createGroup(group: Group, maxGroups: number): Promise<'created' | 'exists' | 'full'> {
    if (this.groups.has(group.name)) return 'exists';
    if (this.groups.size >= maxGroups) return 'full';
    this.groups.set(group.name, structuredClone(group));
    return 'created';
  }

  async getGroup(name: string): Promise<Group | undefined> {
    const g = this.groups.get(name);
    return g && structuredClone(g);
  }

  async listGroups(): Promise<Group[]> {
    return [...this.groups.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((g) => structuredClone(g));
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.groups.delete(name);
  }

  async createRequest(req: NewGroupRequest, members: string[]): Promise<void> {
    const counts = emptyCounts();
    counts.pending = members.length;
    const at = req.createdAt;
    this.rows.set(req.id, {
      req: { ...structuredClone(req), state: 'running', total: members.length, counts },
      undispatched: [...members],
      members: new Map(members.map((endpoint) => [endpoint, { endpoint, state: 'pending', at }])),
      results: [],
      resultIndex: new Map(),
      notes: [],
    });
  }

  private row(id: string): Row | undefined {
    const r = this.rows.get(id);
    if (r?.expiresAt !== undefined && r.expiresAt <= this.now()) {
      this.rows.delete(id);
      return undefined;
    }
    return r;
  }

  async getRequest(id: string): Promise<GroupRequest | undefined> {
    const r = this.row(id);
    return r && structuredClone(r.req);
  }

  async listRequests(query: GroupRequestQuery): Promise<GroupRequestPage> {
    const rows = [...this.rows.keys()]
      .map((id) => this.row(id)) // drops the expired ones
      .filter((r): r is Row => r !== undefined)
      .map((r) => ({ r, entry: requestListEntry(r.req) }))
      .filter(({ entry }) => query.cursor === undefined || entry < query.cursor)
      .filter(({ r }) => query.group === undefined || r.req.group === query.group)
      .filter(({ r }) => query.state === undefined || r.req.state === query.state)
      .sort((a, b) => (a.entry < b.entry ? 1 : -1));
    const page = rows.slice(0, query.limit);
    return {
      items: page.map(({ r }) => structuredClone(r.req)),
      ...(rows.length > query.limit ? { nextCursor: page[page.length - 1]!.entry } : {}),
    };
  }

  async activeRequests(): Promise<string[]> {
    return [...this.rows.values()]
      .filter((r) => r.req.state === 'running' || r.req.state === 'cancelling')
      .map((r) => r.req.id);
  }

  async takePending(id: string, n: number, now: number): Promise<string[]> {
    const r = this.row(id);
    if (!r || r.req.state !== 'running') return [];
    const out: string[] = [];
    while (out.length < n && r.undispatched.length > 0) {
      const ep = r.undispatched.shift()!;
      const m = r.members.get(ep);
      if (m?.state !== 'pending') continue;
      this.move(r, { endpoint: ep, state: 'dispatching', at: now });
      out.push(ep);
    }
    return out;
  }

  private move(r: Row, next: MemberResult): boolean {
    const prev = r.members.get(next.endpoint);
    if (!prev || FINAL_MEMBER_STATES.has(prev.state)) return false;
    r.req.counts[prev.state]--;
    r.req.counts[next.state]++;
    r.members.set(next.endpoint, structuredClone(next));
    if (FINAL_MEMBER_STATES.has(next.state)) r.results.push(structuredClone(next));
    return true;
  }

  async settle(id: string, result: MemberResult): Promise<boolean> {
    const r = this.row(id);
    return r ? this.move(r, result) : false;
  }

  async addResult(id: string, result: MemberResult): Promise<boolean> {
    const r = this.row(id);
    if (!r || r.req.state !== 'running' || r.members.has(result.endpoint)) return false;
    r.req.total++;
    r.req.counts[result.state]++;
    r.members.set(result.endpoint, structuredClone(result));
    r.resultIndex.set(result.endpoint, r.results.length);
    r.results.push(structuredClone(result));
    return true;
  }

  async notify(id: string, result: MemberResult, maxLogged: number): Promise<boolean> {
    const r = this.row(id);
    const at = r?.resultIndex.get(result.endpoint);
    if (!r || at === undefined || r.req.state !== 'running') return false;
    if (r.members.get(result.endpoint)?.state !== result.state) return false;
    r.members.set(result.endpoint, structuredClone(result));
    r.results[at] = structuredClone(result);
    if (r.notes.length < maxLogged) r.notes.push(structuredClone(result));
    return true;
  }

  async notifications(id: string, offset: number, limit: number): Promise<MemberResult[]> {
    return (this.row(id)?.notes ?? []).slice(offset, offset + limit).map((m) => structuredClone(m));
  }

  async claimSend(id: string): Promise<boolean> {
    const r = this.row(id);
    if (!r || r.sent) return false;
    r.sent = true;
    return true;
  }

  async membersIn(id: string, state: 'queued' | 'dispatching'): Promise<MemberResult[]> {
    const r = this.row(id);
    return r ? [...r.members.values()].filter((m) => m.state === state).map((m) => structuredClone(m)) : [];
  }

  async getMember(id: string, endpoint: string): Promise<MemberResult | undefined> {
    const m = this.row(id)?.members.get(endpoint);
    return m && structuredClone(m);
  }

  async endPending(
    id: string,
    state: 'cancelled' | 'timed-out',
    reason: string,
    n: number,
    now: number,
  ): Promise<number> {
    const r = this.row(id);
    if (!r) return 0;
    let ended = 0;
    while (ended < n && r.undispatched.length > 0) {
      const ep = r.undispatched.shift()!;
      if (r.members.get(ep)?.state !== 'pending') continue;
      this.move(r, { endpoint: ep, state, error: reason, at: now });
      ended++;
    }
    return ended;
  }

  async results(id: string, offset: number, limit: number): Promise<MemberResult[]> {
    return (this.row(id)?.results ?? []).slice(offset, offset + limit).map((m) => structuredClone(m));
  }

  async requestCancel(id: string): Promise<boolean> {
    const r = this.row(id);
    if (r?.req.state !== 'running') return false;
    r.req.state = 'cancelling';
    return true;
  }

  async finishIfDone(id: string, now: number, retentionMs: number): Promise<GroupRequestState | undefined> {
    const r = this.row(id);
    if (!r) return undefined;
    const c = r.req.counts;
    if (r.req.state === 'completed' || r.req.state === 'cancelled') return r.req.state;
    if (c.pending + c.dispatching + c.queued > 0) return r.req.state;
    r.req.state = r.req.state === 'cancelling' ? 'cancelled' : 'completed';
    r.req.finishedAt = now;
    r.expiresAt = this.now() + retentionMs; // by this store's clock, as Redis expires by its own
    return r.req.state;
  }

  async lease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const r = this.row(id);
    if (!r) return false;
    const now = this.now();
    if (r.lease && r.lease.owner !== owner && r.lease.until > now) return false;
    r.lease = { owner, until: now + ttlMs };
    return true;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    const r = this.rows.get(id);
    if (r?.lease?.owner === owner) delete r.lease;
  }
}
