import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { join } from 'node:path';
import { type GatewayConfig, GatewayWorkers } from '@lwm2m/gateway';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';

/**
 * GATEWAY_WORKERS > 1: the main thread's part (libs/gateway GatewayWorkers: the sockets, the node lease, the
 * command streams) in the Nest lifecycle; the stacks run in worker threads (worker.ts).
 */
@Injectable()
export class GatewayWorkersService implements OnModuleInit, OnApplicationShutdown {
  workers?: GatewayWorkers;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly ports: GatewayPorts,
  ) {}

  async onModuleInit(): Promise<void> {
    const logger = new Logger('gateway');
    // The compiled worker next to this file (dist), or its source under a TypeScript loader (tests).
    const entry = join(__dirname, __filename.endsWith('.ts') ? 'worker.ts' : 'worker.js');
    this.workers = await GatewayWorkers.start({
      config: this.config,
      entry,
      stores: this.ports,
      logger,
      // A test kills one worker through the metrics port (POST /test/workers/<i>/crash); never in production.
      testHooks: process.env.GATEWAY_TEST_HOOKS === '1',
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.workers?.close();
  }
}
