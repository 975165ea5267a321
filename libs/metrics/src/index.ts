// @lwm2m/metrics: Prometheus metrics for every app (prom-client), framework-free. Protocol code keeps plain
// counters; the metrics here read them when Prometheus scrapes.
export * from './registry';
export * from './scraped';
export * from './server';
export * from './http-metrics';
export * from './audit';
export * from './coap';
export * from './dtls';
export * from './gateway';
export * from './bootstrap';
export * from './group-observer';
export * from './sse';
export * from './groups';
