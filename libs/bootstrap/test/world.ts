// A Bootstrap-Server and an LwM2M server on real UDP sockets (127.0.0.1), sharing one credential store, as the
// gateway runs them: what the bootstrap writes to a device is what the LwM2M server's DTLS port accepts.
import { CoapEndpoint } from '@lwm2m/coap';
import { DtlsServer, IdentifiedDtlsTransport } from '@lwm2m/dtls';
import {
  createInMemoryStores,
  type InMemoryStores,
  Lwm2mServer,
  type CredentialStore,
  type EventBus,
} from '@lwm2m/server';
import {
  BootstrapClient,
  type BootstrapClientOptions,
  createDtlsTransport,
  type DeviceSecurity,
  peerOfUri,
  SimulatedDevice,
} from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import {
  bootstrapPskLookup,
  type BootstrapConfigStore,
  type BootstrapSessionStore,
  createBootstrapServer,
  type CreateBootstrapServerOptions,
  InMemoryBootstrapConfigStore,
  InMemoryBootstrapSessionStore,
  type RunningBootstrapServer,
} from '../src';

export interface LwM2mSide {
  stores: InMemoryStores;
  server: Lwm2mServer;
  coapsPort: number;
  close(): Promise<void>;
}

/** The LwM2M server's DTLS port: PSKs from the credential store (the gateway's lookup). */
export async function startLwm2mServer(stores = createInMemoryStores()): Promise<LwM2mSide> {
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const dtls = new DtlsServer({
    transport: udp,
    psk: async (identity) => (await stores.credentials.pskByIdentity(identity.toString('utf8')))?.key,
  });
  const coap = new CoapEndpoint({ transport: new IdentifiedDtlsTransport(dtls) });
  const server = new Lwm2mServer({
    endpoint: coap,
    registrations: stores.registrations,
    observations: stores.observations,
    values: stores.values,
    events: stores.events,
    credentials: stores.credentials,
    securityPolicy: 'require-secure',
  });
  server.start();
  return {
    stores,
    server,
    coapsPort: udp.address().port,
    async close() {
      await server.stop();
      await coap.close();
    },
  };
}

export interface BootstrapSide {
  running: RunningBootstrapServer;
  port: number;
  securePort: number;
}

/** A Bootstrap-Server on a NoSec and a DTLS port. */
export async function startBootstrapServer(opts: {
  configs: BootstrapConfigStore;
  sessions?: BootstrapSessionStore;
  credentials: CredentialStore;
  events: EventBus;
  nodeId?: string;
  extra?: Partial<CreateBootstrapServerOptions>;
}): Promise<BootstrapSide> {
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const udpSecure = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const dtls = new DtlsServer({ transport: udpSecure, psk: bootstrapPskLookup(opts.configs) });
  const running = createBootstrapServer({
    transports: [udp, new IdentifiedDtlsTransport(dtls)],
    configs: opts.configs,
    sessions: opts.sessions ?? new InMemoryBootstrapSessionStore(),
    credentials: opts.credentials,
    events: opts.events,
    nodeId: opts.nodeId ?? 'bs-1',
    requestTimeoutMs: 3000,
    // Every test's client comes from 127.0.0.1; the flood test's stranger from 127.0.0.2.
    rate: { perSecond: 5, burst: 10 },
    ...opts.extra,
  });
  return { running, port: udp.address().port, securePort: udpSecure.address().port };
}

/** A simulated client's bootstrap: over NoSec, or DTLS with `security`. */
export async function bootstrapClient(
  endpoint: string,
  ports: number[],
  security?: DeviceSecurity,
  extra: Partial<BootstrapClientOptions> = {},
  address = '127.0.0.1',
): Promise<BootstrapClient> {
  const udp = await UdpTransport.bind({ address, port: 0 });
  return new BootstrapClient({
    endpoint,
    transport: security ? createDtlsTransport(udp, security) : udp,
    servers: ports.map((port) => ({ address: '127.0.0.1', port })),
    preferredContentFormat: 112,
    timeoutMs: 15_000,
    ...extra,
  });
}

/** Registers with the account the bootstrap wrote (PSK over DTLS) and returns the started device. */
export async function registerAsBootstrapped(
  endpoint: string,
  client: BootstrapClient,
  psk?: { identity: string; key: Buffer },
): Promise<SimulatedDevice> {
  const outcome = client.outcome();
  const account = outcome.servers[0]!;
  const key = psk ?? account.psk!;
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const dev = new SimulatedDevice({
    endpoint,
    transport: createDtlsTransport(udp, { psk: key }),
    server: peerOfUri(account.uri),
    lifetime: account.lifetime,
    updateAt: 0,
    requestTimeoutMs: 3000,
    bootstrapped: outcome.objects,
  });
  return dev;
}

export { InMemoryBootstrapConfigStore, InMemoryBootstrapSessionStore };
