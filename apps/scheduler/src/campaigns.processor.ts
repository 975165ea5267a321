// Firmware campaigns (libs/campaigns) in the scheduler: a BullMQ job scheduler ticks every unfinished campaign
// (timeouts, re-driven steps, canary gate, abort threshold, starts) on one replica at a time, and the
// consumer group "campaigns" on the event stream turns the devices' /5/0/3 and /5/0/5 notifications and their
// wake-ups into transitions. State is in Redis and the job scheduler too: a campaign survives a restart of
// every app.
import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { type CampaignEngine, isCampaignEvent } from '@lwm2m/campaigns';
import { EventStreamConsumer } from '@lwm2m/scheduler';
import type { Queue } from 'bullmq';
import {
  CAMPAIGN_ENGINE,
  CAMPAIGNS_QUEUE,
  SCHEDULER_CONFIG,
  SCHEDULER_PORTS,
  type SchedulerConfig,
  type SchedulerPorts,
} from './tokens';

@Processor(CAMPAIGNS_QUEUE)
export class CampaignsProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    @Inject(CAMPAIGN_ENGINE) private readonly engine: CampaignEngine,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @InjectQueue(CAMPAIGNS_QUEUE) private readonly queue: Queue,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      'campaign-tick',
      { every: this.config.campaignTickMs },
      { name: 'tick', opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  async process(): Promise<void> {
    await this.engine.tickAll();
  }
}

@Injectable()
export class CampaignEventsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('campaigns');
  private consumer?: EventStreamConsumer;

  constructor(
    @Inject(CAMPAIGN_ENGINE) private readonly engine: CampaignEngine,
    @Inject(SCHEDULER_PORTS) private readonly ports: SchedulerPorts,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new EventStreamConsumer({
      redis: this.ports.redis,
      stream: this.ports.eventStream,
      group: this.ports.campaigns.keys.eventGroup,
      reclaimIdleMs: this.config.eventReclaimMs,
      handle: (e) => this.engine.onEvent(e),
      // Events of one device are handled in stream order; devices of a batch in parallel.
      handleBatch: async (events) => {
        const byDevice = new Map<string, typeof events>();
        for (const e of events) {
          if (!isCampaignEvent(e)) continue;
          const list = byDevice.get(e.endpoint) ?? [];
          list.push(e);
          byDevice.set(e.endpoint, list);
        }
        const failed: string[] = [];
        await Promise.all(
          [...byDevice.values()].map(async (list) => {
            for (const e of list) {
              try {
                await this.engine.onEvent(e);
              } catch (err) {
                this.logger.warn(`campaign event ${e.type} of ${e.endpoint} failed: ${String(err)}`);
                failed.push(e.id);
              }
            }
          }),
        );
        return failed;
      },
      onError: (err) => this.logger.warn(`campaign events: ${String(err)}`),
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
