// The scheduler as a dynamic module: the single-node start and the standalone main pass the shared state and a
// validated config. BullMQ runs on the same Redis (its keys under "bull:").
import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import { DeliveryEngine, WebhookWakeUpChannel } from '@lwm2m/scheduler';
import { redisOptions } from '@lwm2m/registry';
import type { RedisOptions } from 'ioredis';
import { DeliveryProcessor } from './delivery.processor';
import { MaintenanceProcessor } from './maintenance.processor';
import { NotifyProcessor } from './notify.processor';
import { SchedulerEventsService } from './scheduler-events.service';
import {
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

@Module({})
export class SchedulerModule {
  static forRoot(opts: { ports: SchedulerPorts; config: SchedulerConfig; redisUrl: string }): DynamicModule {
    const { config, ports } = opts;
    const engine = new DeliveryEngine({
      store: ports.requests,
      registrations: ports.registrations,
      commands: ports.commands,
      events: ports.events,
      policy: {
        maxAttempts: config.retryMaxAttempts,
        backoffBaseMs: config.retryBackoffMs,
        backoffMaxMs: config.retryBackoffMaxMs,
      },
      awakeWindowMs: config.awakeWindowMs,
      graceMs: config.deliveryGraceMs,
    });
    const channel = config.wakeUp
      ? new WebhookWakeUpChannel(
          { url: config.wakeUp.url, ...(config.wakeUp.secret ? { secret: config.wakeUp.secret } : {}) },
          config.wakeUp.timeoutMs,
        )
      : undefined;
    return {
      module: SchedulerModule,
      imports: [
        BullModule.forRoot({ connection: bullConnection(opts.redisUrl) }),
        BullModule.registerQueue(
          { name: DELIVERY_QUEUE },
          { name: MAINTENANCE_QUEUE },
          { name: WAKEUP_QUEUE },
          { name: NOTIFY_QUEUE },
        ),
      ],
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: config },
        { provide: SCHEDULER_PORTS, useValue: ports },
        { provide: DELIVERY_ENGINE, useValue: engine },
        { provide: WAKE_UP_CHANNEL, useValue: { channel } },
        DeliveryProcessor,
        MaintenanceProcessor,
        WakeUpProcessor,
        NotifyProcessor,
        SchedulerEventsService,
      ],
    };
  }
}
