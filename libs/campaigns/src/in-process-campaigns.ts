// Campaigns without BullMQ: memory mode (`npm start` without Redis). The same CampaignEngine as apps/scheduler,
// driven by a timer where the scheduler has the BullMQ job scheduler `campaign-tick`, and by this process's
// event bus where it has the consumer group `campaigns`. What differs, besides nothing surviving a restart:
// one process, so no replica takes over a tick or an event, and an event whose handling throws is logged,
// not handled again.
import type { CommandBus, DeviceCommand, EventBus, RegistrationStore, StoredEvent } from '@lwm2m/server';
import { CommandBusDevices } from './campaign-devices';
import { CampaignEngine, isCampaignEvent } from './campaign-engine';
import type { CampaignStore } from './campaign-store';

/** The scheduler's campaign settings (CAMPAIGN_*, libs/scheduler SchedulerConfig; AWAKE_WINDOW_MS). */
export interface CampaignTimings {
  awakeWindowMs: number;
  campaignTickMs: number;
  campaignCommandTimeoutMs: number;
  campaignAsleepRecheckMs: number;
  campaignRedriveMs: number;
}

export interface CampaignPorts {
  store: CampaignStore;
  registrations: RegistrationStore;
  commands: CommandBus;
  events: EventBus;
  /** A reset for a device asleep when its campaign was cancelled goes into its request queue (libs/scheduler). */
  enqueue?: (cmd: DeviceCommand) => Promise<unknown>;
}

/** The engine as the scheduler builds it: devices reached through the command bus, its settings. */
export function campaignEngineFrom(
  config: CampaignTimings,
  ports: CampaignPorts,
  onError?: (err: unknown) => void,
): CampaignEngine {
  return new CampaignEngine({
    store: ports.store,
    devices: new CommandBusDevices({
      registrations: ports.registrations,
      commands: ports.commands,
      awakeWindowMs: config.awakeWindowMs,
      timeoutMs: config.campaignCommandTimeoutMs,
      ...(ports.enqueue ? { enqueue: ports.enqueue } : {}),
    }),
    events: ports.events,
    asleepRecheckMs: config.campaignAsleepRecheckMs,
    redriveAfterMs: config.campaignRedriveMs,
    ...(onError ? { onError } : {}),
  });
}

/** How long close() waits for a tick or events in progress (their device commands may wait much longer). */
const CLOSE_WAIT_MS = 1000;

export class InProcessCampaigns {
  readonly engine: CampaignEngine;
  private readonly abort = new AbortController();
  /** Per device: its events, handled one after the other (stream order); devices in parallel. */
  private readonly chains = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private loop?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly opts: CampaignPorts & {
      config: CampaignTimings;
      logger?: { warn(m: string): void };
    },
  ) {
    this.engine = campaignEngineFrom(opts.config, opts, (err) => this.warn(String(err)));
  }

  /** Follows the event bus from now on and ticks every unfinished campaign every campaignTickMs. */
  start(): void {
    const events = this.opts.events.subscribe({ afterId: '$', signal: this.abort.signal });
    this.loop = (async () => {
      for await (const e of events) if (isCampaignEvent(e)) this.handle(e);
    })().catch((err: unknown) => {
      if (!this.stopped) this.warn(`campaign events stopped: ${String(err)}`);
    });
    this.scheduleTick();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    await Promise.race([
      Promise.allSettled([this.loop, this.ticking, ...this.chains.values()]),
      new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref()),
    ]);
  }

  /** One tick at a time: the next is set when this one is done (BullMQ's worker runs one job at a time). */
  private scheduleTick(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.engine
        .tickAll()
        .catch((err: unknown) => this.warn(`campaign tick failed: ${String(err)}`))
        .finally(() => this.scheduleTick());
    }, this.opts.config.campaignTickMs);
    this.timer.unref();
  }

  private handle(e: StoredEvent): void {
    const prev = this.chains.get(e.endpoint) ?? Promise.resolve();
    const next = prev.then(() =>
      this.engine
        .onEvent(e)
        .catch((err: unknown) =>
          this.warn(`campaign event ${e.type} of ${e.endpoint} failed: ${String(err)}`),
        ),
    );
    this.chains.set(e.endpoint, next);
    void next.finally(() => {
      if (this.chains.get(e.endpoint) === next) this.chains.delete(e.endpoint);
    });
  }

  private warn(m: string): void {
    this.opts.logger?.warn(m);
  }
}
