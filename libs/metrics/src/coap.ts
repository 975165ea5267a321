// Metrics of one CoAP endpoint (libs/coap CoapEndpoint.stats), read at scrape time.
import type { CoapEndpointStats } from '@lwm2m/coap';
import type { Registry } from 'prom-client';
import { registerScrapedMetrics, type ScrapedMetricSpec } from './scraped';

/** The CoAP endpoint's stats object (`endpoint.stats`), undefined before it starts. */
export type CoapStatsSource = () => CoapEndpointStats | undefined;

export function coapMetricSpecs(coap: CoapStatsSource): ScrapedMetricSpec<string>[] {
  const counter = (name: string, help: string, key: keyof CoapEndpointStats): ScrapedMetricSpec => ({
    name,
    help,
    type: 'counter',
    read: () => coap()?.[key],
  });
  return [
    counter('coap_datagrams_received_total', 'CoAP datagrams received (NoSec and over DTLS)', 'datagramsIn'),
    counter('coap_datagrams_sent_total', 'CoAP datagrams sent, retransmissions included', 'datagramsOut'),
    counter('coap_messages_malformed_total', 'Datagrams that did not decode as CoAP messages', 'malformed'),
    counter(
      'coap_duplicates_total',
      'Duplicate messages (same peer and message ID), acted on once',
      'duplicates',
    ),
    counter('coap_retransmissions_total', 'Confirmable messages sent again after no ACK', 'retransmissions'),
    counter(
      'coap_transmit_timeouts_total',
      'Confirmable messages given up after the last retransmission',
      'transmitTimeouts',
    ),
    {
      name: 'coap_resets_total',
      help: 'Reset (RST) messages, by direction',
      type: 'counter',
      labelNames: ['direction'],
      read: () => {
        const s = coap();
        return (
          s && [
            { labels: { direction: 'sent' }, value: s.resetsSent },
            { labels: { direction: 'received' }, value: s.resetsReceived },
          ]
        );
      },
    },
    counter('coap_unmatched_total', 'Responses and ACKs matching no exchange', 'unmatched'),
    counter(
      'coap_bad_options_total',
      'Requests refused for an unrecognized critical or malformed option',
      'badOptions',
    ),
    counter('coap_handler_errors_total', 'Request handlers that threw (answered 5.00)', 'handlerErrors'),
    counter('coap_internal_errors_total', 'Internal errors of the message layer', 'internalErrors'),
    counter(
      'coap_stale_notifications_total',
      'Observe notifications dropped as older than one already received',
      'staleNotifications',
    ),
    counter(
      'coap_observations_adopted_total',
      'Observations started by another node taken over on their first notification here (cluster)',
      'adoptions',
    ),
  ];
}

/** Registers the coap_* metrics on `registry`. */
export function registerCoapMetrics(registry: Registry, coap: CoapStatsSource): void {
  registerScrapedMetrics(registry, coapMetricSpecs(coap));
}
