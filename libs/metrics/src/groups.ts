// Fleet group operations (libs/groups GroupRunner): members sent, results by state, answers lost with a
// runner that stopped, requests this process drives now; read at scrape time from the runner's counters.
import type { Registry } from 'prom-client';
import { registerScrapedMetrics } from './scraped';

export const GROUP_MEMBERS_DISPATCHED_TOTAL = 'group_members_dispatched_total';

export interface GroupRunnerCounters {
  dispatched: number;
  /** Member results stored, by state (queued, succeeded, failed, timed-out, cancelled). */
  results: Record<string, number>;
  /** Members failed as "outcome unknown" when a request was taken over from a runner that stopped. */
  takeovers: number;
  /** Group requests this process drives now. */
  running: number;
  /** Multicast groups' server responses not made a result as they came (libs/groups ProxyMulticastSender). */
  multicast?: {
    /** Answers beyond GROUP_MAX_MEMBERS servers. */
    dropped: number;
    /** LwM2M payloads that did not decode (kept as payload with an error). */
    undecodable: number;
    /** An observation's later notifications kept. */
    notifications: number;
    /** Later responses not kept: older notifications (RFC 7641 3.4), a read's duplicates, non-notifications. */
    ignored: number;
  };
}

export function registerGroupMetrics(registry: Registry, read: () => GroupRunnerCounters): void {
  if (registry.getSingleMetric(GROUP_MEMBERS_DISPATCHED_TOTAL)) return;
  registerScrapedMetrics(registry, [
    {
      name: GROUP_MEMBERS_DISPATCHED_TOTAL,
      help: 'Group request members sent their command (or queued for a sleeping device)',
      type: 'counter',
      read: () => read().dispatched,
    },
    {
      name: 'group_member_results_total',
      help: 'Group request member states stored, by state',
      type: 'counter',
      labelNames: ['state'],
      read: () => Object.entries(read().results).map(([state, value]) => ({ labels: { state }, value })),
    },
    {
      name: 'group_members_outcome_unknown_total',
      help: 'Members failed as outcome unknown when a group request was taken over from a runner that stopped',
      type: 'counter',
      read: () => read().takeovers,
    },
    {
      name: 'group_multicast_responses_total',
      help:
        "Multicast groups' server responses beyond the first per server or not decoded, by outcome: " +
        'notification (kept), ignored (stale or not a notification), undecodable, dropped (too many servers)',
      type: 'counter',
      labelNames: ['outcome'],
      read: () => {
        const m = read().multicast;
        if (!m) return [];
        return [
          { labels: { outcome: 'notification' }, value: m.notifications },
          { labels: { outcome: 'ignored' }, value: m.ignored },
          { labels: { outcome: 'undecodable' }, value: m.undecodable },
          { labels: { outcome: 'dropped' }, value: m.dropped },
        ];
      },
    },
    {
      name: 'group_requests_running',
      help: 'Group requests this process drives now (holds the lease of)',
      type: 'gauge',
      read: () => read().running,
    },
  ]);
}
