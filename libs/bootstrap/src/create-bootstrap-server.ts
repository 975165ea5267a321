// The Bootstrap-Server from injected datagram transports (a UdpTransport on 5783 for NoSec, a DtlsServer on
// 5784 for PSK / X.509 with CID): one CoapEndpoint per transport, one BootstrapServer behind both. The app
// binds the sockets and builds the DtlsServer (its PSK lookup: bootstrapPskLookup below).
import {
  CoapEndpoint,
  type CoapLogger,
  type DatagramTransport,
  type MessageSeam,
  type TransmissionParams,
} from '@lwm2m/coap';
import { BootstrapServer, type BootstrapServerOptions } from './bootstrap-server';
import { MAX_PSK_IDENTITY_BYTES } from '@lwm2m/server';
import type { BootstrapConfigStore } from './ports';

/** Default ports of the gateway's Bootstrap-Server (BOOTSTRAP_PORT / BOOTSTRAP_SECURE_PORT). */
export const DEFAULT_BOOTSTRAP_PORT = 5783;
export const DEFAULT_BOOTSTRAP_SECURE_PORT = 5784;

export interface CreateBootstrapServerOptions extends BootstrapServerOptions {
  /**
   * The transports to serve on (NoSec, DTLS, ...); one given with a seam has it on its endpoint (the NoSec
   * port's OSCORE: libs/gateway createGatewayOscoreSeam over the configurations' bootstrapOscore).
   */
  transports: Array<DatagramTransport | { transport: DatagramTransport; seam: MessageSeam }>;
  coapParams?: Partial<TransmissionParams>;
  coapLogger?: CoapLogger;
}

export interface RunningBootstrapServer {
  server: BootstrapServer;
  endpoints: CoapEndpoint[];
  /** Stops the sessions (their leases are released for another node) and closes the endpoints. */
  close(): Promise<void>;
}

export function createBootstrapServer(opts: CreateBootstrapServerOptions): RunningBootstrapServer {
  const { transports, coapParams, coapLogger, ...serverOpts } = opts;
  const server = new BootstrapServer(serverOpts);
  const endpoints = transports.map(
    (t) =>
      new CoapEndpoint({
        ...('seam' in t ? { transport: t.transport, seam: t.seam } : { transport: t }),
        ...(coapParams ? { params: coapParams } : {}),
        ...(coapLogger ? { logger: coapLogger } : {}),
      }),
  );
  for (const e of endpoints) server.attach(e);
  return {
    server,
    endpoints,
    async close() {
      await server.close();
      await Promise.allSettled(endpoints.map((e) => e.close()));
    },
  };
}

/**
 * The DtlsServer `psk` option of the bootstrap port: bootstrapPsk identities of the configurations. Only
 * identities a configuration could hold (UTF-8, at most 128 bytes); a store failure fails the handshake as an
 * unknown identity would (the client retries), never the server.
 */
export function bootstrapPskLookup(
  configs: BootstrapConfigStore,
  onError?: (err: unknown) => void,
): (identity: Buffer) => Promise<Buffer | undefined> {
  return async (identity) => {
    const text = identity.toString('utf8');
    if (identity.length > MAX_PSK_IDENTITY_BYTES || !Buffer.from(text, 'utf8').equals(identity))
      return undefined;
    try {
      return (await configs.bootstrapPskByIdentity(text))?.key;
    } catch (err) {
      onError?.(err);
      return undefined;
    }
  };
}
