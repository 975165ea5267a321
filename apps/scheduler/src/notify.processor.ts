// Fan-out of events (notifications by default) to the operators' webhook subscribers: one job per event and
// subscriber, retried with exponential backoff. The gateway only ever appends to the event stream, so a slow
// or dead subscriber costs queue entries here, never gateway time.
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { postJson } from '@lwm2m/scheduler';
import type { StoredEvent } from '@lwm2m/server';
import type { Job } from 'bullmq';
import { NOTIFY_QUEUE, SCHEDULER_CONFIG, type SchedulerConfig } from './tokens';

export interface NotifyJob {
  subscriber: number;
  event: StoredEvent;
}

@Processor(NOTIFY_QUEUE, { concurrency: 16 })
export class NotifyProcessor extends WorkerHost {
  constructor(@Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig) {
    super();
  }

  async process(job: Job<NotifyJob>): Promise<number> {
    const url = this.config.notify.urls[job.data.subscriber];
    if (url === undefined) return 0; // subscriber removed from the configuration since
    return postJson(
      { url, ...(this.config.notify.secret ? { secret: this.config.notify.secret } : {}) },
      job.data.event,
      this.config.notify.timeoutMs,
    );
  }
}
