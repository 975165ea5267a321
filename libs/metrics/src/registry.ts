// A prom-client Registry per app (never the global one): two apps in one process (the single-node start,
// tests) each keep their own metrics.
import { collectDefaultMetrics, Registry } from 'prom-client';

/** The port of every app's metrics server in the manifests (k8s/base), also the default of METRICS_PORT. */
export const DEFAULT_METRICS_PORT = 9464;

export interface MetricsRegistryOptions {
  /** Default true: process and Node.js metrics (CPU, memory, event-loop lag, GC, handles). */
  defaultMetrics?: boolean;
}

/**
 * A new Registry with prom-client's default process metrics (process_*, nodejs_*) and `defaultLabels` on
 * every series. Each call starts its own default collectors (an event-loop delay monitor and a GC
 * observer), so create one per app, not one per request.
 */
export function createMetricsRegistry(
  defaultLabels?: Record<string, string>,
  options: MetricsRegistryOptions = {},
): Registry {
  const registry = new Registry();
  if (defaultLabels && Object.keys(defaultLabels).length > 0) registry.setDefaultLabels(defaultLabels);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}
