// BullMQ's queues and workers emit 'error' on every failed reconnect while Redis is gone; without a listener
// BullMQ prints each one raw to stderr (its emit() falls back to console.error). One listener per queue and
// worker turns them into a warning, rate-limited per message (libs/config RateLimitedLog).
import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { RateLimitedLog } from '@lwm2m/config';
import type { Queue } from 'bullmq';
import { CampaignsProcessor } from './campaigns.processor';
import { DeliveryProcessor } from './delivery.processor';
import { MaintenanceProcessor } from './maintenance.processor';
import { NotifyProcessor } from './notify.processor';
import { CAMPAIGNS_QUEUE, DELIVERY_QUEUE, MAINTENANCE_QUEUE, NOTIFY_QUEUE, WAKEUP_QUEUE } from './tokens';
import { WakeUpProcessor } from './wakeup.processor';

@Injectable()
export class BullErrorListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('scheduler');
  private readonly log = new RateLimitedLog((line) => this.logger.warn(line));

  constructor(
    @InjectQueue(DELIVERY_QUEUE) private readonly delivery: Queue,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly maintenance: Queue,
    @InjectQueue(WAKEUP_QUEUE) private readonly wakeup: Queue,
    @InjectQueue(NOTIFY_QUEUE) private readonly notify: Queue,
    @InjectQueue(CAMPAIGNS_QUEUE) private readonly campaigns: Queue,
    // Explicit tokens: under tsx (esbuild, no decorator metadata) class-typed parameters are not injected.
    @Inject(DeliveryProcessor) private readonly deliveryWorker: DeliveryProcessor,
    @Inject(MaintenanceProcessor) private readonly maintenanceWorker: MaintenanceProcessor,
    @Inject(WakeUpProcessor) private readonly wakeupWorker: WakeUpProcessor,
    @Inject(NotifyProcessor) private readonly notifyWorker: NotifyProcessor,
    @Inject(CampaignsProcessor) private readonly campaignsWorker: CampaignsProcessor,
  ) {}

  onApplicationBootstrap(): void {
    const report = (err: Error) => this.report(err);
    for (const q of [this.delivery, this.maintenance, this.wakeup, this.notify, this.campaigns])
      q.on('error', report);
    for (const p of [
      this.deliveryWorker,
      this.maintenanceWorker,
      this.wakeupWorker,
      this.notifyWorker,
      this.campaignsWorker,
    ]) {
      p.worker.on('error', report);
    }
  }

  private report(err: Error): void {
    this.log.log(err.message, `BullMQ: ${err.message}`);
  }

  onApplicationShutdown(): void {
    this.log.close();
  }
}
