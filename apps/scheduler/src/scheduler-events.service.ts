// Turns the event stream into scheduler work (consumer group "scheduler": each event handled by one replica):
//   registered          -> re-establish the observations the endpoint lost (to this re-registration, or kept
//                          from an earlier expiry), then flush its queue (the Register opened its awake window)
//   updated, awake      -> flush the device's queue when it has one (TS 1.2 Core 6.5: the device is reachable)
//   expired             -> keep its lost observations for its next registration (REOBSERVE_TTL_S)
//   request (queued)    -> flush now if the device is awake; schedule the wake-up check
//   NOTIFY_EVENT_TYPES  -> one webhook job per subscriber
// Pending requests of an expired or replaced registration stay queued for the next registration of the same
// endpoint, until their time-to-live.
import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventStreamConsumer } from '@lwm2m/scheduler';
import type { DeviceOperation, LostObservation, StoredEvent } from '@lwm2m/server';
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
    switch (e.type) {
      case 'registered': {
        const lost = [
          ...(e.cancelledObservations ?? []),
          ...(await this.ports.requests.takeLostObservations(e.endpoint)),
        ];
        for (const o of lost) await this.reobserve(e.endpoint, o);
        if (await this.ports.requests.hasPending(e.endpoint)) await this.flush(e.endpoint);
        break;
      }
      case 'updated':
      case 'awake':
        if (await this.ports.requests.hasPending(e.endpoint)) await this.flush(e.endpoint);
        break;
      case 'expired':
        await this.ports.requests.keepLostObservations(
          e.endpoint,
          e.cancelledObservations ?? [],
          Math.ceil(this.config.reobserveTtlMs / 1000),
        );
        break;
      case 'request':
        if (e.state === 'queued') {
          await this.flush(e.endpoint);
          if (this.config.wakeUp) {
            await this.wakeups.add(
              'wake',
              { endpoint: e.endpoint },
              {
                delay: this.config.wakeUp.afterMs,
                jobId: `wake-${endpointJobKey(e.endpoint)}-${e.requestId}`,
                attempts: 5,
                backoff: { type: 'exponential', delay: 2000 },
                removeOnComplete: true,
                removeOnFail: 1000,
              },
            );
          }
        }
        break;
      default:
        break;
    }
    if (this.config.notify.urls.length > 0 && this.config.notify.eventTypes.includes(e.type)) {
      for (let i = 0; i < this.config.notify.urls.length; i++) {
        await this.notify.add(
          'notify',
          { subscriber: i, event: e },
          {
            jobId: `n-${i}-${e.id}`,
            attempts: this.config.notify.attempts,
            backoff: { type: 'exponential', delay: 1000 },
            // Completed ids are kept a little while so an event handled twice is not posted twice.
            removeOnComplete: { age: 300, count: 10_000 },
            removeOnFail: { age: 86400, count: 10_000 },
          },
        );
      }
    }
  }

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

  /** A lost observation becomes a queued request of the device (ordered, retried, with a TTL). */
  private async reobserve(endpoint: string, o: LostObservation): Promise<void> {
    const now = Date.now();
    const op: DeviceOperation = o.composite ? 'observe-composite' : 'observe';
    const id = `reobs-${o.id}`;
    const added = await this.ports.requests.enqueue({
      id,
      endpoint,
      command: {
        id,
        endpoint,
        op,
        ...(o.composite ? { paths: o.paths } : { path: o.paths[0]! }),
        ...(o.contentFormat !== undefined ? { contentFormat: o.contentFormat } : {}),
        timeoutMs: this.config.deliveryTimeoutMs,
      },
      origin: 'reobserve',
      previousObservationId: o.id,
      acceptedAt: now,
      expiresAt: now + this.config.reobserveTtlMs,
    });
    if (added === 'added') {
      await this.ports.events.publish({ type: 'request', endpoint, requestId: id, op, state: 'queued' });
    }
  }
}
