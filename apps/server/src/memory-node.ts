// Memory mode: the single node without Redis (`npm start` when neither REDIS_URL is set nor redis-server is
// installed). Every store is the in-memory twin that passes the same contract suite as its Redis
// implementation (libs/server/src/memory, libs/scheduler InMemoryRequestStore, libs/campaigns
// InMemoryCampaignStore), queue-mode delivery runs on the InProcessScheduler (the DeliveryEngine driven by the
// event bus and timers, no BullMQ), and firmware campaigns on InProcessCampaigns (the CampaignEngine ticked by a
// timer and fed the event bus).
//
// What it lacks, by design: nothing survives a restart (registrations, credentials, observations, queued
// requests, audit, DTLS sessions, topics, firmware images, campaigns), so devices register again and operators
// provision their PSKs again, and a campaign in progress is gone with its devices' runs; no gateway cluster (CLUSTER_KEY), no GROUP_OBSERVE_LEG=redis, no standalone api, gateway or scheduler
// process sharing the state; queued requests are not retried across restarts.
import { Logger } from '@nestjs/common';
import { InMemoryBootstrapConfigStore, InMemoryBootstrapSessionStore } from '@lwm2m/bootstrap';
import { createInMemoryStores, InMemoryAuditStore, type InMemoryStores } from '@lwm2m/server';
import {
  InMemoryRequestStore,
  InProcessScheduler,
  type QueuedRequests,
  type SchedulerConfig,
  WebhookWakeUpChannel,
} from '@lwm2m/scheduler';
import { InMemoryCampaignStore, InProcessCampaigns } from '@lwm2m/campaigns';
import type { NodeState, SingleNodeOptions } from './single-node';

export type MemoryNodeStores = InMemoryStores & {
  bootstrapConfigs: InMemoryBootstrapConfigStore;
  bootstrapSessions: InMemoryBootstrapSessionStore;
};

export function createMemoryState(
  opts: SingleNodeOptions & { scheduler: SchedulerConfig },
): NodeState<MemoryNodeStores> {
  if (opts.gateway.CLUSTER_KEY !== undefined) {
    throw new Error('CLUSTER_KEY: a gateway cluster shares its state in Redis; set REDIS_URL');
  }
  if (opts.gateway.GATEWAY_WORKERS > 1) {
    throw new Error(
      'invalid configuration: GATEWAY_WORKERS > 1 needs Redis (the worker threads share sessions, registrations and commands there); set REDIS_URL, or GATEWAY_WORKERS=1',
    );
  }
  if (opts.groupObserver?.GROUP_OBSERVE_LEG === 'redis') {
    throw new Error('GROUP_OBSERVE_LEG=redis needs Redis; set REDIS_URL');
  }
  const stores: MemoryNodeStores = {
    ...createInMemoryStores(),
    bootstrapConfigs: new InMemoryBootstrapConfigStore(),
    bootstrapSessions: new InMemoryBootstrapSessionStore(),
    audit: new InMemoryAuditStore(
      opts.auditMaxEntries !== undefined ? { maxEntries: opts.auditMaxEntries } : {},
    ),
  };
  const requests = new InMemoryRequestStore({ retentionSeconds: opts.scheduler.retentionSeconds });
  const campaigns = new InMemoryCampaignStore();
  return {
    stores,
    requests,
    campaigns,
    async startScheduler(queue: QueuedRequests) {
      const config = opts.scheduler;
      const logger = new Logger('scheduler');
      const scheduler = new InProcessScheduler({
        requests,
        registrations: stores.registrations,
        commands: stores.commands,
        events: stores.events,
        config,
        ...(config.wakeUp
          ? {
              wakeUpChannel: new WebhookWakeUpChannel(
                { url: config.wakeUp.url, ...(config.wakeUp.secret ? { secret: config.wakeUp.secret } : {}) },
                config.wakeUp.timeoutMs,
              ),
            }
          : {}),
        logger: { log: (m) => logger.log(m), warn: (m) => logger.warn(m) },
      });
      await scheduler.start();
      const campaignLogger = new Logger('campaigns');
      const driver = new InProcessCampaigns({
        store: campaigns,
        registrations: stores.registrations,
        commands: stores.commands,
        events: stores.events,
        // A cancelled campaign's reset of a sleeping device waits in its request queue, as with Redis.
        enqueue: (cmd) => queue.accept(cmd),
        config,
        logger: { warn: (m) => campaignLogger.warn(m) },
      });
      driver.start();
      return { scheduler, campaigns: driver };
    },
    close: async () => undefined,
  };
}
