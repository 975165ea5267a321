// The gateway's Bootstrap-Server (libs/gateway startGatewayBootstrap) in the Nest lifecycle; off unless
// BOOTSTRAP_ENABLED.
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { type GatewayBootstrap, startGatewayBootstrap } from '@lwm2m/gateway';
import type { GatewayConfig } from './config';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';

@Injectable()
export class BootstrapServerService implements OnModuleInit, OnApplicationShutdown {
  private bootstrap?: GatewayBootstrap;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly stores: GatewayPorts,
  ) {}

  async onModuleInit(): Promise<void> {
    this.bootstrap = await startGatewayBootstrap(this.config, this.stores, new Logger('bootstrap'));
  }

  /** The bound ports, undefined when disabled. */
  addresses(): { port: number; securePort: number } | undefined {
    return this.bootstrap?.addresses;
  }

  /**
   * The Bootstrap-Server's counters, its DTLS port's failed handshakes and its NoSec port's OSCORE requests
   * (libs/metrics bootstrap_*).
   */
  counters() {
    const b = this.bootstrap;
    return (
      b && {
        ...b.running.server.counters,
        dtlsHandshakesFailed: b.dtls.counters.handshakesFailed,
        oscoreRequests: b.oscore.counters.requests,
      }
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bootstrap?.close();
  }
}
