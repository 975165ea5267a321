// Flushes one device's queue per job. The queue's global rate limit (DELIVERY_RATE_PER_S, shared by every
// replica through Redis) smooths the follow-up work of a registration storm: re-observations and queued
// requests start at that rate whatever the number of devices that came back at once.
import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { DeliveryEngine } from '@lwm2m/scheduler';
import type { Job, Queue } from 'bullmq';
import {
  DELIVERY_ENGINE,
  DELIVERY_QUEUE,
  endpointJobKey,
  SCHEDULER_CONFIG,
  type SchedulerConfig,
} from './tokens';

export interface FlushJob {
  endpoint: string;
}

@Processor(DELIVERY_QUEUE)
export class DeliveryProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger('scheduler');

  constructor(
    @Inject(DELIVERY_ENGINE) private readonly engine: DeliveryEngine,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @InjectQueue(DELIVERY_QUEUE) private readonly queue: Queue<FlushJob>,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    this.worker.concurrency = this.config.deliveryConcurrency;
    await this.queue.setGlobalRateLimit(this.config.deliveryRatePerSecond, 1000);
  }

  async process(job: Job<FlushJob>): Promise<unknown> {
    const { endpoint } = job.data;
    const r = await this.engine.flush(endpoint);
    if (r.at !== undefined) {
      // Backoff or an attempt in flight: look again then (one job per device and instant).
      const delay = Math.max(0, r.at - Date.now());
      await this.queue.add(
        'flush',
        { endpoint },
        {
          delay,
          jobId: `flush-${endpointJobKey(endpoint)}-${r.at}`,
          attempts: 10,
          backoff: { type: 'exponential', delay: 500 },
          removeOnComplete: true,
          removeOnFail: 1000,
        },
      );
    }
    if (r.finished > 0) this.logger.debug(`${endpoint}: ${r.finished} request(s) finished, stop: ${r.stop}`);
    return r;
  }
}
