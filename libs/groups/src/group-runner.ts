// The fan-out of group requests. Every api process runs one GroupRunner; a request is driven by whichever
// runner holds its lease in the store (Redis: {greq:<id>}:lease, renewed every third of GROUP_LEASE_MS), so a
// request outlives the api process that accepted it: another process, or the same one restarted, takes the
// lease over once it lapses and continues from the store (members not yet sent stay pending there).
// Members dispatched by a runner that stopped before the answer came are failed ("outcome unknown"), never
// sent twice: a Write or Execute runs at most once, as with single-device commands.
import { randomUUID } from 'node:crypto';
import { formatReplyFrom } from '@lwm2m/group-proxy';
import { type GroupRequest, type MemberResult, resultOf } from './group-request';
import type { EventBus } from '@lwm2m/server';
import type { GroupStore } from './group-store';
import type { DispatchOutcome, MemberDispatcher } from './member-dispatcher';
import type { MulticastExchange, MulticastSender } from './multicast-sender';

export interface GroupRunnerOptions {
  store: GroupStore;
  dispatcher: MemberDispatcher;
  /** Sends a multicast group's request (through the group proxy's machinery); absent: such requests fail. */
  multicast?: MulticastSender;
  /** This runner's name in leases (default a random UUID). */
  owner?: string;
  /** Lease of a request's fan-out, ms (default 10 000): how soon another runner takes over a dead one's. */
  leaseMs?: number;
  /** How often unowned unfinished requests are looked for, ms (default 2 000). */
  scanMs?: number;
  /**
   * How often the queued members' requests are checked, ms (default 1 000); with `events`, a safety net
   * stretched to one check per ms per queued member (100k sleeping devices: every 100 s).
   */
  queuedPollMs?: number;
  /**
   * The event stream: a queued request's final `request` event settles its member at once, instead of
   * waiting for the next poll.
   */
  events?: Pick<EventBus, 'subscribe'>;
  /**
   * A multicast observation's notifications logged per request (streamed as SSE; default 10 000): later ones
   * still update their server's result.
   */
  maxNotifications?: number;
  /** How long a finished request and its results are kept, ms (default one day). */
  retentionMs?: number;
  now?: () => number;
  warn?: (message: string) => void;
}

const TICK_MS = 20;
/** Members ended per store call when cancelling or timing out (bounds one Lua script's run time). */
const END_BATCH = 5_000;

export class GroupRunner {
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly scanMs: number;
  private readonly queuedPollMs: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly runs = new Map<string, Promise<void>>();
  private scanTimer: NodeJS.Timeout | undefined;
  /** The event subscription, open only while this runner has queued members to watch. */
  private listening: AbortController | undefined;
  /** Queued members of the requests this runner drives: device request id -> group request and endpoint. */
  private readonly queuedIndex = new Map<string, { id: string; endpoint: string }>();
  private stopped = false;
  /** Counters for metrics (libs/metrics registerGroupMetrics) and tests. */
  readonly counters = {
    dispatched: 0,
    results: {} as Record<string, number>,
    takeovers: 0,
    /** A multicast observation's later notifications stored. */
    notifications: 0,
  };

  /** Group requests this runner drives now. */
  get running(): number {
    return this.runs.size;
  }

  constructor(private readonly opts: GroupRunnerOptions) {
    this.owner = opts.owner ?? randomUUID();
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.scanMs = opts.scanMs ?? 2_000;
    this.queuedPollMs = opts.queuedPollMs ?? 1_000;
    this.retentionMs = opts.retentionMs ?? 86_400_000;
    this.now = opts.now ?? Date.now;
  }

  /** Starts looking for unfinished requests (its own new ones, and those of runners that stopped). */
  start(): void {
    const scan = async (): Promise<void> => {
      try {
        for (const id of await this.opts.store.activeRequests()) this.kick(id);
      } catch (err) {
        this.opts.warn?.(`group requests: scan failed: ${String(err)}`);
      }
      if (!this.stopped) this.scanTimer = setTimeout(() => void scan(), this.scanMs).unref();
    };
    void scan();
  }

  /** Watches a queued member's device request; the event subscription opens with the first one. */
  private watch(requestId: string, id: string, endpoint: string): void {
    this.queuedIndex.set(requestId, { id, endpoint });
    if (!this.opts.events || this.listening || this.stopped) return;
    const ctl = new AbortController();
    this.listening = ctl;
    void this.listen(this.opts.events, ctl);
  }

  /**
   * Forgets a watched request; with none left the subscription closes, so an idle api costs the event stream
   * nothing (no reader woken per event on the hot path).
   */
  private unwatch(requestId: string): void {
    this.queuedIndex.delete(requestId);
    if (this.queuedIndex.size === 0 && this.listening) {
      this.listening.abort();
      this.listening = undefined;
    }
  }

  private async listen(events: Pick<EventBus, 'subscribe'>, ctl: AbortController): Promise<void> {
    const FINAL = new Set(['succeeded', 'failed', 'expired', 'cancelled']);
    try {
      for await (const e of events.subscribe({ afterId: '$', signal: ctl.signal })) {
        if (e.type !== 'request' || !FINAL.has(e.state)) continue;
        const member = this.queuedIndex.get(e.requestId);
        if (!member) continue;
        const done = await this.opts.dispatcher.queuedResult(member.endpoint, e.requestId, this.now());
        if (done) {
          await this.settle(member.id, done);
          this.unwatch(e.requestId);
        }
      }
    } catch (err) {
      if (!ctl.signal.aborted) this.opts.warn?.(`group requests: event stream failed: ${String(err)}`);
    } finally {
      if (this.listening === ctl) this.listening = undefined;
    }
  }

  /** Drives a request now if no runner holds it (called when the api accepts or cancels one). */
  kick(id: string): void {
    if (this.stopped || this.runs.has(id)) return;
    const run = this.run(id)
      .catch((err: unknown) => this.opts.warn?.(`group request ${id}: ${String(err)}`))
      .finally(() => this.runs.delete(id));
    this.runs.set(id, run);
  }

  /** Stops driving requests and releases their leases (others take them over); answers in flight are dropped. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.scanTimer);
    this.listening?.abort();
    this.listening = undefined;
    await Promise.allSettled([...this.runs.values()]);
  }

  private async run(id: string): Promise<void> {
    const { store } = this.opts;
    if (!(await store.lease(id, this.owner, this.leaseMs))) return;
    let leasedAt = this.now();
    let lost = false;
    /** Renews the lease when a third of it passed; false once another runner holds the request. */
    const renew = async (): Promise<boolean> => {
      const t = this.now();
      if (!lost && t - leasedAt >= this.leaseMs / 3) {
        lost = !(await store.lease(id, this.owner, this.leaseMs));
        leasedAt = t;
      }
      return !lost;
    };
    const first = await store.getRequest(id);
    if (first?.multicast) return this.runMulticast(id, first.multicast, renew);
    const inFlight = new Set<Promise<void>>();
    try {
      // Left "dispatching" by a runner that stopped: the answer is lost and the command must not run twice.
      for (const m of await store.membersIn(id, 'dispatching')) {
        this.counters.takeovers++;
        await this.settle(id, {
          endpoint: m.endpoint,
          state: 'failed',
          error: 'outcome unknown: the runner that sent it stopped before the answer',
          at: this.now(),
        });
      }
      let tokens = 0;
      let refilledAt = this.now();
      let polledAt = 0;
      while (!this.stopped) {
        const t = this.now();
        if (!(await renew())) return; // another runner took it
        const req = await store.getRequest(id);
        if (!req || req.state === 'completed' || req.state === 'cancelled') return;
        if (req.state === 'cancelling') {
          await this.endAll(id, req, 'cancelled', 'cancelled by the operator', t, renew);
        } else if (t >= req.deadline) {
          // Multicast-Timeout's rule at fleet level: after the deadline nothing more is sent or collected.
          await this.endAll(id, req, 'timed-out', 'the deadline passed before the device answered', t, renew);
        } else if (req.counts.pending > 0) {
          // Token bucket: rate.perSecond, bursts of a fifth of a second; maxInFlight answers awaited at once.
          const burst = Math.max(1, Math.ceil(req.rate.perSecond / 5));
          tokens = Math.min(burst, tokens + ((t - refilledAt) * req.rate.perSecond) / 1000);
          refilledAt = t;
          const n = Math.min(Math.floor(tokens), req.rate.maxInFlight - inFlight.size);
          if (n > 0) {
            const eps = await store.takePending(id, n, t);
            tokens -= eps.length;
            for (const ep of eps) {
              const p = this.dispatch(id, req, ep).finally(() => inFlight.delete(p));
              inFlight.add(p);
            }
          }
        }
        const pollEvery = this.opts.events
          ? Math.max(this.queuedPollMs, req.counts.queued)
          : this.queuedPollMs;
        if (req.counts.queued > 0 && t - polledAt >= pollEvery) {
          polledAt = t;
          await this.pollQueued(id, renew);
        }
        if (req.counts.pending + req.counts.dispatching + req.counts.queued === 0) {
          const state = await store.finishIfDone(id, t, this.retentionMs);
          if (state === 'completed' || state === 'cancelled') return;
        }
        await sleep(TICK_MS);
      }
    } finally {
      if (!this.stopped) await Promise.allSettled([...inFlight]);
      // What this run watched is no longer its business (finished, or another runner holds it now).
      for (const [requestId, m] of this.queuedIndex) if (m.id === id) this.unwatch(requestId);
      await store.releaseLease(id, this.owner).catch(() => undefined);
    }
  }

  /**
   * A multicast group's request: sent once (claimSend: a runner taking over never resends, the responses
   * that reached a stopped runner are lost), each server's response added as its result until the deadline
   * (T' of the forward) or a cancel, then finished.
   */
  private async runMulticast(
    id: string,
    group: { address: string; port: number },
    renew: () => Promise<boolean>,
  ): Promise<void> {
    const { store } = this.opts;
    let exchange: MulticastExchange | undefined;
    let ended = false;
    try {
      while (!this.stopped) {
        const t = this.now();
        if (!(await renew())) return;
        const req = await store.getRequest(id);
        if (!req || req.state === 'completed' || req.state === 'cancelled') return;
        const over = req.state === 'cancelling' || t >= req.deadline || ended;
        if (!over && !exchange && (await store.claimSend(id))) {
          this.counters.dispatched++;
          if (!this.opts.multicast) {
            await this.addResult(id, {
              endpoint: formatReplyFrom({ scheme: 'coap', host: group.address, port: group.port }),
              state: 'failed',
              status: 501,
              error: 'this api has no group proxy to send multicast requests',
              at: t,
            });
            ended = true;
          } else {
            exchange = this.opts.multicast.send(group, req.spec, req.deadline - t, {
              result: (r) => void this.addResult(id, r),
              notification: (r) => void this.notify(id, r),
              ended: () => {
                ended = true;
              },
            });
          }
        }
        if (over) {
          exchange?.stop();
          exchange = undefined;
          const state = await store.finishIfDone(id, t, this.retentionMs);
          if (state === 'completed' || state === 'cancelled') return;
        }
        await sleep(TICK_MS * 5);
      }
    } finally {
      exchange?.stop();
      await store.releaseLease(id, this.owner).catch(() => undefined);
    }
  }

  private async addResult(id: string, result: MemberResult): Promise<void> {
    try {
      if (await this.opts.store.addResult(id, result)) {
        this.counters.results[result.state] = (this.counters.results[result.state] ?? 0) + 1;
      }
    } catch (err) {
      this.opts.warn?.(`group request ${id}: result of ${result.endpoint} not stored: ${String(err)}`);
    }
  }

  /** A later notification of a multicast observation: its server's result as of now, and one SSE event. */
  private async notify(id: string, result: MemberResult): Promise<void> {
    try {
      if (await this.opts.store.notify(id, result, this.opts.maxNotifications ?? 10_000)) {
        this.counters.notifications++;
      }
    } catch (err) {
      this.opts.warn?.(`group request ${id}: notification of ${result.endpoint} not stored: ${String(err)}`);
    }
  }

  private async dispatch(id: string, req: GroupRequest, endpoint: string): Promise<void> {
    const left = Math.max(0, req.deadline - this.now());
    // A device's answer is awaited no longer than what is left of the deadline (and at least 100 ms).
    const timeoutMs = Math.max(100, Math.min(req.timeoutMs, left));
    this.counters.dispatched++;
    let out: DispatchOutcome;
    try {
      out = await this.opts.dispatcher.dispatch(endpoint, req.spec, {
        timeoutMs,
        ttlMs: Math.max(1000, left),
      });
    } catch (err) {
      out = { kind: 'failed', status: 500, error: String(err) };
    }
    const at = this.now();
    const result: MemberResult =
      out.kind === 'result'
        ? resultOf(endpoint, out.result, at)
        : out.kind === 'queued'
          ? { endpoint, state: 'queued', requestId: out.requestId, status: 202, at }
          : { endpoint, state: 'failed', status: out.status, error: out.error, at };
    if (out.kind === 'queued') this.watch(out.requestId, id, endpoint);
    await this.settle(id, result);
  }

  /** `renew` keeps the lease through a long pass (100k sleeping members). */
  private async pollQueued(id: string, renew: () => Promise<boolean>): Promise<void> {
    let seen = 0;
    for (const m of await this.opts.store.membersIn(id, 'queued')) {
      if (++seen % 500 === 0 && !(await renew())) return;
      if (!m.requestId) continue;
      if (!this.queuedIndex.has(m.requestId)) this.watch(m.requestId, id, m.endpoint);
      const done = await this.opts.dispatcher.queuedResult(m.endpoint, m.requestId, this.now());
      if (done) {
        await this.settle(id, done);
        this.unwatch(m.requestId);
      }
    }
  }

  /** Cancel or deadline: pending members end at once, queued ones have their device request cancelled. */
  private async endAll(
    id: string,
    req: GroupRequest,
    state: 'cancelled' | 'timed-out',
    reason: string,
    t: number,
    renew: () => Promise<boolean>,
  ): Promise<void> {
    if (req.counts.pending > 0) {
      while ((await this.opts.store.endPending(id, state, reason, END_BATCH, t)) > 0) {
        if (!(await renew())) return;
      }
    }
    if (req.counts.queued > 0) {
      let seen = 0;
      for (const m of await this.opts.store.membersIn(id, 'queued')) {
        if (++seen % 500 === 0 && !(await renew())) return;
        if (m.requestId) {
          this.unwatch(m.requestId);
          await this.opts.dispatcher.cancelQueued(m.requestId, m.endpoint).catch(() => undefined);
        }
        // A request the device was being given finishes; its answer is kept when it came first.
        const done = m.requestId
          ? await this.opts.dispatcher.queuedResult(m.endpoint, m.requestId, t)
          : undefined;
        await this.settle(
          id,
          done && done.state !== 'cancelled'
            ? done
            : {
                endpoint: m.endpoint,
                state,
                ...(m.requestId ? { requestId: m.requestId } : {}),
                error: reason,
                at: t,
              },
        );
      }
    }
  }

  private async settle(id: string, result: MemberResult): Promise<void> {
    try {
      if (await this.opts.store.settle(id, result)) {
        this.counters.results[result.state] = (this.counters.results[result.state] ?? 0) + 1;
      }
    } catch (err) {
      this.opts.warn?.(`group request ${id}: result of ${result.endpoint} not stored: ${String(err)}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
