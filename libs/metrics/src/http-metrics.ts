// Request counters of an HTTP server (the api's REST routes), as Connect/Express-style middleware on
// node:http types. Labels are the method and the status code only: never the path, whose device names
// would make one series per device.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';

export const HTTP_REQUESTS_TOTAL = 'http_requests_total';
export const HTTP_REQUEST_DURATION_SECONDS = 'http_request_duration_seconds';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface HttpMetrics {
  requests: Counter<'method' | 'status'>;
  duration: Histogram<'method'>;
  /** Counts one finished request. */
  observe(method: string | undefined, status: number, seconds?: number): void;
}

/**
 * Registers http_requests_total{method,status} and http_request_duration_seconds{method} (once per
 * registry: a second call returns the same metrics).
 */
export function registerHttpMetrics(registry: Registry): HttpMetrics {
  const requests =
    (registry.getSingleMetric(HTTP_REQUESTS_TOTAL) as Counter<'method' | 'status'> | undefined) ??
    new Counter({
      name: HTTP_REQUESTS_TOTAL,
      help: 'HTTP requests answered, by method and status code',
      labelNames: ['method', 'status'] as const,
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric(HTTP_REQUEST_DURATION_SECONDS) as Histogram<'method'> | undefined) ??
    new Histogram({
      name: HTTP_REQUEST_DURATION_SECONDS,
      help: 'Time from request to the end of the response (event streams are not timed)',
      labelNames: ['method'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  return {
    requests,
    duration,
    observe(rawMethod, status, seconds) {
      const method = rawMethod && METHODS.has(rawMethod) ? rawMethod : 'other';
      requests.inc({ method, status: String(status) });
      if (seconds !== undefined) duration.observe({ method }, seconds);
    },
  };
}

/**
 * Middleware counting every request when its response ends or its connection closes (a client that
 * leaves an event stream included). Responses of type text/event-stream are counted but not timed.
 */
export function httpMetricsMiddleware(
  registry: Registry,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const metrics = registerHttpMetrics(registry);
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('close', () => {
      const type = String(res.getHeader('content-type') ?? '');
      const seconds = type.startsWith('text/event-stream')
        ? undefined
        : Number(process.hrtime.bigint() - start) / 1e9;
      metrics.observe(req.method, res.statusCode, seconds);
    });
    next();
  };
}
