// The LwM2M Bootstrap-Server of the gateway (libs/bootstrap), on its own ports: NoSec UDP BOOTSTRAP_PORT
// (5783) and DTLS BOOTSTRAP_SECURE_PORT (5784, PSK identities of the bootstrap configurations, with CID).
// Off unless BOOTSTRAP_ENABLED. Nest lifecycle only: the protocol is createBootstrapServer's.
import { readFileSync } from 'node:fs';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { bootstrapPskLookup, createBootstrapServer, type RunningBootstrapServer } from '@lwm2m/bootstrap';
import { DtlsServer, IdentifiedDtlsTransport } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';
import type { GatewayConfig } from './config';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';

@Injectable()
export class BootstrapServerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('bootstrap');
  private running?: RunningBootstrapServer;
  private ports: { port: number; securePort: number } | undefined;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly stores: GatewayPorts,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.BOOTSTRAP_ENABLED) return;
    const { bootstrapConfigs: configs, bootstrapSessions: sessions } = this.stores;
    if (configs === undefined || sessions === undefined)
      throw new Error('BOOTSTRAP_ENABLED: the gateway was given no bootstrap stores');
    const host = this.config.COAP_HOST;
    const bind = (port: number) =>
      UdpTransport.bind({ type: host.includes(':') ? 'udp6' : 'udp4', address: host, port });
    const udp = await bind(this.config.BOOTSTRAP_PORT);
    const secureUdp = await bind(this.config.BOOTSTRAP_SECURE_PORT);
    const log = {
      debug: (m: string, c?: Record<string, unknown>) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
      warn: (m: string, c?: Record<string, unknown>) => this.logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
    };
    const pem = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, 'utf8'));
    const privateKey = pem(this.config.DTLS_KEY_FILE);
    const chain = pem(this.config.DTLS_CERT_FILE);
    const anchors = pem(this.config.DTLS_CA_FILE);
    const c = this.config;
    const dtls = new DtlsServer({
      transport: secureUdp,
      psk: bootstrapPskLookup(configs, (err) =>
        log.warn('bootstrap: PSK lookup failed', { error: String(err) }),
      ),
      cidLength: c.DTLS_CID_LENGTH,
      maxHandshakes: c.DTLS_MAX_HANDSHAKES,
      maxHandshakesPerAddress: c.DTLS_MAX_HANDSHAKES_PER_ADDRESS,
      halfOpenTimeoutMs: c.DTLS_HALF_OPEN_TIMEOUT_MS,
      clientHelloRate: { perSecond: c.DTLS_CLIENT_HELLO_RATE, burst: 2 * c.DTLS_CLIENT_HELLO_RATE },
      helloVerifyRate: { perSecond: c.DTLS_HELLO_VERIFY_RATE, burst: 2 * c.DTLS_HELLO_VERIFY_RATE },
      // X.509 clients (a certificate naming the endpoint) when the gateway has a key and trust anchors.
      ...(privateKey !== undefined && anchors !== undefined
        ? {
            certificate: { privateKey, ...(chain !== undefined ? { chain: [chain] } : {}) },
            trustAnchors: [anchors],
          }
        : {}),
      logger: log,
    });
    this.running = createBootstrapServer({
      transports: [udp, new IdentifiedDtlsTransport(dtls)],
      configs,
      sessions,
      credentials: this.stores.credentials,
      events: this.stores.events,
      nodeId: this.config.NODE_ID,
      logger: log,
    });
    this.ports = { port: udp.address().port, securePort: secureUdp.address().port };
    this.logger.log(
      `Bootstrap-Server on udp ${host}:${this.ports.port} and dtls ${host}:${this.ports.securePort}`,
    );
  }

  /** The bound ports, undefined when disabled. */
  addresses(): { port: number; securePort: number } | undefined {
    return this.ports;
  }

  counters() {
    return this.running?.server.counters;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.running?.close();
  }
}
