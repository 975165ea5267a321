// A tiny node:http server for Prometheus: GET /metrics, plus the few extra routes an app without an HTTP
// server of its own needs next to it (k8s probes /healthz and /readyz, the gateway's POST /drain).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** What an extra route answers; an object body is sent as JSON. */
export interface MetricsRouteResult {
  status: number;
  body?: string | object;
  contentType?: string;
}

/** An extra route; a throw or rejection answers 500. */
export type MetricsRoute = (req: IncomingMessage) => MetricsRouteResult | Promise<MetricsRouteResult>;

export interface MetricsServerOptions {
  /** 0 picks a free port (see MetricsServer.port). */
  port: number;
  /** Listen address; default Node's (every interface). */
  host?: string;
  registry: Registry;
  /** Extra routes keyed by "METHOD /path", e.g. { 'GET /healthz': () => ({ status: 200, body: 'ok' }) }. */
  routes?: Record<string, MetricsRoute>;
}

export interface MetricsServer {
  /** The bound port (the free one picked for port 0). */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head = false): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/**
 * The request handler of startMetricsServer: GET (or HEAD) /metrics answers the registry's exposition
 * text with its content type, a configured route its own answer, anything else 404. Usable on any
 * node:http server.
 */
export function metricsRequestHandler(
  registry: Registry,
  routes: Record<string, MetricsRoute> = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?', 1)[0];
    const head = method === 'HEAD';
    const fail = (err: unknown): void => {
      if (res.headersSent) res.destroy();
      else
        send(res, 500, 'text/plain; charset=utf-8', `${err instanceof Error ? err.message : String(err)}\n`);
    };
    if (path === '/metrics' && (method === 'GET' || head)) {
      registry.metrics().then((text) => send(res, 200, registry.contentType, text, head), fail);
      return;
    }
    const route = routes[`${method} ${path}`] ?? (head ? routes[`GET ${path}`] : undefined);
    if (!route) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
      return;
    }
    Promise.resolve()
      .then(() => route(req))
      .then((r) => {
        const json = r.body !== undefined && typeof r.body !== 'string';
        const body = r.body === undefined ? '' : json ? JSON.stringify(r.body) : (r.body as string);
        const type =
          r.contentType ?? (json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
        send(res, r.status, type, body, head);
      }, fail)
      .catch(fail);
  };
}

/** Starts an HTTP server answering GET /metrics from `registry` (and `routes`); resolves once listening. */
export function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer(metricsRequestHandler(options.registry, options.routes));
  // Scrapers and probes send small requests; do not let a slow client hold a socket for minutes.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive connections (fetch keeps them) would hold close() open until they time out.
            server.closeAllConnections();
          }),
      });
    });
  });
}
