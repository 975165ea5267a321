import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createGatewayStack, type GatewayConfig, type GatewayStack } from '@lwm2m/gateway';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';

/** The gateway stack (libs/gateway) in the Nest lifecycle: started on init, closed on shutdown. */
@Injectable()
export class CoapServerService implements OnModuleInit, OnApplicationShutdown {
  readonly stack: GatewayStack;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig, @Inject(GATEWAY_PORTS) ports: GatewayPorts) {
    this.stack = createGatewayStack(config, ports, { logger: new Logger('gateway') });
  }

  onModuleInit(): Promise<void> {
    return this.stack.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.stack.close();
  }

  // What the apps and the tests read of the running gateway.
  get dtls() {
    return this.stack.dtls;
  }
  get endpoint() {
    return this.stack.endpoint;
  }
  get server() {
    return this.stack.server;
  }
  get echo() {
    return this.stack.echo;
  }
  get membership() {
    return this.stack.membership;
  }
  get warnings() {
    return this.stack.warnings;
  }
  get serving(): boolean {
    return this.stack.serving;
  }
  get nosecTransport() {
    return this.stack.nosecUdp;
  }
  drain(): Promise<void> {
    return this.stack.drain();
  }
  metricSources() {
    return this.stack.counters();
  }
  mount(handler: Parameters<GatewayStack['mount']>[0]): void {
    this.stack.mount(handler);
  }

  /** The NoSec CoAP socket (COAP_PORT). */
  address(): { address: string; port: number } {
    const { coap } = this.stack.addresses();
    if (!coap) throw new Error('CoAP NoSec endpoint not started (or disabled by COAP_NOSEC=false)');
    return coap;
  }

  /** The CoAP over DTLS socket (COAPS_PORT). */
  secureAddress(): { address: string; port: number } {
    return this.stack.addresses().coaps;
  }

  /** The cluster link socket (CLUSTER_PORT), in cluster mode. */
  clusterAddress(): { address: string; port: number } | undefined {
    return this.stack.addresses().link;
  }
}
