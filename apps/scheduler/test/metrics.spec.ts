// The standalone scheduler's metrics server against a private redis-server: /metrics with the process
// metrics and the BullMQ queue depths, /healthz, and /readyz following Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getQueueToken } from '@nestjs/bullmq';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import type { MetricsServer } from '@lwm2m/metrics';
import type { Queue } from 'bullmq';
import { startRedis, type RedisHandle } from '../../../test/support/redis';
import { createScheduler, type Scheduler } from '../src/create-scheduler';
import { startSchedulerMetrics } from '../src/metrics';
import { NOTIFY_QUEUE } from '../src/tokens';

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('scheduler metrics (METRICS_PORT)', () => {
  let redis: RedisHandle;
  let scheduler: Scheduler;
  let metrics: MetricsServer;
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${metrics.port}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  beforeAll(async () => {
    redis = await startRedis();
    scheduler = await createScheduler({
      redisUrl: redis.url,
      config: validateSchedulerConfig({ REDIS_URL: redis.url }),
      logger: false,
      closeTimeoutMs: 1000,
    });
    metrics = await startSchedulerMetrics(scheduler, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await metrics?.close();
    await scheduler?.close();
    await redis?.stop().catch(() => undefined);
  });

  it('serves the process metrics and the depth of every BullMQ queue', async () => {
    // A job delayed for an hour stays put whatever the workers do.
    const notify = scheduler.app.get<Queue>(getQueueToken(NOTIFY_QUEUE));
    await notify.add('metrics-test', { url: 'http://127.0.0.1:9/x' }, { delay: 3_600_000 });
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sample(r.text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(r.text, 'scheduler_queue_jobs', { queue: 'lwm2m-notify', state: 'delayed' })).toBe(1);
    for (const queue of ['lwm2m-delivery', 'lwm2m-maintenance', 'lwm2m-wakeup', 'lwm2m-notify'])
      for (const state of ['waiting', 'delayed', 'active', 'failed'])
        expect(
          sample(r.text, 'scheduler_queue_jobs', { queue, state }),
          `${queue} ${state}`,
        ).toBeGreaterThanOrEqual(0);
  });

  it('answers the k8s probes: /healthz always, /readyz while Redis answers', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    expect((await get('/nope')).status).toBe(404);
  });

  it('stays up without Redis: /readyz 503, /metrics without queue series, within the 2 s bound', async () => {
    const port = redis.port;
    await redis.stop();
    const start = Date.now();
    const [ready, m] = await Promise.all([get('/readyz'), get('/metrics')]);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'error' });
    expect(m.status).toBe(200);
    expect(sample(m.text, 'scheduler_queue_jobs')).toBeUndefined();
    expect(sample(m.text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // Redis back on the same port: ready again.
    redis = await startRedis({ port });
    const end = Date.now() + 10_000;
    while ((await get('/readyz')).status !== 200 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    expect((await get('/readyz')).status).toBe(200);
  });
});
