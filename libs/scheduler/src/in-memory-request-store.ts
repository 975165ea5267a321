// The request queues in this process's memory: memory mode (`npm start` without Redis) and unit tests. Same
// transitions as RedisRequestStore's Lua scripts (the contract suite runs on both); what it cannot give is
// durability: a restart loses every queued request.
import type { DeviceCommandResult, LostObservation } from '@lwm2m/server';
import type { QueuedCommand, QueuedRequest, QueuedRequestState, RequestOrigin } from './request';
import type { ClaimResult, EventBatchState, NewRequest, RequestStore, SettleArgs } from './request-store';

export interface InMemoryRequestStoreOptions {
  /** Seconds a finished request stays readable (GET /api/v1/requests/{id}). Default 7 days. */
  retentionSeconds?: number;
  /** Unfinished requests per device. Default 1000. */
  maxQueueLength?: number;
  /** The clock of retention and lost-observation TTLs (Redis' EXPIRE runs on real time too). */
  clock?: () => number;
}

/** A request's record, field for field the hash RedisRequestStore keeps. */
interface Row {
  id: string;
  ep: string;
  cmd: QueuedCommand;
  origin: RequestOrigin;
  prev?: string;
  state: QueuedRequestState;
  attempts: number;
  acc: number;
  exp: number;
  upd: number;
  /** Not before (backoff). */
  nb?: number;
  /** The current attempt's fencing token ('' between attempts). */
  token: string;
  /** The token of the attempt a gateway began. */
  began?: string;
  /** The token of the attempt whose answer is recorded. */
  rtoken?: string;
  started?: number;
  result?: DeviceCommandResult;
  err?: string;
}

const EXPIRED_ERROR = 'time-to-live passed before delivery';

export class InMemoryRequestStore implements RequestStore {
  readonly maxQueueLength: number;
  private readonly retentionMs: number;
  private readonly clock: () => number;
  private readonly rows = new Map<string, Row>();
  /** Ids of each device's unfinished requests, in accepted order (head = next); no entry when empty. */
  private readonly queues = new Map<string, string[]>();
  /** Finished requests, in the order they finished: forgotten after the retention. */
  private readonly finished: Array<{ id: string; removeAt: number }> = [];
  private readonly lost = new Map<string, { byId: Map<string, LostObservation>; expiresAt: number }>();

  constructor(options: InMemoryRequestStoreOptions = {}) {
    this.retentionMs = (options.retentionSeconds ?? 7 * 86400) * 1000;
    this.maxQueueLength = options.maxQueueLength ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  async enqueue(req: NewRequest): Promise<'added' | 'exists' | 'full'> {
    this.prune();
    if (this.rows.has(req.id)) return 'exists';
    const queue = this.queues.get(req.endpoint) ?? [];
    if (queue.length >= this.maxQueueLength) return 'full';
    this.rows.set(req.id, {
      id: req.id,
      ep: req.endpoint,
      cmd: structuredClone(req.command),
      origin: req.origin,
      ...(req.previousObservationId ? { prev: req.previousObservationId } : {}),
      state: 'queued',
      attempts: 0,
      acc: req.acceptedAt,
      exp: req.expiresAt,
      upd: req.acceptedAt,
      token: '',
    });
    queue.push(req.id);
    this.queues.set(req.endpoint, queue);
    return 'added';
  }

  async claim(endpoint: string, now: number, token: string): Promise<ClaimResult> {
    const expired: string[] = [];
    const queue = this.queues.get(endpoint) ?? [];
    for (;;) {
      const id = queue[0];
      if (id === undefined) {
        this.queues.delete(endpoint);
        return { kind: 'empty', expired };
      }
      const r = this.rows.get(id);
      if (r?.state === 'queued') {
        if (r.exp <= now) {
          this.finish(r, 'expired', now, EXPIRED_ERROR);
          queue.shift();
          expired.push(id);
        } else if (r.nb !== undefined && r.nb > now) {
          return { kind: 'wait', expired, id, notBefore: r.nb };
        } else {
          r.attempts++;
          Object.assign(r, { state: 'delivering', token, started: now, upd: now });
          delete r.began;
          delete r.rtoken;
          return { kind: 'deliver', expired, id, command: structuredClone(r.cmd), attempt: r.attempts };
        }
      } else if (r?.state === 'delivering') {
        return {
          kind: 'inflight',
          expired,
          id,
          token: r.token,
          begun: r.began !== undefined && r.began === r.token,
          completed: r.rtoken !== undefined && r.rtoken === r.token,
          startedAt: r.started ?? 0,
        };
      } else {
        queue.shift();
      }
    }
  }

  async begin(requestId: string, token: string): Promise<boolean> {
    const r = this.rows.get(requestId);
    if (r?.state !== 'delivering' || r.token !== token || r.began !== undefined) return false;
    r.began = token;
    return true;
  }

  async complete(requestId: string, token: string, result: DeviceCommandResult): Promise<void> {
    const r = this.rows.get(requestId);
    if (r === undefined || r.token !== token || r.began !== token) return;
    r.result = structuredClone(result);
    r.rtoken = token;
  }

  async recorded(id: string, token: string): Promise<{ begun: boolean; result?: DeviceCommandResult }> {
    const r = this.rows.get(id);
    return {
      begun: r?.began === token,
      ...(r?.rtoken === token && r.result ? { result: structuredClone(r.result) } : {}),
    };
  }

  async settle(a: SettleArgs): Promise<number> {
    const r = this.rows.get(a.id);
    if (r?.state !== 'delivering' || r.token !== a.token) return 0;
    if (a.onlyIfNotBegun && r.began !== undefined) return -1;
    Object.assign(r, { token: '', upd: a.now });
    if (a.result) r.result = structuredClone(a.result);
    if (a.state === 'queued') {
      r.state = 'queued';
      setError(r, a.error);
      if (a.notBefore !== undefined) r.nb = a.notBefore;
      else delete r.nb;
      if (a.countsAsAttempt === false) r.attempts--;
      return 1;
    }
    this.removeFromQueue(r);
    this.finish(r, a.state, a.now, a.error);
    return 1;
  }

  async cancel(
    id: string,
    now: number,
    endpoint?: string,
  ): Promise<{ cancelled: boolean; state: QueuedRequestState } | undefined> {
    this.prune();
    const r = this.rows.get(id);
    if (r === undefined || (endpoint !== undefined && r.ep !== endpoint)) return undefined;
    if (r.state !== 'queued') return { cancelled: false, state: r.state };
    this.removeFromQueue(r);
    this.finish(r, 'cancelled', now, 'cancelled by an operator');
    return { cancelled: true, state: 'cancelled' };
  }

  async sweepExpired(now: number, max = 500): Promise<Array<{ id: string; endpoint: string }>> {
    this.prune();
    const out: Array<{ id: string; endpoint: string }> = [];
    for (const ids of [...this.queues.values()]) {
      for (const id of [...ids]) {
        if (out.length >= max) return out;
        const r = this.rows.get(id);
        // An attempt in flight is left to settle (as in Redis, where settling it re-arms its TTL).
        if (r?.state !== 'queued' || r.exp > now) continue;
        this.removeFromQueue(r);
        this.finish(r, 'expired', now, EXPIRED_ERROR);
        out.push({ id, endpoint: r.ep });
      }
    }
    return out;
  }

  async get(id: string): Promise<QueuedRequest | undefined> {
    this.prune();
    const r = this.rows.get(id);
    return r && toRequest(r);
  }

  async listPending(endpoint: string): Promise<QueuedRequest[]> {
    const out: QueuedRequest[] = [];
    for (const id of this.queues.get(endpoint) ?? []) {
      const r = this.rows.get(id);
      if (r && (r.state === 'queued' || r.state === 'delivering')) out.push(toRequest(r));
    }
    return out;
  }

  async hasPending(endpoint: string): Promise<boolean> {
    return (this.queues.get(endpoint)?.length ?? 0) > 0;
  }

  async endpointsWithPending(): Promise<string[]> {
    return [...this.queues.keys()];
  }

  async keepLostObservations(endpoint: string, lost: LostObservation[], ttlSeconds: number): Promise<void> {
    if (lost.length === 0) return;
    const now = this.clock();
    const kept = this.lost.get(endpoint);
    const byId = kept && kept.expiresAt > now ? kept.byId : new Map<string, LostObservation>();
    for (const o of lost) byId.set(o.id, structuredClone(o));
    this.lost.set(endpoint, { byId, expiresAt: now + ttlSeconds * 1000 });
  }

  async takeLostObservations(endpoint: string): Promise<LostObservation[]> {
    const kept = this.lost.get(endpoint);
    this.lost.delete(endpoint);
    return kept && kept.expiresAt > this.clock() ? [...kept.byId.values()] : [];
  }

  async forEvents(registered: string[], endpoints: string[]): Promise<EventBatchState> {
    const lost = new Map<string, LostObservation[]>();
    for (const ep of new Set(registered)) lost.set(ep, await this.takeLostObservations(ep));
    const pending = new Set<string>();
    for (const ep of endpoints) if (await this.hasPending(ep)) pending.add(ep);
    return { lost, pending };
  }

  // ------------------------------------------------------------------ internals

  private removeFromQueue(r: Row): void {
    const queue = this.queues.get(r.ep);
    if (queue === undefined) return;
    const i = queue.indexOf(r.id);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(r.ep);
  }

  /** A final state: readable for the retention, then forgotten. */
  private finish(r: Row, state: QueuedRequestState, now: number, error: string | undefined): void {
    Object.assign(r, { state, upd: now, token: '' });
    setError(r, error);
    this.finished.push({ id: r.id, removeAt: this.clock() + this.retentionMs });
  }

  /** Forgets finished requests past their retention, and lost observations past their TTL. */
  private prune(): void {
    const now = this.clock();
    let n = 0;
    while (n < this.finished.length && this.finished[n]!.removeAt <= now) {
      const { id } = this.finished[n++]!;
      const r = this.rows.get(id);
      if (r && r.state !== 'queued' && r.state !== 'delivering') this.rows.delete(id);
    }
    if (n > 0) this.finished.splice(0, n);
    for (const [ep, kept] of this.lost) if (kept.expiresAt <= now) this.lost.delete(ep);
  }
}

function setError(r: Row, error: string | undefined): void {
  if (error) r.err = error;
  else delete r.err;
}

function toRequest(r: Row): QueuedRequest {
  const out: QueuedRequest = {
    id: r.id,
    endpoint: r.ep,
    command: structuredClone(r.cmd),
    origin: r.origin,
    state: r.state,
    attempts: r.attempts,
    acceptedAt: r.acc,
    expiresAt: r.exp,
    updatedAt: r.upd,
  };
  if (r.prev) out.previousObservationId = r.prev;
  if (r.nb) out.notBefore = r.nb;
  if (r.result) out.result = structuredClone(r.result);
  if (r.err) out.error = r.err;
  return out;
}
