// The group-observer's metrics: its GroupObserveServer (multicast notifications, rough counting) and its
// CoAP endpoint, read at scrape time.
import type { CoapEndpointStats } from '@lwm2m/coap';
import type { GroupObserveServerStats } from '@lwm2m/group-observe';
import type { Registry } from 'prom-client';
import { coapMetricSpecs } from './coap';
import { registerScrapedMetrics, type ScrapedMetricSpec } from './scraped';

export interface GroupObserverMetricsSources {
  /** `GroupObserveServer.stats`. */
  groupObserve(): GroupObserveServerStats | undefined;
  /** Active group observations and the observers their rough counts estimate. */
  groupObservations(): { count: number; observers: number } | undefined;
  /** Topics published. */
  topics?(): number;
  /** The CoAP endpoint's stats; omit when the endpoint is the gateway's (it reports them). */
  coap?(): CoapEndpointStats | undefined;
}

export function groupObserverMetricSpecs(sources: GroupObserverMetricsSources): ScrapedMetricSpec<string>[] {
  const counter = (name: string, help: string, key: keyof GroupObserveServerStats): ScrapedMetricSpec => ({
    name,
    help,
    type: 'counter',
    read: () => sources.groupObserve()?.[key],
  });
  const specs: ScrapedMetricSpec<string>[] = [
    counter('group_observe_registrations_total', 'Observe registrations to group resources', 'registrations'),
    counter(
      'group_observe_informative_responses_total',
      'Informative 5.03 responses sent (observers shifted to a group observation included)',
      'informativeResponses',
    ),
    counter('group_observations_started_total', 'Group observations started', 'groupObservationsStarted'),
    counter(
      'group_observe_multicast_notifications_total',
      'Multicast notifications sent (one datagram each)',
      'multicastNotifications',
    ),
    counter(
      'group_observe_multicast_datagrams_total',
      'Datagrams sent to the group: notifications and cancellations',
      'multicastDatagrams',
    ),
    counter(
      'group_observe_unicast_notifications_total',
      'Unicast notifications to traditional observers',
      'unicastNotifications',
    ),
    counter(
      'group_observe_coalesced_total',
      'Publications folded into a later multicast notification (congestion control)',
      'coalesced',
    ),
    counter('group_observe_feedback_rounds_total', 'Rough-counting feedback rounds', 'feedbackRounds'),
    counter('group_observe_confirmations_total', 'Rough-counting confirmations received', 'confirmations'),
    counter('group_observe_cancellations_total', 'Group observations cancelled', 'cancellations'),
    counter('group_observe_send_errors_total', 'Multicast sends that failed', 'sendErrors'),
    {
      name: 'group_observations',
      help: 'Active group observations',
      type: 'gauge',
      read: () => sources.groupObservations()?.count,
    },
    {
      name: 'group_observe_observers',
      help: 'Observers of all group observations, as estimated by rough counting',
      type: 'gauge',
      read: () => sources.groupObservations()?.observers,
    },
  ];
  const { topics, coap } = sources;
  if (topics) {
    specs.push({
      name: 'group_observer_topics',
      help: 'Topics published',
      type: 'gauge',
      read: () => topics(),
    });
  }
  if (coap) specs.push(...coapMetricSpecs(() => coap()));
  return specs;
}

/** Registers the group_observe* metrics (and coap_* when `sources.coap` is given) on `registry`. */
export function registerGroupObserverMetrics(registry: Registry, sources: GroupObserverMetricsSources): void {
  registerScrapedMetrics(registry, groupObserverMetricSpecs(sources));
}
