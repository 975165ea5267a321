// The scheduler as a dynamic module: the single-node start and the standalone main pass the shared state and a
// validated config. BullMQ runs on the same Redis (its keys under "bull:"; on a Redis Cluster "{bull}:").
import { BullModule, type BullRootModuleOptions } from '@nestjs/bullmq';
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { deliveryEngineFromConfig, QueuedRequests, WebhookWakeUpChannel } from '@lwm2m/scheduler';
import { isCluster, type RedisClient, redisOptions } from '@lwm2m/registry';
import type { RedisOptions } from 'ioredis';
import { campaignEngineFrom } from '@lwm2m/campaigns';
import { BullErrorListener } from './bull-errors';
import { CampaignEventsService, CampaignsProcessor } from './campaigns.processor';
import { DeliveryProcessor } from './delivery.processor';
import { MaintenanceProcessor } from './maintenance.processor';
import { NotifyProcessor } from './notify.processor';
import { SchedulerEventsService } from './scheduler-events.service';
import {
  CAMPAIGN_ENGINE,
  CAMPAIGNS_QUEUE,
  DELIVERY_ENGINE,
  DELIVERY_QUEUE,
  MAINTENANCE_QUEUE,
  NOTIFY_QUEUE,
  SCHEDULER_CONFIG,
  SCHEDULER_PORTS,
  type SchedulerConfig,
  type SchedulerPorts,
  WAKE_UP_CHANNEL,
  WAKEUP_QUEUE,
} from './tokens';
import { WakeUpProcessor } from './wakeup.processor';

/** ioredis options for BullMQ (REDIS_URL, and Sentinel when configured); workers need maxRetriesPerRequest: null. */
export function bullConnection(url: string): RedisOptions {
  return { ...redisOptions(url), maxRetriesPerRequest: null };
}

/** The BullMQ key prefix on a Redis Cluster: a hash tag, so each queue's Lua scripts stay in one slot. */
export const BULL_CLUSTER_PREFIX = '{bull}';

/**
 * BullMQ's connection and prefix for every queue and worker. A single Redis or Sentinel: BullMQ's own
 * connections from REDIS_URL, keys under the default "bull:" (existing queues keep their data). A Redis
 * Cluster: BullMQ needs a Cluster client, so it shares the registry's (closed by its owner after the Nest
 * app: BullMQ never closes a connection it was given; workers duplicate it for their blocking reads), and
 * the hash-tagged prefix: BullMQ's scripts touch several keys of a queue, which must share a slot.
 */
export function bullOptions(url: string, redis: RedisClient): BullRootModuleOptions {
  return isCluster(redis)
    ? { connection: redis, prefix: BULL_CLUSTER_PREFIX }
    : { connection: bullConnection(url) };
}

@Module({})
export class SchedulerModule {
  static forRoot(opts: { ports: SchedulerPorts; config: SchedulerConfig; redisUrl: string }): DynamicModule {
    const { config, ports } = opts;
    const engine = deliveryEngineFromConfig(config, {
      store: ports.requests,
      registrations: ports.registrations,
      commands: ports.commands,
      events: ports.events,
    });
    // A cancelled campaign's reset of a sleeping device waits in its request queue (delivered when it wakes).
    const queued = new QueuedRequests({
      store: ports.requests,
      events: ports.events,
      awakeWindowMs: config.awakeWindowMs,
      defaultTtlMs: config.requestTtlMs,
      maxTtlMs: config.maxRequestTtlMs,
    });
    const campaigns = campaignEngineFrom(
      config,
      {
        store: ports.campaigns,
        registrations: ports.registrations,
        commands: ports.commands,
        events: ports.events,
        enqueue: (cmd) => queued.accept(cmd),
      },
      (err) => new Logger('campaigns').warn(String(err)),
    );
    const channel = config.wakeUp
      ? new WebhookWakeUpChannel(
          { url: config.wakeUp.url, ...(config.wakeUp.secret ? { secret: config.wakeUp.secret } : {}) },
          config.wakeUp.timeoutMs,
        )
      : undefined;
    return {
      module: SchedulerModule,
      imports: [
        BullModule.forRoot(bullOptions(opts.redisUrl, ports.redis)),
        BullModule.registerQueue(
          { name: DELIVERY_QUEUE },
          { name: MAINTENANCE_QUEUE },
          { name: WAKEUP_QUEUE },
          { name: NOTIFY_QUEUE },
          { name: CAMPAIGNS_QUEUE },
        ),
      ],
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: config },
        { provide: SCHEDULER_PORTS, useValue: ports },
        { provide: DELIVERY_ENGINE, useValue: engine },
        { provide: WAKE_UP_CHANNEL, useValue: { channel } },
        { provide: CAMPAIGN_ENGINE, useValue: campaigns },
        CampaignsProcessor,
        CampaignEventsService,
        DeliveryProcessor,
        MaintenanceProcessor,
        WakeUpProcessor,
        NotifyProcessor,
        SchedulerEventsService,
        BullErrorListener,
      ],
    };
  }
}
