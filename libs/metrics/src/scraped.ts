// Metrics read at scrape time from the plain counter objects the protocol code keeps (DtlsCounters, the
// CoAP endpoint's stats, ...): the datagram path only does `counters.x++`, and prom-client runs only when
// Prometheus asks (its collect() callbacks).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface LabelledValue<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/**
 * What a scraped metric reads: one number (a metric without labels), one number per label set, or
 * undefined when its source is absent (e.g. DTLS not started). An absent source gives no series for a
 * labelled metric and 0 for a metric without labels (prom-client always shows those).
 */
export type ScrapedValue<L extends string> = number | undefined | readonly LabelledValue<L>[];

export interface ScrapedMetricSpec<L extends string = never> {
  name: string;
  help: string;
  /** counter: a running total (_total names); gauge: a level that goes up and down. */
  type: 'counter' | 'gauge';
  labelNames?: readonly L[];
  /** Called at every scrape. A rejected promise or a throw leaves the metric without series for that scrape. */
  read(): ScrapedValue<L> | Promise<ScrapedValue<L>>;
}

function valid(type: 'counter' | 'gauge', value: number): boolean {
  return Number.isFinite(value) && (type === 'gauge' || value >= 0);
}

/** Registers one metric whose value `spec.read()` gives at scrape time. */
export function registerScrapedMetric<L extends string = never>(
  registry: Registry,
  spec: ScrapedMetricSpec<L>,
): Counter<L> | Gauge<L> {
  const labelNames = spec.labelNames ?? [];
  const apply = (value: ScrapedValue<L>): void => {
    metric.reset();
    if (value === undefined) return;
    if (typeof value === 'number') {
      if (!valid(spec.type, value)) return;
      if (metric instanceof Counter) metric.inc(value);
      else metric.set(value);
      return;
    }
    for (const { labels, value: v } of value) {
      if (!valid(spec.type, v)) continue;
      if (metric instanceof Counter) metric.inc(labels as never, v);
      else metric.set(labels as never, v);
    }
  };
  const collect = (): void | Promise<void> => {
    let value: ScrapedValue<L> | Promise<ScrapedValue<L>>;
    try {
      value = spec.read();
    } catch {
      metric.reset();
      return;
    }
    if (value instanceof Promise) {
      return value.then(apply, () => metric.reset());
    }
    apply(value);
  };
  const config = { name: spec.name, help: spec.help, labelNames, registers: [registry], collect };
  // collect() runs only at scrape time, after this assignment.
  const metric: Counter<L> | Gauge<L> =
    spec.type === 'counter' ? new Counter<L>(config) : new Gauge<L>(config);
  return metric;
}

/** registerScrapedMetric for each spec. */
export function registerScrapedMetrics(
  registry: Registry,
  specs: readonly ScrapedMetricSpec<string>[],
): void {
  for (const spec of specs) registerScrapedMetric(registry, spec);
}
