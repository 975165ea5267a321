// Turns the event stream into scheduler work (consumer group "scheduler": each event handled by one replica),
// by the rules of libs/scheduler handleSchedulerEvent, carried by BullMQ jobs (retried, rate limited, delayed).
import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  EventStreamConsumer,
  handleSchedulerEvent,
  handleSchedulerEvents,
  type SchedulerSignals,
} from '@lwm2m/scheduler';
import type { StoredEvent } from '@lwm2m/server';
import type { Queue } from 'bullmq';
import type { FlushJob } from './delivery.processor';
import type { NotifyJob } from './notify.processor';
import {
  DELIVERY_QUEUE,
  endpointJobKey,
  NOTIFY_QUEUE,
  SCHEDULER_CONFIG,
  SCHEDULER_PORTS,
  type SchedulerConfig,
  type SchedulerPorts,
  WAKEUP_QUEUE,
} from './tokens';
import type { WakeJob } from './wakeup.processor';

@Injectable()
export class SchedulerEventsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('scheduler');
  private consumer?: EventStreamConsumer;

  constructor(
    @Inject(SCHEDULER_PORTS) private readonly ports: SchedulerPorts,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @InjectQueue(DELIVERY_QUEUE) private readonly delivery: Queue<FlushJob>,
    @InjectQueue(WAKEUP_QUEUE) private readonly wakeups: Queue<WakeJob>,
    @InjectQueue(NOTIFY_QUEUE) private readonly notify: Queue<NotifyJob>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new EventStreamConsumer({
      redis: this.ports.redis,
      stream: this.ports.eventStream,
      group: this.ports.requests.keys.eventGroup,
      reclaimIdleMs: this.config.eventReclaimMs,
      handle: (e) => this.handle(e),
      // The store is read once per batch, not once per event (issue 12 item 5).
      handleBatch: async (events) => {
        const failed = await handleSchedulerEvents(events, this.deps());
        for (const f of failed) this.logger.warn(`event handling failed: ${String(f.error)}`);
        return failed.map((f) => f.event.id);
      },
      onError: (err) => this.logger.warn(`event handling failed: ${String(err)}`),
    });
    await this.consumer.start();
    // Start-up reconcile: devices with unfinished requests get a flush (it resolves attempts a stopped
    // scheduler left in flight, and waits for the device when it sleeps).
    for (const endpoint of await this.ports.requests.endpointsWithPending()) await this.flush(endpoint);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  async handle(e: StoredEvent): Promise<void> {
    await handleSchedulerEvent(e, this.deps());
  }

  private deps() {
    return {
      requests: this.ports.requests,
      events: this.ports.events,
      config: this.config,
      signals: this.signals,
    };
  }

  private readonly signals: SchedulerSignals = {
    flush: (endpoint) => this.flush(endpoint),
    wakeLater: async (endpoint, requestId) => {
      await this.wakeups.add(
        'wake',
        { endpoint },
        {
          delay: this.config.wakeUp?.afterMs ?? 0,
          jobId: `wake-${endpointJobKey(endpoint)}-${requestId}`,
          attempts: 5,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: true,
          removeOnFail: 1000,
        },
      );
    },
    notify: async (subscriber, event) => {
      await this.notify.add(
        'notify',
        { subscriber, event },
        {
          jobId: `n-${subscriber}-${event.id}`,
          attempts: this.config.notify.attempts,
          backoff: { type: 'exponential', delay: 1000 },
          // Completed ids are kept a little while so an event handled twice is not posted twice.
          removeOnComplete: { age: 300, count: 10_000 },
          removeOnFail: { age: 86400, count: 10_000 },
        },
      );
    },
  };

  private async flush(endpoint: string): Promise<void> {
    // Retried: a flush that fails on a Redis outage runs again once Redis is back.
    await this.delivery.add(
      'flush',
      { endpoint },
      {
        attempts: 10,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    );
  }
}
