// The gateway's DTLS 1.2 server (libs/dtls) on the COAPS_PORT socket: PSK keys come from the CredentialStore
// at handshake time (RFC 4279 section 2); with a server key, clients may also authenticate with a raw
// public key provisioned in the store (RFC 7250) or an X.509 chain to DTLS_CA_FILE.
import { readFileSync } from 'node:fs';
import type { DatagramTransport } from '@lwm2m/transport';
import { DtlsServer, type DtlsLogger, type SessionCache } from '@lwm2m/dtls';
import { type CredentialStore, MAX_PSK_IDENTITY_BYTES, normalizeRpk } from '@lwm2m/server';
import type { GatewayConfig } from './config';

/** The server's PEM key, certificate chain and client trust anchors (DTLS_KEY_FILE, _CERT_FILE, _CA_FILE). */
export function serverKeyFiles(config: GatewayConfig): {
  privateKey?: string;
  chain?: string;
  anchors?: string;
} {
  const pem = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, 'utf8'));
  const files = {
    privateKey: pem(config.DTLS_KEY_FILE),
    chain: pem(config.DTLS_CERT_FILE),
    anchors: pem(config.DTLS_CA_FILE),
  };
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
}

/** CID length and the handshake limits every DTLS port of the gateway applies (the trust issue's). */
export function dtlsLimits(config: GatewayConfig) {
  return {
    cidLength: config.DTLS_CID_LENGTH,
    maxHandshakes: config.DTLS_MAX_HANDSHAKES,
    maxHandshakesPerAddress: config.DTLS_MAX_HANDSHAKES_PER_ADDRESS,
    halfOpenTimeoutMs: config.DTLS_HALF_OPEN_TIMEOUT_MS,
    clientHelloRate: { perSecond: config.DTLS_CLIENT_HELLO_RATE, burst: 2 * config.DTLS_CLIENT_HELLO_RATE },
    helloVerifyRate: { perSecond: config.DTLS_HELLO_VERIFY_RATE, burst: 2 * config.DTLS_HELLO_VERIFY_RATE },
  };
}

export function createCoapsServer(opts: {
  transport: DatagramTransport;
  credentials: CredentialStore;
  config: GatewayConfig;
  logger: DtlsLogger;
  /** Cluster mode: CIDs that name this node (libs/cluster cidGenerator). */
  cidGenerator?: (length: number) => Buffer;
  /** Resumption by session id (RFC 5246 7.4.1.2); in a cluster one shared by every node. */
  sessionCache?: SessionCache;
}): DtlsServer {
  const { credentials, config, logger } = opts;
  const { privateKey, chain, anchors } = serverKeyFiles(config);
  return new DtlsServer({
    transport: opts.transport,
    logger,
    ...dtlsLimits(config),
    ...(opts.cidGenerator ? { cidGenerator: opts.cidGenerator } : {}),
    ...(opts.sessionCache ? { sessionCache: opts.sessionCache } : {}),
    psk: async (identity) => {
      // Only identities the REST API could have stored (RFC 4279 5.1: UTF-8; at most 128 bytes here).
      const text = identity.toString('utf8');
      if (identity.length > MAX_PSK_IDENTITY_BYTES || !Buffer.from(text, 'utf8').equals(identity)) {
        return undefined;
      }
      try {
        return (await credentials.pskByIdentity(text))?.key;
      } catch (err) {
        // Redis unreachable: the handshake fails (decrypt_error, as for any unknown identity); the device
        // retries later.
        logger.warn('coaps: PSK lookup failed', { error: String(err) });
        return undefined;
      }
    },
    ...(privateKey !== undefined
      ? {
          certificate: { privateKey, ...(chain !== undefined ? { chain: [chain] } : {}) },
          verifyRawPublicKey: async (spki: Buffer) => {
            try {
              return (await credentials.endpointByPublicKey(normalizeRpk(spki))) !== undefined;
            } catch {
              return false;
            }
          },
          ...(anchors !== undefined ? { trustAnchors: [anchors] } : {}),
        }
      : {}),
  });
}
