// Issue 17 acceptance: a campaign of 1,000 simulated devices (5 % fail, 10 % asleep in queue mode) with at most
// 50 in flight (rollout-acceptance.ts). The whole product runs in this process (gateway, api, BullMQ
// scheduler) on a private redis-server; devices are real UDP clients.
import { startTestServer } from '../support/single-node';
import { describeRolloutAcceptance } from './rollout-acceptance';

describeRolloutAcceptance('Redis', {
  start: (scheduler) => startTestServer({ ...(scheduler ? { scheduler } : {}) }),
  count: Number(process.env.CAMPAIGN_TEST_DEVICES ?? 1000),
  maxConcurrent: 50,
});
