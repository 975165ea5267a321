// Drives campaigns: starts devices within the rollout policy, turns what devices report on /5/0/3 and /5/0/5
// into transitions, times attempts out, retries, and applies the canary gate and the abort threshold.
//
// Every transition is stored first (compare-and-set on the run's revision, CampaignStore.casRun), then acted
// on; what a stopped process left between the two is picked up by tick(): a start whose write was never sent
// is driven again, an attempt that stopped moving times out. So the engine may run in several scheduler
// replicas and be restarted at any point: ticks and events are idempotent.
//
// A cancel or an abort interrupts the devices in flight that were not told to install (onInterrupt): each is
// reset with an empty Package URI or Package (TS 1.2 Core E.6), a push stopped first. The steps that talk to a
// device for the campaign (a start, the write's intent, the Execute's) are stored only while the campaign is
// live, in the same atomic step as the campaign's state (CampaignStore.casRun `live`), so a cancel stored
// before them wins: no Execute ever follows it, and a write that raced it is reset again once it is answered.
// The reset is owed from the interruption on (DeviceRun.resetPending, in the same compare-and-set): a process
// that stops before the device acknowledged it leaves it to the next tick, which sends it again (claimed
// first, backoff doubling from redriveAfterMs, given up after resetAttempts with the error on the run). The
// device stays the campaign's member, and the campaign does not end, while its reset is owed.
import type { EventBus, Lwm2mEvent, StoredEvent } from '@lwm2m/server';
import { type Campaign, type CampaignState, isCampaignOver } from './campaign';
import type { CampaignCommand, CampaignDevices } from './campaign-devices';
import type { CampaignStore } from './campaign-store';
import {
  claimReset,
  type Decision,
  failAttempt,
  onCommandFailure,
  onDeadline,
  onInterrupt,
  onReport,
  oweReset,
  RESET_ATTEMPTS,
  resetOutcome,
} from './device-machine';
import { type DeviceRun, isActive, isFinalRun } from './device-run';
import { updateObjectOf } from './update-object';
import { active, evaluate, mayStart } from './rollout';

/** A write or an Execute for the campaign is stored only in these campaign states; a start only when running. */
const LIVE: readonly CampaignState[] = ['running', 'paused'];
const STARTS: readonly CampaignState[] = ['running'];

/** Interrupted devices reset at once, at most (each reset may wait for a device that does not answer). */
const RESET_PARALLEL = 16;

export interface CampaignEngineOptions {
  store: CampaignStore;
  devices: CampaignDevices;
  events?: EventBus;
  /** A sleeping or unregistered device is looked at again after this, unless it wakes first (ms, default 60 s). */
  asleepRecheckMs?: number;
  /**
   * A start whose write was not sent, or an Execute not followed by Updating, is driven again after (ms); an
   * owed reset that failed is sent again after it, doubled per attempt.
   */
  redriveAfterMs?: number;
  /** Attempts of an interrupted device's reset before it is given up (default 6). */
  resetAttempts?: number;
  now?: () => number;
  random?: () => number;
  onError?: (err: unknown) => void;
}

type Mutator = (run: DeviceRun) => Decision | undefined;

/** The events onEvent acts on: a device's notifications (of /5/0) and its wake-ups. */
const CAMPAIGN_EVENT_TYPES: ReadonlySet<string> = new Set(['notification', 'awake', 'updated', 'registered']);
export const isCampaignEvent = (e: { type: string }): boolean => CAMPAIGN_EVENT_TYPES.has(e.type);

export class CampaignEngine {
  private readonly now: () => number;
  private readonly random: () => number;
  /** One fill per campaign at a time in this process; a request while one runs makes it run once more. */
  private readonly filling = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(private readonly opts: CampaignEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** Everything periodic of every unfinished campaign (the scheduler calls it every second). */
  async tickAll(): Promise<void> {
    for (const id of await this.opts.store.running()) {
      await this.tick(id).catch((err) => this.opts.onError?.(err));
    }
  }

  async tick(id: string): Promise<void> {
    const c = await this.opts.store.get(id);
    if (!c) return;
    const now = this.now();
    for (const ep of await this.opts.store.overdue(id, now, 500)) {
      await this.transition(c, ep, (run) =>
        isActive(run.state) && run.deadline !== undefined && run.deadline <= now
          ? onDeadline(run, c.policy, now, this.random)
          : undefined,
      );
    }
    await this.redrive(c, now);
    await this.redriveResets(c, now);
    await this.settle(id);
    await this.fill(id);
  }

  /** Handles one event of the registry's stream (any replica, possibly twice). */
  async onEvent(e: StoredEvent | Lwm2mEvent): Promise<void> {
    if (e.type === 'notification') {
      // Only object 5 or 9 values may concern a campaign (no campaign lookup for the rest).
      if (!e.values?.some((v) => v.path.startsWith('/5/') || v.path.startsWith('/9/'))) return;
      const id = await this.opts.store.campaignOf(e.endpoint);
      if (!id) return;
      const c = await this.opts.store.get(id);
      if (!c) return;
      const report = updateObjectOf(c).report(e.values);
      if (report.state === undefined && report.result === undefined) return;
      await this.transition(c, e.endpoint, (run) => onReport(run, report, c.policy, this.now(), this.random));
      return;
    }
    if (e.type === 'awake' || e.type === 'updated' || e.type === 'registered') {
      const id = await this.opts.store.campaignOf(e.endpoint);
      if (!id) return;
      const c = await this.opts.store.get(id);
      if (!c) return;
      const run = await this.opts.store.getRun(id, e.endpoint);
      if (run?.state === 'pending' && run.asleep) {
        // Served when it wakes (TS 1.2 Core 6.5): due now, ahead of the rest.
        await this.transition(c, e.endpoint, (r) =>
          r.state === 'pending' && r.asleep
            ? { run: { ...r, notBefore: 0, updatedAt: this.now() } }
            : undefined,
        );
        this.kick(id);
      } else if (run?.resetPending) {
        // An owed reset (its device was unreachable) is sent when the device shows up, not after the backoff.
        await this.transition(c, e.endpoint, (r) =>
          r.resetPending && (r.resetNextAt ?? 0) > this.now()
            ? { run: { ...r, resetNextAt: this.now(), updatedAt: this.now() } }
            : undefined,
        );
        await this.sendReset(c, e.endpoint);
        await this.settle(id);
      } else if (e.type === 'registered' && run && (run.state === 'updating' || run.state === 'downloaded')) {
        // A device registers again after installing (a reboot): its observation is gone, ask it directly.
        await this.refresh(c, run.endpoint);
      }
    }
  }

  /** Starts as many due devices as the policy allows now. */
  fill(id: string): Promise<void> {
    const running = this.filling.get(id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await this.fillOnce(id);
        } while (entry.again);
      } finally {
        this.filling.delete(id);
      }
    })();
    this.filling.set(id, entry);
    return entry.done;
  }

  private kick(id: string): void {
    this.fill(id).catch((err) => this.opts.onError?.(err));
  }

  private async fillOnce(id: string): Promise<void> {
    const c = await this.opts.store.get(id);
    const now = this.now();
    if (!c || !mayStart(c, now)) return;
    const counts = await this.opts.store.counts(id);
    let room = c.policy.maxConcurrent - active(counts.all);
    if (room <= 0) return;
    const due = await this.opts.store.due(id, c.phase === 'canary', now, room * 2 + 10);
    const starts: Promise<void>[] = [];
    for (const ep of due) {
      if (room <= 0) break;
      const reach = await this.opts.devices.reachability(ep);
      // Stamped when decided, not when this pass began: the loop awaits Redis per device, and a start
      // recorded before the Update that made the device reachable would misstate the order (and cut the
      // device's deadline short).
      const at = this.now();
      if (reach !== 'reachable') {
        await this.transition(c, ep, (r) =>
          r.state === 'pending'
            ? {
                run: {
                  ...r,
                  asleep: true,
                  notBefore: at + (this.opts.asleepRecheckMs ?? 60_000),
                  updatedAt: at,
                },
              }
            : undefined,
        );
        continue;
      }
      const claim = { maxActive: c.policy.maxConcurrent, perMinute: c.policy.perMinute };
      const out = await this.transition(
        c,
        ep,
        (r) => {
          if (r.state !== 'pending') return undefined;
          const { asleep: _a, notBefore: _n, ...rest } = r;
          return {
            run: {
              ...rest,
              state: 'starting',
              attempts: r.attempts + 1,
              startedAt: at,
              deadline: at + c.policy.deviceTimeoutS * 1000,
              updatedAt: at,
            },
          };
        },
        claim,
        STARTS,
      );
      if (out === 'full' || out === 'rate' || out === 'stopped') break;
      if (out && typeof out === 'object') {
        room--;
        starts.push(this.startAttempt(c, out.endpoint));
      }
    }
    await Promise.all(starts);
  }

  /** Observe /5/0, then record the write's intent, then write the package or its URI (TS 1.2 Core E.6). */
  private async startAttempt(c: Campaign, ep: string): Promise<void> {
    const o = updateObjectOf(c);
    const obs = await this.opts.devices.run(ep, { op: 'observe', path: o.instancePath });
    if (!obs.ok) {
      if (obs.status === 504 && (await this.opts.devices.reachability(ep)) !== 'reachable') {
        // It fell asleep before the first command: not an attempt; started when it wakes.
        await this.transition(c, ep, (r) =>
          r.state === 'starting' && r.writtenAt === undefined
            ? { run: asleepAgain(r, this.now()) }
            : undefined,
        );
        return;
      }
      await this.failStep(c, ep, `observe ${o.instancePath}`, obs);
      return;
    }
    if (
      o.object === 9 &&
      obs.values?.some((v) => v.path === `${o.instancePath}/7` && Number(v.value) === 4)
    ) {
      // 9.xml: an INSTALLED instance takes no new package until it is uninstalled (a pull would be ignored).
      if (obs.observationId)
        await this.opts.devices.run(ep, { op: 'cancel-observation', observationId: obs.observationId });
      await this.transition(c, ep, (r) =>
        r.state === 'starting' && r.writtenAt === undefined
          ? failAttempt(
              r,
              { error: `${o.instancePath} is INSTALLED: Uninstall it (/9/x/6) first`, retryable: false },
              c.policy,
              this.now(),
              this.random,
            )
          : undefined,
      );
      return;
    }
    const write = this.writeCommand(c);
    const marked = await this.transition(
      c,
      ep,
      (r) =>
        r.state === 'starting' && r.writtenAt === undefined
          ? {
              run: {
                ...r,
                writtenAt: this.now(),
                updatedAt: this.now(),
                ...(obs.observationId ? { observationId: obs.observationId } : {}),
              },
            }
          : undefined,
      undefined,
      LIVE,
    );
    if (!marked || typeof marked !== 'object') {
      // Another process took this step, or the campaign was cancelled (nothing is written then): an
      // observation made for a run that is over is not kept.
      const now = await this.opts.store.getRun(c.id, ep);
      if (obs.observationId && (!now || !isActive(now.state) || now.observationId !== obs.observationId)) {
        await this.opts.devices.run(ep, { op: 'cancel-observation', observationId: obs.observationId });
      }
      if (marked === 'stopped') await this.settle(c.id);
      return;
    }
    const res = await this.opts.devices.run(ep, write);
    const after = await this.opts.store.getRun(c.id, ep);
    if (after?.state === 'cancelled' && after.interrupted !== undefined) {
      // The cancel's reset may have reached the device before this write (or the push began after the
      // abort): the device owes a reset again, now that the write was answered.
      const owed = await this.transition(c, ep, (r) =>
        r.state === 'cancelled' && r.interrupted !== undefined ? { run: oweReset(r, this.now()) } : undefined,
      );
      if (owed && typeof owed === 'object') {
        // The campaign may have ended meanwhile (its last reset acknowledged): ticked again until this one is.
        await this.opts.store.reopen(c.id);
        await this.sendReset(c, ep);
        await this.settle(c.id);
      }
      return;
    }
    if (!res.ok) await this.failStep(c, ep, `write ${write.path}`, res);
  }

  /** Pull: write the Package URI (/5/0/1). Push: the gateway holding the device writes the image to /5/0/0
   * block-wise (libs/firmware, the `firmware-push` command: answered at once, resumable). */
  private writeCommand(c: Campaign): CampaignCommand {
    const o = updateObjectOf(c);
    if (c.mode === 'pull') {
      return {
        op: 'write',
        path: o.packageUriPath,
        values: [{ path: o.packageUriPath, type: 'string', value: c.packageUri ?? '' }],
      };
    }
    return { op: 'firmware-push', path: o.packagePath, imageId: c.imageId };
  }

  /**
   * TS 1.2 Core E.6: writing an empty Package URI (pull) or an empty Package (push) resets the state machine
   * to Idle and cancels the download. A push is stopped first (the gateway answers once no block follows).
   * A queue-mode device that sleeps gets the reset queued: delivered when it wakes (Core 6.5).
   */
  private async resetDevice(c: Campaign, ep: string): Promise<{ ok: true } | { ok: false; error: string }> {
    const devices = this.opts.devices;
    const o = updateObjectOf(c);
    if (c.mode === 'push') {
      const r = await devices.run(ep, { op: 'firmware-push-abort', imageId: c.imageId });
      if (!r.ok)
        this.opts.onError?.(new Error(`campaign ${c.id}: ${ep}: push not aborted: ${r.error ?? r.status}`));
    }
    const reset: CampaignCommand =
      c.mode === 'pull'
        ? {
            op: 'write',
            path: o.packageUriPath,
            values: [{ path: o.packageUriPath, type: 'string', value: '' }],
          }
        : // As octet-stream (42): the empty payload is the empty Package (another format would carry bytes).
          {
            op: 'write',
            path: o.packagePath,
            contentFormat: 42,
            values: [{ path: o.packagePath, type: 'opaque', value: '' }],
          };
    const queue = async (): Promise<{ ok: true } | { ok: false; error: string }> => {
      const q = await devices.queue?.(ep, reset);
      return q?.ok ? { ok: true } : { ok: false, error: `sleeps; not queued: ${q?.error ?? 'no queue'}` };
    };
    if ((await devices.reachability(ep)) === 'asleep') return queue();
    const res = await devices.run(ep, reset);
    if (res.ok) return { ok: true };
    if (res.status === 504 && res.coapCode === undefined && (await devices.reachability(ep)) === 'asleep')
      return queue();
    return { ok: false, error: `${reset.path}: ${res.coapCode ?? res.error ?? res.status}` };
  }

  /**
   * Sends the reset the run owes, if it is due: the attempt is claimed first (compare-and-set: one process
   * sends it), then its outcome stored: acknowledged or queued clears the debt, the last attempt's failure
   * gives it up. Once nothing is owed the device leaves the campaign (it may join another).
   */
  private async sendReset(c: Campaign, ep: string): Promise<void> {
    const claim = await this.transition(c, ep, (r) =>
      claimReset(r, this.now(), this.opts.redriveAfterMs ?? 30_000),
    );
    if (!claim || typeof claim !== 'object') return;
    let outcome: { ok: true } | { ok: false; error: string };
    try {
      // Owed again after the device left this campaign (a write answered late) and another took it: that
      // campaign's own write replaces the package; a reset now would cancel its download. Nothing to send.
      const owner = await this.opts.store.campaignOf(ep);
      outcome = owner !== undefined && owner !== c.id ? { ok: true } : await this.resetDevice(c, ep);
    } catch (err) {
      outcome = { ok: false, error: String(err) };
    }
    const max = this.opts.resetAttempts ?? RESET_ATTEMPTS;
    if (!outcome.ok) {
      this.opts.onError?.(
        new Error(
          `campaign ${c.id}: ${ep}: reset attempt ${claim.resetAttempts}/${max} failed: ${outcome.error}`,
        ),
      );
    }
    const out = await this.transition(c, ep, (r) => resetOutcome(r, claim, outcome, max, this.now()));
    if (out && typeof out === 'object' && !out.resetPending && isFinalRun(out.state))
      await this.opts.store.release(c.id, [ep]);
  }

  /** Owed resets that are due (their process stopped, or the last attempt failed): sent again. */
  private async redriveResets(c: Campaign, now: number): Promise<void> {
    const eps = await this.opts.store.resetsDue(c.id, now, 500);
    for (let i = 0; i < eps.length; i += RESET_PARALLEL) {
      await Promise.all(
        eps
          .slice(i, i + RESET_PARALLEL)
          .map((ep) => this.sendReset(c, ep).catch((err) => this.opts.onError?.(err))),
      );
    }
  }

  /** The campaign was cancelled or aborted: its devices in flight not told to install are interrupted. */
  private async interruptInFlight(c: Campaign, reason: string): Promise<void> {
    const eps = await this.opts.store.activeEndpoints(c.id, 100_000);
    for (let i = 0; i < eps.length; i += RESET_PARALLEL) {
      await Promise.all(
        eps
          .slice(i, i + RESET_PARALLEL)
          .map((ep) =>
            this.transition(c, ep, (r) => onInterrupt(r, reason, this.now()), undefined, undefined, true),
          ),
      );
    }
  }

  private async failStep(
    c: Campaign,
    ep: string,
    what: string,
    res: { status: number; coapCode?: string; error?: string },
  ): Promise<void> {
    await this.transition(c, ep, (r) =>
      isActive(r.state) ? onCommandFailure(r, what, res, c.policy, this.now(), this.random) : undefined,
    );
  }

  private async execute(c: Campaign, ep: string): Promise<void> {
    const path = updateObjectOf(c).executePath;
    const res = await this.opts.devices.run(ep, { op: 'execute', path });
    if (!res.ok) await this.failStep(c, ep, `execute ${path}`, res);
  }

  /** Reads /5/0 and applies it (after a re-registration), and observes it again. */
  private async refresh(c: Campaign, ep: string): Promise<void> {
    const o = updateObjectOf(c);
    const read = await this.opts.devices.run(ep, { op: 'read', path: o.instancePath });
    if (!read.ok) return; // the deadline decides
    const report = o.report(read.values);
    const out = await this.transition(c, ep, (r) => onReport(r, report, c.policy, this.now(), this.random));
    if (out && typeof out === 'object' && isActive(out.state)) {
      const obs = await this.opts.devices.run(ep, { op: 'observe', path: o.instancePath });
      if (obs.ok && obs.observationId) {
        await this.transition(c, ep, (r) =>
          isActive(r.state)
            ? { run: { ...r, observationId: obs.observationId, updatedAt: this.now() } }
            : undefined,
        );
      }
    }
  }

  /** Steps a stopped process left undone: a start whose write was never sent, an Execute never sent. */
  private async redrive(c: Campaign, now: number): Promise<void> {
    const after = this.opts.redriveAfterMs ?? 30_000;
    for (const ep of await this.opts.store.activeEndpoints(c.id, 10_000)) {
      const run = await this.opts.store.getRun(c.id, ep);
      if (!run || now - run.updatedAt < after) continue;
      if (run.state === 'starting' && run.writtenAt === undefined) {
        // Touch it first (compare-and-set), so one process re-drives it.
        const t = await this.transition(c, ep, (r) =>
          r.rev === run.rev ? { run: { ...r, updatedAt: now } } : undefined,
        );
        if (t && typeof t === 'object') await this.startAttempt(c, ep);
      } else if (run.state === 'downloaded' && run.executedAt !== undefined) {
        // Only while the campaign is live: after a cancel nothing is executed; the attempt ends as the
        // device reports (it got the Execute) or at its deadline.
        const t = await this.transition(
          c,
          ep,
          (r) => (r.rev === run.rev ? { run: { ...r, executedAt: now, updatedAt: now } } : undefined),
          undefined,
          LIVE,
        );
        if (t && typeof t === 'object') await this.execute(c, ep);
      }
    }
  }

  /** Applies the canary gate, the abort threshold, the window, and the end. */
  async settle(id: string): Promise<void> {
    const c = await this.opts.store.get(id);
    if (!c) return;
    if (c.endedAt !== undefined) {
      // Reopened for a reset owed after its end (a write answered after the cancel): retired once settled.
      if ((await this.opts.store.resets(id)).owed === 0) await this.opts.store.retire(id);
      return;
    }
    const now = this.now();
    const v = evaluate(c, await this.opts.store.counts(id), now);
    if (v.phase && (await this.opts.store.update(id, ['running', 'paused'], { phase: v.phase }, now))) {
      await this.publish({
        type: 'campaign',
        endpoint: '',
        campaignId: id,
        phase: v.phase,
        campaignState: c.state,
      });
      this.kick(id);
    }
    if (v.state && v.state !== c.state) {
      const ok = await this.opts.store.update(
        id,
        ['running', 'paused'],
        { state: v.state, ...(v.reason ? { reason: v.reason } : {}) },
        now,
      );
      if (ok) {
        await this.publish({
          type: 'campaign',
          endpoint: '',
          campaignId: id,
          campaignState: v.state,
          ...(v.reason ? { reason: v.reason } : {}),
        });
      }
    }
    if (v.cancelPending) await this.cancelPending(c, v.reason ?? c.reason ?? 'campaign stopped');
    const stopped = v.state === 'aborted' || v.state === 'cancelled' ? v.state : c.state;
    if (stopped === 'aborted' || stopped === 'cancelled') {
      const why = v.reason ?? c.reason ?? `the campaign was ${stopped}`;
      await this.interruptInFlight(c, `campaign ${stopped}: ${why}`);
    }
    if (v.ended || v.cancelPending || isCampaignOver(stopped)) {
      const after = await this.opts.store.get(id);
      const counts = await this.opts.store.counts(id);
      // Not while a reset is owed: the campaign is over once its devices are left where it says.
      const owed = (await this.opts.store.resets(id)).owed;
      if (
        after &&
        after.endedAt === undefined &&
        active(counts.all) === 0 &&
        counts.all.pending === 0 &&
        owed === 0
      ) {
        const state = after.state === 'running' || after.state === 'paused' ? 'completed' : after.state;
        await this.opts.store.update(id, [after.state], { state, endedAt: now }, now);
        await this.opts.store.retire(id);
        await this.publish({
          type: 'campaign',
          endpoint: '',
          campaignId: id,
          campaignState: state,
          ended: true,
        });
      }
    }
  }

  private async cancelPending(c: Campaign, reason: string): Promise<void> {
    for (const canary of [true, false]) {
      for (;;) {
        const eps = await this.opts.store.due(c.id, canary, Number.MAX_SAFE_INTEGER, 500);
        if (eps.length === 0) break;
        for (const ep of eps) {
          await this.transition(c, ep, (r) =>
            r.state === 'pending'
              ? {
                  run: { ...withoutWait(r), state: 'cancelled', error: reason, updatedAt: this.now() },
                  action: 'release',
                }
              : undefined,
          );
        }
      }
    }
  }

  /**
   * Stores the mutator's decision (compare-and-set, re-read on conflict), then acts on it. Returns the stored
   * run, 'full'/'rate' when a claim found no room, or undefined when nothing changed.
   */
  private async transition(
    c: Campaign,
    ep: string,
    mutate: Mutator,
    claim?: { maxActive: number; perMinute: number },
    live?: readonly CampaignState[],
    quiet = false,
  ): Promise<DeviceRun | 'full' | 'rate' | 'stopped' | undefined> {
    let stopped = false;
    for (let i = 0; i < 20; i++) {
      const run = await this.opts.store.getRun(c.id, ep);
      if (!run) return undefined;
      let d = mutate(run);
      if (!d) return undefined;
      if (d.action === 'execute' && stopped) {
        // The campaign was cancelled since it was read: the device's Downloaded is recorded, never executed
        // (the cancel's interruption resets it).
        const { executedAt: _e, ...rest } = d.run;
        d = { run: rest };
      }
      const guard = live ?? (d.action === 'execute' ? LIVE : undefined);
      const next: DeviceRun = { ...d.run, rev: run.rev + 1 };
      const r = await this.opts.store.casRun(c.id, next, claim, guard);
      if (r === 'full' || r === 'rate') return r;
      if (r === 'missing') return undefined;
      if (r === 'conflict') continue;
      if (r === 'stopped') {
        if (d.action !== 'execute') return 'stopped';
        stopped = true;
        continue;
      }
      await this.after(c, run, next, d.action, quiet);
      if (stopped) await this.settle(c.id);
      return next;
    }
    this.opts.onError?.(new Error(`campaign ${c.id}: ${ep} kept changing; transition dropped`));
    return undefined;
  }

  /** What follows a stored transition: its event, the action, and on a final state the next starts. */
  private async after(
    c: Campaign,
    before: DeviceRun,
    run: DeviceRun,
    action?: Decision['action'],
    quiet = false,
  ): Promise<void> {
    if (before.state !== run.state) {
      await this.publish({
        type: 'campaign',
        endpoint: run.endpoint,
        campaignId: c.id,
        state: run.state,
        from: before.state,
        attempt: run.attempts,
        ...(run.resultCode !== undefined ? { resultCode: run.resultCode } : {}),
        ...(run.error && !isActive(run.state) && run.state !== 'succeeded' ? { error: run.error } : {}),
      });
    }
    if (action === 'execute') await this.execute(c, run.endpoint);
    const activate = updateObjectOf(c).activatePath;
    if (activate && run.state === 'succeeded' && before.state !== 'succeeded') {
      // Object 9: the installed software is activated (9.xml resource 10); the run stays succeeded (it is
      // installed), a refused Activate is noted in its error.
      const res = await this.opts.devices.run(run.endpoint, { op: 'execute', path: activate });
      if (!res.ok) {
        await this.transition(c, run.endpoint, (r) =>
          r.state === 'succeeded' && r.error === undefined
            ? {
                run: {
                  ...r,
                  error: `installed; Activate ${activate}: ${res.coapCode ?? res.error ?? res.status}`,
                  updatedAt: this.now(),
                },
              }
            : undefined,
        );
      }
    }
    if (action === 'interrupt') await this.sendReset(c, run.endpoint);
    if (action === 'release' || action === 'interrupt') {
      if (before.observationId) {
        await this.opts.devices.run(run.endpoint, {
          op: 'cancel-observation',
          observationId: before.observationId,
        });
      }
      // A device owing a reset stays the campaign's (sendReset releases it once the debt is settled).
      if (isFinalRun(run.state) && !run.resetPending) await this.opts.store.release(c.id, [run.endpoint]);
      // quiet: the caller (settle's interruption pass) checks the end itself once all are done.
      if (!isActive(run.state) && !quiet) {
        await this.settle(c.id);
        this.kick(c.id);
      }
    }
  }

  private async publish(e: Extract<Lwm2mEvent, { type: 'campaign' }>): Promise<void> {
    await this.opts.events?.publish(e).catch((err) => this.opts.onError?.(err));
  }
}

function withoutWait(r: DeviceRun): DeviceRun {
  const { asleep: _a, notBefore: _n, ...rest } = r;
  return rest;
}

function asleepAgain(r: DeviceRun, now: number): DeviceRun {
  const { startedAt: _s, deadline: _d, observationId: _o, ...rest } = r;
  return {
    ...rest,
    state: 'pending',
    attempts: r.attempts - 1,
    asleep: true,
    notBefore: now + 60_000,
    updatedAt: now,
  };
}
