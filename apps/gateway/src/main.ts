import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { nestLogLevels } from '@lwm2m/config';
import { type MetricsRoute, startGatewayMetrics } from '@lwm2m/metrics';
import { createGatewayStores, gatewayProbeRoutes } from '@lwm2m/gateway';
import { validateGatewayConfig } from './config';
import { BootstrapServerService } from './bootstrap-server.service';
import { CoapServerService } from './coap-server.service';
import { GatewayModule } from './gateway.module';
import { GatewayWorkersService } from './gateway-workers.service';

/** The gateway as its own process (cluster mode): REDIS_URL is required. */
async function bootstrap(): Promise<void> {
  const config = validateGatewayConfig(process.env);
  const { stores, ports } = createGatewayStores(config, (line) => new Logger('gateway').warn(line));
  // A wrong SECRETS_KEY, or none while the PSKs in Redis are sealed, stops the gateway with a clear message.
  await stores.credentials.verifySecretsKey();
  // GATEWAY_WORKERS > 1: the stacks run in worker threads sharing the ports; this thread routes to them.
  const threaded = config.GATEWAY_WORKERS > 1;
  const module = threaded
    ? GatewayModule.forWorkers({ ports, config })
    : GatewayModule.forRoot({ ports, config });
  // No HTTP server in the gateway: it is a UDP front end. Shutdown hooks close the sockets on SIGTERM.
  const app = await NestFactory.createApplicationContext(module, {
    logger: new ConsoleLogger({
      logLevels: nestLogLevels(config.LOG_LEVEL),
      json: config.LOG_FORMAT === 'json',
    }),
  });
  // What the metrics, probes and the ready line read: the one stack, or the workers' main thread.
  const workers = threaded ? app.get(GatewayWorkersService).workers! : undefined;
  const single = threaded ? undefined : app.get(CoapServerService);
  const svc = workers ?? single!;
  const coaps = workers ? workers.addresses().coaps : single!.secureAddress();
  const link = workers ? workers.addresses().link : single!.clusterAddress();
  const coap = workers ? workers.addresses().coap : config.COAP_NOSEC ? single!.address() : undefined;
  // A test kills one worker thread (GATEWAY_TEST_HOOKS=1 only): its devices must carry on.
  const testRoutes: Record<string, MetricsRoute> = {};
  if (workers && process.env.GATEWAY_TEST_HOOKS === '1')
    for (let i = 0; i < workers.workers; i++)
      testRoutes[`POST /test/workers/${i}/crash`] = () =>
        workers.crash(i) ? { status: 200, body: 'crashed' } : { status: 409, body: 'worker down' };
  // Prometheus metrics and the Kubernetes probes on METRICS_PORT (the gateway has no other HTTP server).
  const metrics = await startGatewayMetrics({
    port: config.METRICS_PORT,
    defaultLabels: { node: svc.membership?.name ?? config.NODE_ID },
    sources: {
      ...(workers ? workers.counters() : single!.metricSources()),
      bootstrap: () => app.get(BootstrapServerService).counters(),
    },
    routes: {
      ...gatewayProbeRoutes({
        serving: () => svc.serving,
        drain: () => svc.drain(),
        ping: () => stores.redis.ping(),
        ...(workers ? { workersDown: () => workers.workersDown } : {}),
      }),
      ...testRoutes,
    },
  });
  app.enableShutdownHooks();
  process.once('beforeExit', () => void metrics.close());
  // One line an operator (and the cluster tests) can read the actual ports from; never any secret.
  console.log(
    [
      `gateway ready: node ${svc.membership ? `${svc.membership.id} (${svc.membership.name})` : config.NODE_ID}`,
      ...(workers ? [`${workers.workers} worker threads`] : []),
      `coaps udp ${coaps.address}:${coaps.port}`,
      ...(coap ? [`coap udp ${coap.address}:${coap.port}`] : []),
      ...(link ? [`cluster link udp ${link.address}:${link.port}`] : []),
      `metrics http :${metrics.port}/metrics`,
    ].join(', '),
  );
  process.once('beforeExit', () => void stores.close());
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
