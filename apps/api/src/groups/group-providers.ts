// Nest wiring of fleet group operations: the domain service the controller calls and this process's runner,
// started with the module and stopped before the Redis connections close. The runner drives any unfinished
// group request whose lease lapsed, so requests survive a restart of the api that accepted them.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type Provider,
} from '@nestjs/common';
import { CommandDispatcher, GroupOperations, GroupRunner, InMemoryGroupStore } from '@lwm2m/groups';
import { registerGroupMetrics } from '@lwm2m/metrics';
import type { Registry } from 'prom-client';
import type { ApiOptions, ApiPorts } from '../tokens';
import { GROUP_RUNNER, GROUPS, METRICS_REGISTRY } from '../tokens';
import { LazyMulticastSender } from './multicast';

const MULTICAST = Symbol('LazyMulticastSender');

@Injectable()
export class GroupRunnerLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(GROUP_RUNNER) private readonly runner: GroupRunner,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(MULTICAST) private readonly multicast: LazyMulticastSender | null,
  ) {
    registerGroupMetrics(registry, () => ({
      ...runner.counters,
      running: runner.running,
      ...(multicast?.counters ? { multicast: multicast.counters } : {}),
    }));
  }

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.runner.close();
    await this.multicast?.close();
  }
}

export function groupProviders(ports: ApiPorts, options: ApiOptions['groups'] = {}): Provider[] {
  const logger = new Logger('groups');
  const store = ports.groups ?? new InMemoryGroupStore();
  const multicast =
    options.multicast === false
      ? undefined
      : new LazyMulticastSender(
          {
            ...(options.multicast ?? {}),
            maxTimeoutSeconds: Math.ceil((options.defaults?.maxDeadlineMs ?? 86_400_000) / 1000),
            // A multicast request's results are bounded like a filter's members (spoofed answers included).
            maxServers: options.limits?.maxMembers ?? 100_000,
          },
          (m) => logger.warn(m),
        );
  const runner = new GroupRunner({
    store,
    dispatcher: new CommandDispatcher({
      bus: ports.commands,
      registrations: ports.registrations,
      ...(ports.requests ? { queue: ports.requests } : {}),
      warn: (m) => logger.warn(m),
    }),
    // A queued member settles on its request's final event, not only on the next poll.
    events: ports.events,
    ...(multicast ? { multicast } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.scanMs !== undefined ? { scanMs: options.scanMs } : {}),
    warn: (m) => logger.warn(m),
  });
  const operations = new GroupOperations({
    store,
    registrations: ports.registrations,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.defaults ? { defaults: options.defaults } : {}),
    multicast: multicast !== undefined,
    kick: (id) => runner.kick(id),
  });
  return [
    { provide: GROUP_RUNNER, useValue: runner },
    { provide: GROUPS, useValue: operations },
    // Nest wants a defined value: null when GROUP_MULTICAST=off.
    { provide: MULTICAST, useValue: multicast ?? null },
    GroupRunnerLifecycle,
  ];
}
