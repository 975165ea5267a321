// Metrics of the gateway's LwM2M Bootstrap-Server (libs/bootstrap BootstrapServer.counters, read at scrape
// time): Bootstrap-Requests, sessions started, resumed, finished and failed by step, and requests refused.
import type { ScrapedMetricSpec } from './scraped';

/** The plain counters the Bootstrap-Server keeps (structurally libs/bootstrap BootstrapCounters). */
export interface BootstrapMetricCounters {
  requests: number;
  started: number;
  resumed: number;
  finished: number;
  failed: number;
  failedByStep: Readonly<Record<string, number>>;
  rateLimited: number;
  unknownEndpoint: number;
  badRequest: number;
  insecure: number;
  busy: number;
  packs: number;
  /** DTLS handshakes the bootstrap port failed (a wrong bootstrap key, an unknown identity, a timeout). */
  dtlsHandshakesFailed?: number;
  /** OSCORE-protected requests on the NoSec port by result (libs/oscore OscoreSeam counters.requests). */
  oscoreRequests?: Readonly<Partial<Record<string, number>>>;
}

export function bootstrapMetricSpecs(
  read: () => BootstrapMetricCounters | undefined,
): ScrapedMetricSpec<string>[] {
  const counter = (name: string, help: string, key: 'requests' | 'finished' | 'packs') => ({
    name,
    help,
    type: 'counter' as const,
    read: () => read()?.[key],
  });
  return [
    counter(
      'bootstrap_requests_total',
      'Bootstrap-Requests (POST /bs) and Bootstrap-Pack-Requests (GET /bspack) received',
      'requests',
    ),
    {
      name: 'bootstrap_sessions_started_total',
      help: 'Bootstrap sessions this node started (new) or continued after another node stopped or died (resumed)',
      type: 'counter',
      labelNames: ['kind'],
      read: () => {
        const c = read();
        return (
          c && [
            { labels: { kind: 'new' }, value: c.started },
            { labels: { kind: 'resumed' }, value: c.resumed },
          ]
        );
      },
    },
    counter(
      'bootstrap_finished_total',
      'Bootstraps finished (Bootstrap-Finish answered 2.04, or a Bootstrap-Pack served)',
      'finished',
    ),
    counter('bootstrap_packs_total', 'Bootstrap-Pack-Requests served', 'packs'),
    {
      name: 'bootstrap_dtls_handshakes_failed_total',
      help: 'DTLS handshakes failed on the bootstrap port: a wrong bootstrap key, an unknown PSK identity, a timeout',
      type: 'counter',
      read: () => read()?.dtlsHandshakesFailed,
    },
    {
      name: 'bootstrap_oscore_requests_total',
      help: 'OSCORE-protected requests on the bootstrap NoSec port, by result: ok, context-not-found, replay, decrypt, decode, echo-required (RFC 8613 B.1.2), bad-plaintext',
      type: 'counter',
      labelNames: ['result'],
      read: () => {
        const r = read()?.oscoreRequests;
        return r && Object.entries(r).map(([result, value]) => ({ labels: { result }, value: value ?? 0 }));
      },
    },
    {
      name: 'bootstrap_failed_total',
      help: 'Bootstraps failed, by the step that failed (read, delete, discover, write, credentials, finish, start)',
      type: 'counter',
      labelNames: ['step'],
      read: () => {
        const f = read()?.failedByStep;
        return f && Object.entries(f).map(([step, value]) => ({ labels: { step }, value }));
      },
    },
    {
      name: 'bootstrap_refused_total',
      help: 'Bootstrap-Requests refused: rate (4.29 per source), unknown_endpoint and bad_request (4.00), security (4.00: wrong or missing bootstrap credential), busy (5.03)',
      type: 'counter',
      labelNames: ['reason'],
      read: () => {
        const c = read();
        return (
          c && [
            { labels: { reason: 'rate' }, value: c.rateLimited },
            { labels: { reason: 'unknown_endpoint' }, value: c.unknownEndpoint },
            { labels: { reason: 'bad_request' }, value: c.badRequest },
            { labels: { reason: 'security' }, value: c.insecure },
            { labels: { reason: 'busy' }, value: c.busy },
          ]
        );
      },
    },
  ];
}
