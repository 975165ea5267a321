// libs/metrics over real HTTP: gateway metrics read from plain counter objects at scrape time, the metrics
// server's routes, the scraped-metric helper and the HTTP request counters.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type CoapEndpointStats, newCoapEndpointStats } from '@lwm2m/coap';
import { type DtlsCounters, newCounters } from '@lwm2m/dtls';
import type { GroupObserveServerStats } from '@lwm2m/group-observe';
import {
  type ClusterCounters,
  createMetricsRegistry,
  type GatewayMetricsSources,
  httpMetricsMiddleware,
  type MetricsServer,
  registerGroupObserverMetrics,
  registerScrapedMetric,
  startGatewayMetrics,
  startMetricsServer,
} from '@lwm2m/metrics';

/** The value of one series of an exposition text (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(port: number, path = '/metrics', init?: RequestInit) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function coapStats(): CoapEndpointStats {
  return newCoapEndpointStats();
}

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('gateway metrics', () => {
  it('serves the counters of the DTLS server, the CoAP endpoint and the cluster link, read at each scrape', async () => {
    const dtls: DtlsCounters = newCounters();
    const coap = coapStats();
    const cluster: ClusterCounters = { cidForwarded: 7, sessionTakeovers: 1 };
    let notifications = 42;
    Object.assign(dtls, {
      handshakesStarted: 4,
      handshakesCompleted: 3,
      handshakesResumed: 1,
      handshakesFailed: 1,
      helloVerifyRequests: 5,
      clientHellosRateLimited: 2,
      helloVerifyRequestsRateLimited: 9,
      handshakesStalled: 4,
      handshakesEvicted: 8,
      pskUnknownIdentities: 3,
      handshakesNoServerCertificate: 1,
      droppedRecords: 6,
      droppedBadMac: 1,
      droppedReplay: 2,
      droppedNoSession: 1,
      droppedMalformed: 1,
      sessions: 2,
    });
    Object.assign(coap, { datagramsIn: 100, datagramsOut: 90, malformed: 3, resetsSent: 1 });
    const sources: GatewayMetricsSources = {
      dtls: () => dtls,
      coap: () => coap,
      cluster: () => cluster,
      notifications: () => notifications,
    };
    const metrics = await startGatewayMetrics({ port: 0, host: '127.0.0.1', sources });
    servers.push(metrics);
    expect(metrics.port).toBeGreaterThan(0);

    const first = await scrape(metrics.port);
    expect(first.status).toBe(200);
    expect(first.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const t = first.text;
    expect(t).toContain('# TYPE dtls_handshakes_total counter');
    expect(t).toContain('# TYPE dtls_sessions gauge');
    expect(sample(t, 'dtls_handshakes_total')).toBe(3);
    expect(sample(t, 'dtls_handshakes_failed_total')).toBe(1);
    expect(sample(t, 'dtls_handshakes_resumed_total')).toBe(1);
    expect(sample(t, 'dtls_sessions')).toBe(2);
    expect(sample(t, 'dtls_cid_forwarded_total')).toBe(7);
    expect(sample(t, 'dtls_session_takeovers_total')).toBe(1);
    expect(sample(t, 'coap_notifications_total')).toBe(42);
    expect(sample(t, 'dtls_hello_verify_requests_total')).toBe(5);
    expect(sample(t, 'dtls_client_hellos_refused_total', { reason: 'rate_limited' })).toBe(2);
    expect(sample(t, 'dtls_client_hellos_refused_total', { reason: 'hvr_budget' })).toBe(9);
    expect(sample(t, 'dtls_handshakes_dropped_total', { reason: 'stalled' })).toBe(4);
    expect(sample(t, 'dtls_handshakes_dropped_total', { reason: 'evicted' })).toBe(8);
    expect(sample(t, 'dtls_psk_unknown_identity_total')).toBe(3);
    expect(sample(t, 'dtls_handshakes_no_server_certificate_total')).toBe(1);
    expect(sample(t, 'dtls_records_dropped_total', { reason: 'bad_mac' })).toBe(1);
    expect(sample(t, 'dtls_records_dropped_total', { reason: 'replay' })).toBe(2);
    expect(sample(t, 'dtls_records_dropped_total', { reason: 'other' })).toBe(1);
    expect(sample(t, 'coap_datagrams_received_total')).toBe(100);
    expect(sample(t, 'coap_messages_malformed_total')).toBe(3);
    expect(sample(t, 'coap_resets_total', { direction: 'sent' })).toBe(1);
    // Optional cluster counters the link does not report read 0.
    expect(sample(t, 'cluster_forwarded_received_total')).toBe(0);
    // Default process metrics come with it.
    expect(sample(t, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(t).toContain('nodejs_heap_size_used_bytes');

    // The protocol code only bumps its plain counters; the next scrape sees them.
    dtls.handshakesCompleted += 2;
    dtls.sessions = 1;
    dtls.droppedRecords++;
    dtls.droppedReplay++;
    cluster.cidForwarded = 9;
    cluster.sessionTakeovers++;
    cluster.forwardRejected = 4;
    coap.malformed++;
    notifications = 50;
    const second = (await scrape(metrics.port)).text;
    expect(sample(second, 'dtls_handshakes_total')).toBe(5);
    expect(sample(second, 'dtls_sessions')).toBe(1);
    expect(sample(second, 'dtls_records_dropped_total', { reason: 'replay' })).toBe(3);
    expect(sample(second, 'dtls_records_dropped_total', { reason: 'other' })).toBe(1);
    expect(sample(second, 'dtls_cid_forwarded_total')).toBe(9);
    expect(sample(second, 'dtls_session_takeovers_total')).toBe(2);
    expect(sample(second, 'cluster_forward_rejected_total')).toBe(4);
    expect(sample(second, 'coap_messages_malformed_total')).toBe(4);
    expect(sample(second, 'coap_notifications_total')).toBe(50);
  });

  it('reads absent parts as no series (labelled) or 0, and puts default labels on every series', async () => {
    const metrics = await startGatewayMetrics({
      port: 0,
      host: '127.0.0.1',
      defaultLabels: { node: 'node-7' },
      sources: {
        dtls: () => undefined,
        coap: () => undefined,
        cluster: () => undefined,
        notifications: () => 0,
      },
    });
    servers.push(metrics);
    const { text } = await scrape(metrics.port);
    expect(sample(text, 'dtls_records_dropped_total')).toBeUndefined();
    expect(sample(text, 'dtls_sessions', { node: 'node-7' })).toBe(0);
    expect(sample(text, 'dtls_cid_forwarded_total', { node: 'node-7' })).toBe(0);
    expect(sample(text, 'coap_notifications_total', { node: 'node-7' })).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total', { node: 'node-7' })).toBeGreaterThan(0);
  });
});

describe('startMetricsServer', () => {
  it('answers GET and HEAD /metrics, extra routes, 404 otherwise, on a free port', async () => {
    const registry = createMetricsRegistry(undefined, { defaultMetrics: false });
    let ready = true;
    const server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      routes: {
        'GET /healthz': () => ({ status: 200, body: { status: 'ok' } }),
        'GET /readyz': async () => ({ status: ready ? 200 : 503, body: ready ? 'ready' : 'not ready' }),
        'POST /boom': () => {
          throw new Error('boom');
        },
      },
    });
    servers.push(server);
    const other = await startMetricsServer({ port: 0, host: '127.0.0.1', registry });
    servers.push(other);
    expect(other.port).not.toBe(server.port);

    const m = await scrape(server.port, '/metrics?x=1');
    expect(m.status).toBe(200);
    expect(m.type).toBe(registry.contentType);
    const head = await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await scrape(server.port, '/metrics', { method: 'POST' })).status).toBe(404);
    expect((await scrape(server.port, '/')).status).toBe(404);
    expect((await scrape(server.port, '/metricsx')).status).toBe(404);
    const h = await scrape(server.port, '/healthz');
    expect(h).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' });
    expect(JSON.parse(h.text)).toEqual({ status: 'ok' });
    expect((await scrape(server.port, '/readyz')).status).toBe(200);
    ready = false;
    expect(await scrape(server.port, '/readyz')).toMatchObject({ status: 503, text: 'not ready' });
    expect(await scrape(server.port, '/boom', { method: 'POST' })).toMatchObject({ status: 500 });
    expect((await scrape(server.port, '/healthz', { method: 'POST' })).status).toBe(404);
  });

  it('fails to start on a port in use', async () => {
    const registry = createMetricsRegistry(undefined, { defaultMetrics: false });
    const first = await startMetricsServer({ port: 0, host: '127.0.0.1', registry });
    servers.push(first);
    await expect(startMetricsServer({ port: first.port, host: '127.0.0.1', registry })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe('registerScrapedMetric', () => {
  it('reads sync and async values, labelled or not, and drops what a counter cannot hold', async () => {
    const registry = createMetricsRegistry(undefined, { defaultMetrics: false });
    let depth: Promise<{ labels: { queue: string }; value: number }[]> = Promise.resolve([
      { labels: { queue: 'a' }, value: 3 },
      { labels: { queue: 'b' }, value: 0 },
    ]);
    let total = 5;
    registerScrapedMetric(registry, {
      name: 'queue_depth',
      help: 'h',
      type: 'gauge',
      labelNames: ['queue'],
      read: () => depth,
    });
    registerScrapedMetric(registry, { name: 'things_total', help: 'h', type: 'counter', read: () => total });
    let text = await registry.metrics();
    expect(sample(text, 'queue_depth', { queue: 'a' })).toBe(3);
    expect(sample(text, 'queue_depth', { queue: 'b' })).toBe(0);
    expect(sample(text, 'things_total')).toBe(5);

    depth = Promise.reject(new Error('redis down'));
    total = -1;
    text = await registry.metrics();
    expect(sample(text, 'queue_depth')).toBeUndefined();
    expect(sample(text, 'things_total')).toBe(0);
  });
});

describe('group-observer metrics', () => {
  it('reads the GroupObserveServer stats and the group observations', async () => {
    const registry = createMetricsRegistry(undefined, { defaultMetrics: false });
    const stats = { multicastNotifications: 12, registrations: 30, sendErrors: 0 } as GroupObserveServerStats;
    const coap = coapStats();
    coap.datagramsIn = 8;
    registerGroupObserverMetrics(registry, {
      groupObserve: () => stats,
      groupObservations: () => ({ count: 2, observers: 140 }),
      topics: () => 3,
      coap: () => coap,
    });
    const text = await registry.metrics();
    expect(sample(text, 'group_observe_multicast_notifications_total')).toBe(12);
    expect(sample(text, 'group_observe_registrations_total')).toBe(30);
    expect(sample(text, 'group_observations')).toBe(2);
    expect(sample(text, 'group_observe_observers')).toBe(140);
    expect(sample(text, 'group_observer_topics')).toBe(3);
    expect(sample(text, 'coap_datagrams_received_total')).toBe(8);
  });
});

describe('httpMetricsMiddleware', () => {
  it('counts requests by method and status on a node:http server', async () => {
    const registry = createMetricsRegistry(undefined, { defaultMetrics: false });
    const count = httpMetricsMiddleware(registry);
    const server = createServer((req, res) =>
      count(req, res, () => {
        res.statusCode = req.url === '/missing' ? 404 : 200;
        res.end('x');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await fetch(`http://127.0.0.1:${port}/a`).then((r) => r.text());
      await fetch(`http://127.0.0.1:${port}/b`).then((r) => r.text());
      await fetch(`http://127.0.0.1:${port}/missing`, { method: 'DELETE' }).then((r) => r.text());
      await fetch(`http://127.0.0.1:${port}/a`, { method: 'PROPFIND' }).then((r) => r.text());
      // 'close' follows the end of the response by a tick.
      await new Promise((r) => setTimeout(r, 20));
      const text = await registry.metrics();
      expect(sample(text, 'http_requests_total', { method: 'GET', status: '200' })).toBe(2);
      expect(sample(text, 'http_requests_total', { method: 'DELETE', status: '404' })).toBe(1);
      expect(sample(text, 'http_requests_total', { method: 'other', status: '200' })).toBe(1);
      expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET' })).toBe(2);
      // A second middleware on the same registry shares the metrics instead of throwing.
      expect(() => httpMetricsMiddleware(registry)).not.toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('gateway security metrics (issue 11)', () => {
  it('expose registration refusals by reason, Echo outcomes and Block1 evictions from plain counters', async () => {
    const binding = { checked: 4, mismatches: 1, unprovisioned: 0, insecure: 3, policy: 2 };
    const echo = { challenged: 10, verified: 2, invalid: 1 };
    const block1 = { transfers: 5, bufferedBytes: 4096, evicted: 7, tooLarge: 1 };
    const sources: GatewayMetricsSources = {
      dtls: () => undefined,
      coap: () => undefined,
      cluster: () => undefined,
      notifications: () => 0,
      security: () => ({ binding, echo, block1 }),
    };
    const metrics = await startGatewayMetrics({ port: 0, host: '127.0.0.1', sources });
    servers.push(metrics);
    const t = (await scrape(metrics.port)).text;
    expect(sample(t, 'lwm2m_registration_refusals_total', { reason: 'insecure' })).toBe(3);
    expect(sample(t, 'lwm2m_registration_refusals_total', { reason: 'policy' })).toBe(2);
    expect(sample(t, 'lwm2m_registration_refusals_total', { reason: 'checked' })).toBeUndefined();
    expect(sample(t, 'coap_echo_total', { outcome: 'challenged' })).toBe(10);
    expect(sample(t, 'coap_block1_evicted_total')).toBe(7);
    expect(sample(t, 'coap_block1_buffered_bytes')).toBe(4096);
    binding.insecure++;
    const again = (await scrape(metrics.port)).text;
    expect(sample(again, 'lwm2m_registration_refusals_total', { reason: 'insecure' })).toBe(4);
  });
});

describe('bootstrap metrics (issue 16)', () => {
  it('expose Bootstrap-Requests, sessions new and resumed, finished, failed by step and refused by reason', async () => {
    const counters = {
      requests: 12,
      started: 4,
      resumed: 1,
      finished: 3,
      failed: 2,
      failedByStep: { write: 1, finish: 1 } as Record<string, number>,
      rateLimited: 5,
      unknownEndpoint: 1,
      badRequest: 0,
      insecure: 2,
      busy: 0,
      packs: 1,
    };
    let enabled = true;
    const sources: GatewayMetricsSources = {
      dtls: () => undefined,
      coap: () => undefined,
      cluster: () => undefined,
      notifications: () => 0,
      bootstrap: () => (enabled ? counters : undefined),
    };
    const metrics = await startGatewayMetrics({ port: 0, host: '127.0.0.1', sources });
    servers.push(metrics);
    const t = (await scrape(metrics.port)).text;
    expect(sample(t, 'bootstrap_requests_total')).toBe(12);
    expect(sample(t, 'bootstrap_sessions_started_total', { kind: 'new' })).toBe(4);
    expect(sample(t, 'bootstrap_sessions_started_total', { kind: 'resumed' })).toBe(1);
    expect(sample(t, 'bootstrap_finished_total')).toBe(3);
    expect(sample(t, 'bootstrap_failed_total', { step: 'write' })).toBe(1);
    expect(sample(t, 'bootstrap_failed_total', { step: 'finish' })).toBe(1);
    expect(sample(t, 'bootstrap_refused_total', { reason: 'security' })).toBe(2);
    expect(sample(t, 'bootstrap_refused_total', { reason: 'rate' })).toBe(5);
    counters.failedByStep.delete = 1;
    expect(sample((await scrape(metrics.port)).text, 'bootstrap_failed_total', { step: 'delete' })).toBe(1);
    // BOOTSTRAP_ENABLED off: no labelled series.
    enabled = false;
    const off = (await scrape(metrics.port)).text;
    expect(sample(off, 'bootstrap_failed_total', { step: 'write' })).toBeUndefined();
  });
});
