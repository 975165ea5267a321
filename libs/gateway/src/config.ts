// The gateway's environment, validated once at boot: a bad value stops the process with a clear message
// instead of surfacing later as a socket error.
import { availableParallelism } from 'node:os';
import {
  EnvErrors,
  type LogFormat,
  type LogLevel,
  parseFlag,
  parseInteger,
  parseLogFormat,
  parseLogLevel,
  parseModelsDirs,
  parsePort,
  parseRedisUrl,
  parseSecretsKey,
  parseString,
} from '@lwm2m/config';
import {
  DEFAULT_AWAKE_WINDOW_MS,
  DEFAULT_MAX_OBSERVATIONS_PER_DEVICE,
  type X509EndpointFrom,
  X509_ENDPOINT_FROM_VALUES,
} from '@lwm2m/server';
import { DEFAULT_MAX_SEND_BYTES, SECURITY_POLICIES, type SecurityPolicy } from '@lwm2m/server';
import { ECHO_MODES, type EchoMode } from '@lwm2m/coap';
import { MAX_WORKERS, MIN_WORKER_CID_LENGTH } from '@lwm2m/cluster';

export interface GatewayConfig {
  /** UDP port of the CoAP (NoSec) endpoint; 0 picks a free port (tests). */
  COAP_PORT: number;
  /** UDP port of CoAP over DTLS. */
  COAPS_PORT: number;
  /** Serve CoAP NoSec on COAP_PORT (default true; "false" leaves only DTLS). */
  COAP_NOSEC: boolean;
  /** Length of the Connection IDs the DTLS server issues (RFC 9146); 0 disables CIDs. Default 8. */
  DTLS_CID_LENGTH: number;
  /** PEM P-256 private key of the DTLS server: enables ECDHE_ECDSA suites (RPK and X.509 clients). */
  DTLS_KEY_FILE?: string;
  /** PEM certificate (chain) for DTLS_KEY_FILE; without it the server presents a raw public key. */
  DTLS_CERT_FILE?: string;
  /** PEM trust anchors for client certificates (X.509 mode). */
  DTLS_CA_FILE?: string;
  /**
   * PEM private key of a CA in DTLS_CA_FILE: the Bootstrap-Server issues client certificates with it for X.509
   * accounts whose configuration gives none.
   */
  DTLS_CA_KEY_FILE?: string;
  /** DTLS handshakes in progress at most; when full the oldest stalled one is evicted. Default 1000. */
  DTLS_MAX_HANDSHAKES: number;
  /** DTLS handshakes in progress per source IP at most (a carrier NAT shares one). Default 64. */
  DTLS_MAX_HANDSHAKES_PER_ADDRESS: number;
  /** A handshake whose client never answers our flight after the cookie is dropped after this. Default 10000. */
  DTLS_HALF_OPEN_TIMEOUT_MS: number;
  /** Cookie-verified ClientHellos per second per source IP (burst twice that). Default 20. */
  DTLS_CLIENT_HELLO_RATE: number;
  /** HelloVerifyRequests per second, all sources together (burst twice that). Default 10000. */
  DTLS_HELLO_VERIFY_RATE: number;
  /** Which certificate field names the endpoint an X.509 client may register as. Default auto (SAN, else CN). */
  X509_ENDPOINT_FROM: X509EndpointFrom;
  /** The 32-byte key PSKs are sealed with in Redis (from SECRETS_KEY; never logged). */
  SECRETS_KEY?: Buffer;
  /** Listen address; "::" or "0.0.0.0" to listen everywhere. */
  COAP_HOST: string;
  /** The LwM2M Bootstrap-Server on its own ports (libs/bootstrap). Default false. */
  BOOTSTRAP_ENABLED: boolean;
  /** Its NoSec UDP port (default 5783) and DTLS port (default 5784, 0 picks a free one). */
  BOOTSTRAP_PORT: number;
  BOOTSTRAP_SECURE_PORT: number;
  /** Redis of the shared state; required when the gateway runs on its own. */
  REDIS_URL?: string;
  /** This node's name in events and registrations; in cluster mode a trailing number seeds its numeric id. */
  NODE_ID: string;
  /** Cluster mode when set: the shared secret of the cluster link and of sessions at rest (16+ bytes). */
  CLUSTER_KEY?: string;
  /**
   * false: a one-node cluster without a link socket (`npm start` without CLUSTER_KEY sets it, with a CLUSTER_KEY
   * derived from SECRETS_KEY, so DTLS sessions outlive the process). Not read from the environment.
   */
  CLUSTER_LINK?: boolean;
  /** UDP port of the cluster-internal link (forwarded datagrams). Default 5690. */
  CLUSTER_PORT: number;
  /** Address other nodes reach our link at (the pod IP); default COAP_HOST, or 127.0.0.1 when that is a wildcard. */
  CLUSTER_ADVERTISE_HOST: string;
  /** Node lease in Redis: a node silent this long is dead and its sessions are taken over. Default 3000. */
  CLUSTER_LEASE_MS: number;
  /**
   * SO_RCVBUF of the CoAP, CoAP over DTLS and cluster link sockets, bytes (best effort, capped at
   * net.core.rmem_max); unset = 4 MiB (DEFAULT_UDP_RECV_BUFFER_BYTES), room for a registration storm. The
   * public sockets serve sources round-robin from bounded queues (libs/udp FairReceiveQueue), so a flood in
   * this buffer does not queue ahead of real devices.
   */
  UDP_RECV_BUFFER_BYTES?: number;
  /**
   * Datagrams the public sockets keep waiting per source (address and port) before dropping that source's
   * excess; sources are served round-robin. 0 turns the fair receive queue off (the kernel's order). Default 32.
   */
  UDP_RECV_PER_SOURCE: number;
  /**
   * Worker threads sharing the public UDP ports (libs/udp runWorkers: the main thread owns the sockets and
   * hands each datagram to a worker, a DTLS record to the worker its CID names). Default 1 (the stack on the
   * main thread, as before); more needs DTLS_CID_LENGTH 0 or >= 8 (the CID carries the worker index) and
   * Redis (the workers share their state there). `auto`: the cores this process is given.
   */
  GATEWAY_WORKERS: number;
  /** Prometheus metrics on http://<COAP_HOST>:METRICS_PORT/metrics; 0 picks a free port, unset = 9464. */
  METRICS_PORT: number;
  LOG_LEVEL: LogLevel;
  LOG_FORMAT: LogFormat;
  /** Queue mode: a device silent this long is asleep; its next uplink publishes 'awake' (TS 1.2 Core 6.5). */
  AWAKE_WINDOW_MS?: number;
  /** DDF directories loaded at start (MODELS_DIR); undefined: the vendored OMNA registry. */
  MODELS_DIR?: string[];
  /** Observations one device may have (default 64); Observe beyond it answers 409 problem+json. */
  MAX_OBSERVATIONS_PER_DEVICE: number;
  /** allow-nosec (default): NoSec only for endpoints without a credential; require-secure: DTLS only. */
  SECURITY_POLICY: SecurityPolicy;
  /** RFC 9175 Echo before a NoSec Register or upload creates state: auto (above COAP_ECHO_THRESHOLD), always, off. */
  COAP_ECHO: EchoMode;
  /** auto: NoSec Registers/uploads per second (per node) from unverified addresses that turn Echo on. */
  COAP_ECHO_THRESHOLD: number;
  /** Largest Send (/dp) body reassembled from Block1 uploads, bytes. */
  SEND_MAX_BYTES: number;
}

export function validateGatewayConfig(env: Record<string, unknown>): GatewayConfig {
  const errors = new EnvErrors();
  const config: GatewayConfig = {
    COAP_PORT: parsePort('COAP_PORT', env.COAP_PORT, 5683, errors),
    COAPS_PORT: parsePort('COAPS_PORT', env.COAPS_PORT, 5684, errors),
    COAP_HOST: parseString(env.COAP_HOST, '0.0.0.0'),
    COAP_NOSEC: parseFlag('COAP_NOSEC', env.COAP_NOSEC, true, errors),
    BOOTSTRAP_ENABLED: parseFlag('BOOTSTRAP_ENABLED', env.BOOTSTRAP_ENABLED, false, errors),
    BOOTSTRAP_PORT: parsePort('BOOTSTRAP_PORT', env.BOOTSTRAP_PORT, 5783, errors),
    BOOTSTRAP_SECURE_PORT: parsePort('BOOTSTRAP_SECURE_PORT', env.BOOTSTRAP_SECURE_PORT, 5784, errors),
    DTLS_CID_LENGTH: parseInteger('DTLS_CID_LENGTH', env.DTLS_CID_LENGTH, 8, 0, 32, errors),
    ...optionalFile('DTLS_KEY_FILE', env.DTLS_KEY_FILE),
    ...optionalFile('DTLS_CERT_FILE', env.DTLS_CERT_FILE),
    ...optionalFile('DTLS_CA_FILE', env.DTLS_CA_FILE),
    ...optionalFile('DTLS_CA_KEY_FILE', env.DTLS_CA_KEY_FILE),
    DTLS_MAX_HANDSHAKES: parseInteger(
      'DTLS_MAX_HANDSHAKES',
      env.DTLS_MAX_HANDSHAKES,
      1000,
      1,
      1_000_000,
      errors,
    ),
    DTLS_MAX_HANDSHAKES_PER_ADDRESS: parseInteger(
      'DTLS_MAX_HANDSHAKES_PER_ADDRESS',
      env.DTLS_MAX_HANDSHAKES_PER_ADDRESS,
      64,
      1,
      1_000_000,
      errors,
    ),
    DTLS_HALF_OPEN_TIMEOUT_MS: parseInteger(
      'DTLS_HALF_OPEN_TIMEOUT_MS',
      env.DTLS_HALF_OPEN_TIMEOUT_MS,
      10_000,
      1000,
      60_000,
      errors,
    ),
    DTLS_CLIENT_HELLO_RATE: parseInteger(
      'DTLS_CLIENT_HELLO_RATE',
      env.DTLS_CLIENT_HELLO_RATE,
      20,
      1,
      1_000_000,
      errors,
    ),
    DTLS_HELLO_VERIFY_RATE: parseInteger(
      'DTLS_HELLO_VERIFY_RATE',
      env.DTLS_HELLO_VERIFY_RATE,
      10_000,
      1,
      10_000_000,
      errors,
    ),
    X509_ENDPOINT_FROM: parseX509EndpointFrom(env.X509_ENDPOINT_FROM, errors),
    ...withSecretsKey(parseSecretsKey(env.SECRETS_KEY, errors)),
    REDIS_URL: parseRedisUrl(env.REDIS_URL, errors),
    NODE_ID: parseString(env.NODE_ID, 'node-1'),
    ...(typeof env.CLUSTER_KEY === 'string' && env.CLUSTER_KEY !== ''
      ? { CLUSTER_KEY: parseClusterKey(env.CLUSTER_KEY, errors) }
      : {}),
    CLUSTER_PORT: parsePort('CLUSTER_PORT', env.CLUSTER_PORT, 5690, errors),
    CLUSTER_ADVERTISE_HOST: parseString(
      env.CLUSTER_ADVERTISE_HOST,
      ['0.0.0.0', '::'].includes(parseString(env.COAP_HOST, '0.0.0.0'))
        ? '127.0.0.1'
        : parseString(env.COAP_HOST, '0.0.0.0'),
    ),
    CLUSTER_LEASE_MS: parseInteger('CLUSTER_LEASE_MS', env.CLUSTER_LEASE_MS, 3000, 500, 60_000, errors),
    METRICS_PORT: parsePort('METRICS_PORT', env.METRICS_PORT, 9464, errors),
    ...(env.UDP_RECV_BUFFER_BYTES !== undefined && env.UDP_RECV_BUFFER_BYTES !== ''
      ? {
          UDP_RECV_BUFFER_BYTES: parseInteger(
            'UDP_RECV_BUFFER_BYTES',
            env.UDP_RECV_BUFFER_BYTES,
            0,
            65_536,
            1 << 30,
            errors,
          ),
        }
      : {}),
    UDP_RECV_PER_SOURCE: parseInteger('UDP_RECV_PER_SOURCE', env.UDP_RECV_PER_SOURCE, 32, 0, 65_536, errors),
    // `auto`: one worker per CPU this process may run on (Node's availableParallelism).
    GATEWAY_WORKERS:
      String(env.GATEWAY_WORKERS ?? '')
        .trim()
        .toLowerCase() === 'auto'
        ? Math.min(MAX_WORKERS, availableParallelism())
        : parseInteger('GATEWAY_WORKERS', env.GATEWAY_WORKERS, 1, 1, MAX_WORKERS, errors),
    LOG_LEVEL: parseLogLevel(env.LOG_LEVEL, errors),
    MAX_OBSERVATIONS_PER_DEVICE: parseInteger(
      'MAX_OBSERVATIONS_PER_DEVICE',
      env.MAX_OBSERVATIONS_PER_DEVICE,
      DEFAULT_MAX_OBSERVATIONS_PER_DEVICE,
      1,
      10_000,
      errors,
    ),
    SECURITY_POLICY: parseChoice(
      'SECURITY_POLICY',
      env.SECURITY_POLICY,
      SECURITY_POLICIES,
      'allow-nosec',
      errors,
    ),
    COAP_ECHO: parseChoice('COAP_ECHO', env.COAP_ECHO, ECHO_MODES, 'auto', errors),
    COAP_ECHO_THRESHOLD: parseInteger(
      'COAP_ECHO_THRESHOLD',
      env.COAP_ECHO_THRESHOLD,
      20,
      1,
      1_000_000,
      errors,
    ),
    SEND_MAX_BYTES: parseInteger(
      'SEND_MAX_BYTES',
      env.SEND_MAX_BYTES,
      DEFAULT_MAX_SEND_BYTES,
      1024,
      1024 * 1024,
      errors,
    ),
    LOG_FORMAT: parseLogFormat(env.LOG_FORMAT, errors),
    ...withModelsDirs(parseModelsDirs(env.MODELS_DIR, errors)),
    AWAKE_WINDOW_MS: parseInteger(
      'AWAKE_WINDOW_MS',
      env.AWAKE_WINDOW_MS,
      DEFAULT_AWAKE_WINDOW_MS,
      1,
      86_400_000,
      errors,
    ),
  };
  const cid = config.DTLS_CID_LENGTH;
  if (config.GATEWAY_WORKERS > 1 && cid > 0 && cid < MIN_WORKER_CID_LENGTH)
    errors.push(`GATEWAY_WORKERS > 1 needs DTLS_CID_LENGTH 0 or >= ${MIN_WORKER_CID_LENGTH}, got ${cid}`);
  errors.done('gateway');
  return config;
}

function withModelsDirs(dirs: string[] | undefined): { MODELS_DIR?: string[] } {
  return dirs === undefined ? {} : { MODELS_DIR: dirs };
}

function withSecretsKey(key: Buffer | undefined): { SECRETS_KEY?: Buffer } {
  return key === undefined ? {} : { SECRETS_KEY: key };
}

function parseX509EndpointFrom(raw: unknown, errors: EnvErrors): X509EndpointFrom {
  const value = parseString(raw, 'auto');
  if ((X509_ENDPOINT_FROM_VALUES as readonly string[]).includes(value)) return value as X509EndpointFrom;
  errors.push(`X509_ENDPOINT_FROM must be one of ${X509_ENDPOINT_FROM_VALUES.join(', ')}`);
  return 'auto';
}

function parseClusterKey(raw: string, errors: EnvErrors): string {
  // Never echo the value: it is a secret.
  if (Buffer.byteLength(raw, 'utf8') < 16) errors.push('CLUSTER_KEY must hold at least 16 bytes of secret');
  return raw;
}

function parseChoice<T extends string>(
  name: string,
  raw: unknown,
  choices: readonly T[],
  fallback: T,
  errors: EnvErrors,
): T {
  if (raw === undefined || raw === '') return fallback;
  if ((choices as readonly unknown[]).includes(raw)) return raw as T;
  errors.push(`${name} must be one of ${choices.join(', ')}, got "${String(raw).slice(0, 32)}"`);
  return fallback;
}

function optionalFile<K extends string>(name: K, raw: unknown): Partial<Record<K, string>> {
  return typeof raw === 'string' && raw !== '' ? ({ [name]: raw } as Record<K, string>) : {};
}
