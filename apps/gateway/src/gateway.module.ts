import { type DynamicModule, Module } from '@nestjs/common';
import { BootstrapServerService } from './bootstrap-server.service';
import { CoapServerService } from './coap-server.service';
import { GatewayWorkersService } from './gateway-workers.service';
import type { GatewayConfig } from './config';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';

@Module({})
export class GatewayModule {
  /** The single-node start and the tests pass the shared state (Redis or in-memory) and a validated config. */
  static forRoot(opts: { ports: GatewayPorts; config: GatewayConfig }): DynamicModule {
    return {
      module: GatewayModule,
      providers: [
        { provide: GATEWAY_PORTS, useValue: opts.ports },
        { provide: GATEWAY_CONFIG, useValue: opts.config },
        CoapServerService,
        BootstrapServerService,
      ],
      exports: [CoapServerService, BootstrapServerService],
    };
  }

  /** GATEWAY_WORKERS > 1: the stacks run in worker threads; this process's main thread routes to them. */
  static forWorkers(opts: { ports: GatewayPorts; config: GatewayConfig }): DynamicModule {
    return {
      module: GatewayModule,
      providers: [
        { provide: GATEWAY_PORTS, useValue: opts.ports },
        { provide: GATEWAY_CONFIG, useValue: opts.config },
        GatewayWorkersService,
        BootstrapServerService,
      ],
      exports: [GatewayWorkersService, BootstrapServerService],
    };
  }
}
