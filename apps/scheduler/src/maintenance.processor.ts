// The TTL sweep: a BullMQ job scheduler runs it every SWEEP_INTERVAL_MS on one replica at a time.
import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, type OnApplicationBootstrap } from '@nestjs/common';
import type { DeliveryEngine } from '@lwm2m/scheduler';
import type { Queue } from 'bullmq';
import { DELIVERY_ENGINE, MAINTENANCE_QUEUE, SCHEDULER_CONFIG, type SchedulerConfig } from './tokens';

@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    @Inject(DELIVERY_ENGINE) private readonly engine: DeliveryEngine,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      'ttl-sweep',
      { every: this.config.sweepIntervalMs },
      { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  async process(): Promise<number> {
    return this.engine.sweep();
  }
}
