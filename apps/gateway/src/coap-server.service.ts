import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  CoapCode,
  CoapEndpoint,
  defaultPeerKey,
  type IncomingRequest,
  type OutgoingResponse,
  serializeLinkFormat,
} from '@lwm2m/coap';
import { Lwm2mServer } from '@lwm2m/server';
import { UdpTransport } from '@lwm2m/udp';
import type { GatewayConfig } from './config';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';
import { TouchingTransport } from './touching-transport';

/**
 * Adapts the framework-free LwM2M server to the Nest lifecycle: binds UDP, runs the server on the shared
 * stores, takes device commands from the bus, and closes everything on shutdown.
 */
@Injectable()
export class CoapServerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('gateway');
  private udp?: UdpTransport;
  private stopServing?: () => Promise<void>;
  endpoint?: CoapEndpoint;
  server?: Lwm2mServer;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly ports: GatewayPorts,
  ) {}

  async onModuleInit(): Promise<void> {
    const host = this.config.COAP_HOST;
    this.udp = await UdpTransport.bind({
      type: host.includes(':') ? 'udp6' : 'udp4',
      address: host,
      port: this.config.COAP_PORT,
      logger: { warn: (m, c) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`) },
    });
    const transport = new TouchingTransport(this.udp, (peer) => {
      this.server
        ?.touch(defaultPeerKey(peer), peer)
        .catch((err: unknown) => this.logger.warn(`touch failed: ${String(err)}`));
    });
    const log = {
      debug: (m: string, c?: Record<string, unknown>) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
      warn: (m: string, c?: Record<string, unknown>) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
    };
    this.endpoint = new CoapEndpoint({ transport, logger: log });
    this.server = new Lwm2mServer({
      endpoint: this.endpoint,
      registrations: this.ports.registrations,
      observations: this.ports.observations,
      values: this.ports.values,
      events: this.ports.events,
      nodeId: this.config.NODE_ID,
      logger: log,
      attachHandler: false,
    });
    const server = this.server;
    this.endpoint.setHandler((req) => this.discovery(req) ?? server.handleRequest(req));
    server.start();
    this.stopServing = await this.ports.commands.serve((cmd) => server.runCommand(cmd));
    const { address, port } = this.udp.address();
    this.logger.log(`LwM2M server (CoAP NoSec) listening on udp ${address}:${port}`);
  }

  address(): { address: string; port: number } {
    if (!this.udp) throw new Error('CoAP endpoint not started');
    return this.udp.address();
  }

  /** RFC 6690 section 4: resource discovery; LwM2M clients find the registration interface here. */
  private discovery(req: IncomingRequest): OutgoingResponse | undefined {
    if (req.code !== CoapCode.GET || req.path.join('/') !== '.well-known/core') return undefined;
    return {
      code: CoapCode.CONTENT,
      contentFormat: 40,
      payload: serializeLinkFormat([
        { target: '/rd', attributes: [{ name: 'rt', value: 'core.rd', quoted: true }] },
      ]),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stopServing?.();
    await this.server?.stop();
    await this.endpoint?.close();
  }
}
