// The gateway's LwM2M Bootstrap-Server (libs/bootstrap) on its own ports: NoSec UDP BOOTSTRAP_PORT (5783,
// with OSCORE: the configurations' bootstrapOscore contexts, through the LwM2M server's OSCORE seam) and DTLS
// BOOTSTRAP_SECURE_PORT (5784: PSK identities of the bootstrap configurations, X.509 when the gateway has a
// key and trust anchors, with CID), under the same handshake limits as COAPS_PORT.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  bootstrapPskLookup,
  createBootstrapServer,
  type RunningBootstrapServer,
  x509IssuerFromPem,
} from '@lwm2m/bootstrap';
import { DtlsServer, IdentifiedDtlsTransport } from '@lwm2m/dtls';
import { InMemorySequenceLeaseStore, type OscoreSeam } from '@lwm2m/oscore';
import { UdpTransport } from '@lwm2m/udp';
import { dtlsLimits, serverKeyFiles } from './coaps';
import { createGatewayOscoreSeam, OscoreContexts } from './oscore';
import type { GatewayConfig } from './config';
import type { GatewayLogger, GatewayStores } from './ports';

export interface GatewayBootstrap {
  running: RunningBootstrapServer;
  /** The bootstrap port's DTLS server (its counters: handshakes a wrong bootstrap key fails). */
  dtls: DtlsServer;
  /** The NoSec port's OSCORE seam (its counters: verified, replayed, undecryptable requests). */
  oscore: OscoreSeam;
  addresses: { port: number; securePort: number };
  close(): Promise<void>;
}

/** Binds both ports and serves bootstrap on the shared stores; undefined when BOOTSTRAP_ENABLED is off. */
export async function startGatewayBootstrap(
  config: GatewayConfig,
  stores: GatewayStores,
  logger: GatewayLogger,
): Promise<GatewayBootstrap | undefined> {
  if (!config.BOOTSTRAP_ENABLED) return undefined;
  const { bootstrapConfigs: configs, bootstrapSessions: sessions } = stores;
  if (configs === undefined || sessions === undefined)
    throw new Error('BOOTSTRAP_ENABLED: the gateway was given no bootstrap stores');
  const host = config.COAP_HOST;
  const bind = (port: number) =>
    UdpTransport.bind({ type: host.includes(':') ? 'udp6' : 'udp4', address: host, port });
  const udp = await bind(config.BOOTSTRAP_PORT);
  const secureUdp = await bind(config.BOOTSTRAP_SECURE_PORT);
  const log = {
    debug: (m: string, c?: Record<string, unknown>) => logger.debug?.(`${m} ${JSON.stringify(c ?? {})}`),
    warn: (m: string, c?: Record<string, unknown>) => logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
  };
  const { privateKey, chain, anchors } = serverKeyFiles(config);
  const dtls = new DtlsServer({
    transport: secureUdp,
    psk: bootstrapPskLookup(configs, (err) =>
      log.warn('bootstrap: PSK lookup failed', { error: String(err) }),
    ),
    ...dtlsLimits(config),
    // X.509 clients (a certificate naming the endpoint) when the gateway has a key and trust anchors.
    ...(privateKey !== undefined && anchors !== undefined
      ? {
          certificate: { privateKey, ...(chain !== undefined ? { chain: [chain] } : {}) },
          trustAnchors: [anchors],
        }
      : {}),
    logger: log,
  });
  // RFC 8613 on the NoSec port: the LwM2M server's OSCORE machinery (contexts by kid, leased sequence numbers,
  // Echo-initialised replay windows, the server's operations protected) over the bootstrapOscore contexts.
  const oscoreContexts = new OscoreContexts({
    credentials: {
      oscoreByKid: (kid) => configs.bootstrapOscoreByKid(kid),
      oscoreOf: async (endpoint) => (await configs.get(endpoint))?.bootstrapOscore,
    },
    sequences: stores.oscoreSequences ?? new InMemorySequenceLeaseStore(),
    sequencePrefix: 'bs:',
    warn: (m, c) => log.warn(`bootstrap: ${m}`, c),
  });
  const oscore = createGatewayOscoreSeam(oscoreContexts);
  const running = createBootstrapServer({
    transports: [{ transport: udp, seam: oscore }, new IdentifiedDtlsTransport(dtls)],
    configs,
    sessions,
    credentials: stores.credentials,
    events: stores.events,
    nodeId: config.NODE_ID,
    // RPK accounts pin this gateway's own key unless their configuration names another.
    ...(privateKey !== undefined
      ? { lwm2mServerPublicKey: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }) }
      : {}),
    // X.509 accounts: the gateway's certificate as /0/x/4, client certificates issued by its CA.
    ...(chain !== undefined ? { lwm2mServerCertificate: new X509Certificate(chain).raw } : {}),
    ...(config.DTLS_CA_KEY_FILE !== undefined && anchors !== undefined
      ? {
          x509Issuer: x509IssuerFromPem(
            createPrivateKey(readFileSync(config.DTLS_CA_KEY_FILE, 'utf8')),
            anchors,
          ),
        }
      : {}),
    // A session of a node killed mid-sequence is continued elsewhere once this has passed, as DTLS sessions are.
    leaseMs: config.CLUSTER_LEASE_MS,
    logger: log,
  });
  const addresses = { port: udp.address().port, securePort: secureUdp.address().port };
  logger.log(`Bootstrap-Server on udp ${host}:${addresses.port} and dtls ${host}:${addresses.securePort}`);
  return { running, dtls, oscore, addresses, close: () => running.close() };
}
