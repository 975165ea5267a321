// The standalone scheduler's metrics server (METRICS_PORT): GET /metrics with the process metrics and the
// depth of each BullMQ queue, read at scrape time, and the k8s probes /healthz and /readyz
// (k8s/base/scheduler.yaml). The single-node start does not open it.
import { getQueueToken } from '@nestjs/bullmq';
import {
  createMetricsRegistry,
  type MetricsServer,
  registerScrapedMetric,
  startMetricsServer,
} from '@lwm2m/metrics';
import type { Queue } from 'bullmq';
import type { Registry } from 'prom-client';
import type { Scheduler } from './create-scheduler';
import {
  DELIVERY_QUEUE,
  MAINTENANCE_QUEUE,
  NOTIFY_QUEUE,
  SCHEDULER_PORTS,
  type SchedulerPorts,
  WAKEUP_QUEUE,
} from './tokens';

export const SCHEDULER_QUEUES = [DELIVERY_QUEUE, MAINTENANCE_QUEUE, WAKEUP_QUEUE, NOTIFY_QUEUE] as const;
/** Job states reported per queue (completed jobs are not kept, so their count says nothing). */
export const QUEUE_JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;
/** A scrape or probe never waits longer than this for Redis. */
const REDIS_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Registers scheduler_queue_jobs{queue,state}: the jobs of each BullMQ queue by state, read with
 * Queue.getJobCounts at scrape time (a queue whose count fails or times out has no series that scrape).
 */
export function registerSchedulerMetrics(registry: Registry, scheduler: Scheduler): void {
  const queues = SCHEDULER_QUEUES.map((name) => ({
    name,
    queue: scheduler.app.get<Queue>(getQueueToken(name)),
  }));
  registerScrapedMetric(registry, {
    name: 'scheduler_queue_jobs',
    help: 'Jobs in each BullMQ queue of the scheduler, by state',
    type: 'gauge',
    labelNames: ['queue', 'state'],
    read: async () => {
      const counts = await Promise.all(
        queues.map(({ name, queue }) =>
          withTimeout(queue.getJobCounts(...QUEUE_JOB_STATES), REDIS_TIMEOUT_MS, name).then(
            (c) => ({ name, c }),
            () => undefined,
          ),
        ),
      );
      return counts.flatMap((r) =>
        r
          ? QUEUE_JOB_STATES.map((state) => ({ labels: { queue: r.name, state }, value: r.c[state] ?? 0 }))
          : [],
      );
    },
  });
}

/** Serves /metrics, /healthz (the process answers) and /readyz (Redis answers PING) on `port`. */
export async function startSchedulerMetrics(
  scheduler: Scheduler,
  opts: { port: number; host?: string; registry?: Registry },
): Promise<MetricsServer & { registry: Registry }> {
  const registry = opts.registry ?? createMetricsRegistry();
  registerSchedulerMetrics(registry, scheduler);
  const { redis } = scheduler.app.get<SchedulerPorts>(SCHEDULER_PORTS);
  const server = await startMetricsServer({
    port: opts.port,
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    registry,
    routes: {
      'GET /healthz': () => ({ status: 200, body: { status: 'ok' } }),
      'GET /readyz': () =>
        withTimeout(redis.ping(), REDIS_TIMEOUT_MS, 'redis').then(
          () => ({ status: 200, body: { status: 'ok' } }),
          (err: unknown) => ({
            status: 503,
            body: { status: 'error', redis: err instanceof Error ? err.message : String(err) },
          }),
        ),
    },
  });
  return { ...server, registry };
}
