import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  CoapCode,
  CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  serializeLinkFormat,
} from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';
import type { GatewayConfig } from './config';

/**
 * Adapts the framework-free CoAP endpoint to the Nest lifecycle: binds UDP on init, closes on shutdown.
 * The LwM2M server endpoints (/rd, /dp) plug in here with the server issue.
 */
@Injectable()
export class CoapServerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('coap');
  private transport?: UdpTransport;
  endpoint?: CoapEndpoint;

  constructor(private readonly config: ConfigService<GatewayConfig, true>) {}

  async onModuleInit(): Promise<void> {
    const host = this.config.get('COAP_HOST', { infer: true });
    this.transport = await UdpTransport.bind({
      type: host.includes(':') ? 'udp6' : 'udp4',
      address: host,
      port: this.config.get('COAP_PORT', { infer: true }),
      logger: { warn: (m, c) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`) },
    });
    this.endpoint = new CoapEndpoint({
      transport: this.transport,
      handler: (req) => this.handle(req),
      logger: {
        debug: (m, c) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
        warn: (m, c) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
      },
    });
    const { address, port } = this.transport.address();
    this.logger.log(`CoAP endpoint listening on udp ${address}:${port}`);
  }

  address(): { address: string; port: number } {
    if (!this.transport) throw new Error('CoAP endpoint not started');
    return this.transport.address();
  }

  private handle(req: IncomingRequest): OutgoingResponse {
    // RFC 6690 section 4: resource discovery. The registration interface (/rd) arrives with the server issue.
    if (req.code === CoapCode.GET && req.path.join('/') === '.well-known/core') {
      return {
        code: CoapCode.CONTENT,
        contentFormat: 40,
        payload: serializeLinkFormat([
          { target: '/rd', attributes: [{ name: 'rt', value: 'core.rd', quoted: true }] },
        ]),
      };
    }
    return { code: CoapCode.NOT_FOUND };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.endpoint?.close();
    await this.transport?.close();
  }
}
