import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  CoapCode,
  CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  serializeLinkFormat,
} from '@lwm2m/coap';
import type { DtlsServer } from '@lwm2m/dtls';
import { Lwm2mServer } from '@lwm2m/server';
import { UdpTransport } from '@lwm2m/udp';
import { createCoapsServer } from './coaps';
import type { GatewayConfig } from './config';
import { GatewayTransport } from './gateway-transport';
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
  private coapsUdp?: UdpTransport;
  /** CoAP over DTLS on COAPS_PORT (its sessions and counters). */
  dtls?: DtlsServer;
  private stopServing?: () => Promise<void>;
  endpoint?: CoapEndpoint;
  server?: Lwm2mServer;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly ports: GatewayPorts,
  ) {}

  async onModuleInit(): Promise<void> {
    const host = this.config.COAP_HOST;
    const bind = (port: number) =>
      UdpTransport.bind({
        type: host.includes(':') ? 'udp6' : 'udp4',
        address: host,
        port,
        logger: { warn: (m, c) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`) },
      });
    // NoSec CoAP (5683) is optional: a deployment that requires DTLS sets COAP_NOSEC=false.
    if (this.config.COAP_NOSEC) this.udp = await bind(this.config.COAP_PORT);
    this.coapsUdp = await bind(this.config.COAPS_PORT);
    this.dtls = createCoapsServer({
      transport: this.coapsUdp,
      credentials: this.ports.credentials,
      config: this.config,
      logger: {
        debug: (m, c) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
        warn: (m, c) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
      },
    });
    // One endpoint over both: one LwM2M server (one DeviceClient, one expiry worker) for 5683 and 5684.
    const both = new GatewayTransport(this.udp, this.dtls);
    const transport = new TouchingTransport(both, (peer) => {
      this.server
        ?.touch(both.peerKey(peer), peer)
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
      credentials: this.ports.credentials,
      awakeWindowMs: this.config.AWAKE_WINDOW_MS,
      ...(this.ports.deliveries ? { deliveries: this.ports.deliveries } : {}),
    });
    const server = this.server;
    this.endpoint.setHandler((req) => this.discovery(req) ?? server.handleRequest(req));
    server.start();
    this.stopServing = await this.ports.commands.serve((cmd) => server.runCommand(cmd));
    if (this.udp) {
      const { address, port } = this.udp.address();
      this.logger.log(`LwM2M server (CoAP NoSec) listening on udp ${address}:${port}`);
    }
    const coaps = this.coapsUdp.address();
    this.logger.log(`LwM2M server (CoAP over DTLS) listening on udp ${coaps.address}:${coaps.port}`);
  }

  /** The NoSec CoAP socket (COAP_PORT). */
  address(): { address: string; port: number } {
    if (!this.udp) throw new Error('CoAP NoSec endpoint not started (or disabled by COAP_NOSEC=false)');
    return this.udp.address();
  }

  /** The CoAP over DTLS socket (COAPS_PORT). */
  secureAddress(): { address: string; port: number } {
    if (!this.coapsUdp) throw new Error('CoAP over DTLS endpoint not started');
    return this.coapsUdp.address();
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
