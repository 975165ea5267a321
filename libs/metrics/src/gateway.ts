// The gateway's metrics: its DTLS server, its CoAP endpoint, the cluster link and the notifications devices
// send, all read at scrape time from the plain counters those keep (nothing on the datagram path calls
// prom-client).
import type { CoapEndpointStats } from '@lwm2m/coap';
import type { DtlsCounters } from '@lwm2m/dtls';
import type { Registry } from 'prom-client';
import { type BootstrapMetricCounters, bootstrapMetricSpecs } from './bootstrap';
import { coapMetricSpecs } from './coap';
import { dtlsMetricSpecs } from './dtls';
import { type Lwm2mSecurityCounters, lwm2mSecurityMetricSpecs } from './lwm2m-security';

export type { Lwm2mSecurityCounters } from './lwm2m-security';
import { createMetricsRegistry } from './registry';
import { registerScrapedMetrics, type ScrapedMetricSpec } from './scraped';
import { type MetricsRoute, type MetricsServer, startMetricsServer } from './server';

/** Counters of the cluster link (libs/cluster). */
export interface ClusterCounters {
  /** Datagrams of another node's Connection ID forwarded to that node. */
  cidForwarded: number;
  /** Sessions this node took over from a node whose lease lapsed or that drained. */
  sessionTakeovers: number;
  /** Datagrams other nodes forwarded to this one. */
  forwardedReceived?: number;
  /** Forwarded datagrams refused (bad HMAC, unknown node, stale). */
  forwardRejected?: number;
}

/**
 * Where the gateway's metrics come from, each read at every scrape. A getter returns undefined while its
 * part is not running (DTLS disabled, no cluster link): its labelled metrics then have no series and the
 * others read 0.
 */
export interface GatewayMetricsSources {
  /** The DTLS server's counters (`DtlsServer.counters`). */
  dtls(): DtlsCounters | undefined;
  /** The CoAP endpoint's stats (`CoapEndpoint.stats`; one endpoint serves NoSec and DTLS). */
  coap(): CoapEndpointStats | undefined;
  /** The cluster link's counters. */
  cluster(): ClusterCounters | undefined;
  /** Observe notifications received from devices so far. */
  notifications(): number;
  /** Refused registrations, Echo challenges and Block1 evictions (lwm2m-security.ts). */
  security?(): Lwm2mSecurityCounters | undefined;
  /** LwM2M events this node published so far, by type (registered, updated, expired, ...). */
  events?(): Readonly<Record<string, number>>;
  /** Datagrams the public sockets' fair receive queues dropped, by reason (libs/udp ReceiveDropCounters). */
  udpReceiveDrops?(): Readonly<Record<string, number>> | undefined;
  /** The Bootstrap-Server's counters (BOOTSTRAP_ENABLED), undefined when it is off. */
  bootstrap?(): BootstrapMetricCounters | undefined;
  /** Object 5 delivery: blocks served at /fw (Pull) and pushes run by this node (libs/gateway GatewayFirmware). */
  firmware?(): FirmwareCounters | undefined;
}

export interface FirmwareCounters {
  blocks: number;
  bytes: number;
  notFound: number;
  badRequests: number;
  /** NoSec requests answered 4.01 with an Echo value (FIRMWARE_NOSEC_ECHO). */
  echoChallenged: number;
  pushesStarted: number;
  pushesSucceeded: number;
  pushesFailed: number;
  activePushes: number;
}

export function gatewayMetricSpecs(sources: GatewayMetricsSources): ScrapedMetricSpec<string>[] {
  const cluster = (name: string, help: string, key: keyof ClusterCounters): ScrapedMetricSpec => ({
    name,
    help,
    type: 'counter',
    read: () => sources.cluster()?.[key],
  });
  return [
    ...dtlsMetricSpecs(() => sources.dtls()),
    cluster(
      'dtls_cid_forwarded_total',
      "DTLS records with another node's Connection ID forwarded to that node over the cluster link",
      'cidForwarded',
    ),
    cluster(
      'dtls_session_takeovers_total',
      'DTLS sessions taken over from another node (lapsed lease or drain)',
      'sessionTakeovers',
    ),
    cluster(
      'cluster_forwarded_received_total',
      'Datagrams other nodes forwarded to this node over the cluster link',
      'forwardedReceived',
    ),
    cluster(
      'cluster_forward_rejected_total',
      'Datagrams on the cluster link refused (bad HMAC, unknown sender, stale)',
      'forwardRejected',
    ),
    ...coapMetricSpecs(() => sources.coap()),
    ...lwm2mSecurityMetricSpecs(() => sources.security?.()),
    ...bootstrapMetricSpecs(() => sources.bootstrap?.()),
    {
      name: 'coap_notifications_total',
      help: 'Observe notifications received from devices',
      type: 'counter',
      read: () => sources.notifications(),
    },
    {
      name: 'udp_receive_dropped_total',
      help: 'Datagrams dropped after the socket by the fair receive queue: source (its queue was full), total (all queues were full)',
      type: 'counter',
      labelNames: ['reason'],
      read: () => {
        const drops = sources.udpReceiveDrops?.();
        return drops && Object.entries(drops).map(([reason, value]) => ({ labels: { reason }, value }));
      },
    },
    {
      name: 'firmware_blocks_served_total',
      help: 'Block2 blocks of firmware images served at /fw/<id> (object 5 Pull)',
      type: 'counter',
      read: () => sources.firmware?.()?.blocks,
    },
    {
      name: 'firmware_bytes_served_total',
      help: 'Bytes of firmware images served at /fw/<id>',
      type: 'counter',
      read: () => sources.firmware?.()?.bytes,
    },
    {
      name: 'firmware_requests_refused_total',
      help: 'Requests to /fw refused: not-found (4.04), bad-request (4.02, 4.05), echo (4.01 + Echo, NoSec)',
      type: 'counter',
      labelNames: ['reason'],
      read: () => {
        const f = sources.firmware?.();
        return (
          f && [
            { labels: { reason: 'not-found' }, value: f.notFound },
            { labels: { reason: 'bad-request' }, value: f.badRequests },
            { labels: { reason: 'echo' }, value: f.echoChallenged },
          ]
        );
      },
    },
    {
      name: 'firmware_pushes_total',
      help: 'Block-wise pushes to /5/0/0 this node ran, by outcome (started, succeeded, failed)',
      type: 'counter',
      labelNames: ['outcome'],
      read: () => {
        const f = sources.firmware?.();
        return (
          f && [
            { labels: { outcome: 'started' }, value: f.pushesStarted },
            { labels: { outcome: 'succeeded' }, value: f.pushesSucceeded },
            { labels: { outcome: 'failed' }, value: f.pushesFailed },
          ]
        );
      },
    },
    {
      name: 'firmware_pushes_active',
      help: 'Block-wise pushes running on this node',
      type: 'gauge',
      read: () => sources.firmware?.()?.activePushes,
    },
    {
      name: 'lwm2m_events_total',
      help: 'LwM2M events this node published (registered, updated, deregistered, expired, notification, ...)',
      type: 'counter',
      labelNames: ['type'],
      read: () => {
        const events = sources.events?.();
        return events && Object.entries(events).map(([type, value]) => ({ labels: { type }, value }));
      },
    },
  ];
}

/** Registers every gateway metric (dtls_*, cluster_*, coap_*) on `registry`. */
export function registerGatewayMetrics(registry: Registry, sources: GatewayMetricsSources): void {
  registerScrapedMetrics(registry, gatewayMetricSpecs(sources));
}

export interface GatewayMetricsOptions {
  /** METRICS_PORT; 0 picks a free port. */
  port: number;
  host?: string;
  sources: GatewayMetricsSources;
  /** Labels on every series, e.g. { node: NODE_ID }. */
  defaultLabels?: Record<string, string>;
  /** Extra routes on the same port, e.g. 'GET /healthz', 'GET /readyz', 'POST /drain' (k8s/base/gateway.yaml). */
  routes?: Record<string, MetricsRoute>;
}

export interface GatewayMetrics extends MetricsServer {
  registry: Registry;
}

/** One call for the gateway: a registry with default and gateway metrics, served on `port`. */
export async function startGatewayMetrics(options: GatewayMetricsOptions): Promise<GatewayMetrics> {
  const registry = createMetricsRegistry(options.defaultLabels);
  registerGatewayMetrics(registry, options.sources);
  const server = await startMetricsServer({
    port: options.port,
    registry,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  return { registry, port: server.port, close: () => server.close() };
}
