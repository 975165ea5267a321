// Builds the scheduler (a Nest application context: workers, no HTTP) on a Redis URL; the standalone main and
// the single-node start share it.
import 'reflect-metadata';
import { type INestApplicationContext, type LoggerService, type LogLevel, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createRedisStores, isReachable, type RedisStores, settleWithin } from '@lwm2m/registry';
import { RedisRequestStore, type SchedulerConfig } from '@lwm2m/scheduler';
import { RedisCampaignStore } from '@lwm2m/campaigns';
import { SchedulerModule } from './scheduler.module';

export interface Scheduler {
  app: INestApplicationContext;
  requests: RedisRequestStore;
  close(): Promise<void>;
}

export async function createScheduler(opts: {
  redisUrl: string;
  config: SchedulerConfig;
  logger: LogLevel[] | false | LoggerService;
  /** Reuse the registry connection (single node); default: its own. */
  stores?: RedisStores;
  onRedisError?: (err: Error) => void;
  /** How long close() waits for BullMQ before it gives up (default 5 s). */
  closeTimeoutMs?: number;
}): Promise<Scheduler> {
  const own = opts.stores === undefined;
  const stores = opts.stores ?? createRedisStores(opts.redisUrl);
  if (own) stores.redis.on('error', (err: Error) => opts.onRedisError?.(err));
  const requests = new RedisRequestStore(stores.redis, {
    keyPrefix: stores.keys.prefix,
    retentionSeconds: opts.config.retentionSeconds,
  });
  const app = await NestFactory.createApplicationContext(
    SchedulerModule.forRoot({
      config: opts.config,
      redisUrl: opts.redisUrl,
      ports: {
        registrations: stores.registrations,
        commands: stores.commands,
        events: stores.events,
        requests,
        redis: stores.redis,
        eventStream: stores.keys.eventStream,
        campaigns: new RedisCampaignStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      },
    }),
    { logger: opts.logger },
  );
  return {
    app,
    requests,
    async close() {
      // BullMQ's Worker.close() never resolves when its blocking connection is between reconnect attempts
      // (taskforcesh/bullmq#2430, #4656): a SIGTERM right after a Redis restart would hang forever. Jobs are
      // idempotent signals (README "Sleeping devices"), so giving up on a clean close loses nothing.
      // With Redis gone BullMQ cannot close cleanly at all: do not wait long for it.
      const closed = await settleWithin(
        app.close(),
        opts.closeTimeoutMs ?? (isReachable(stores.redis) ? 5000 : 500),
      );
      if (!closed) new Logger('scheduler').warn('BullMQ did not close in time; leaving its connections');
      if (own) await stores.close().catch(() => undefined);
    },
  };
}
