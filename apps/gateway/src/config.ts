// The gateway's environment, validated once at boot: a bad value stops the process with a clear message
// instead of surfacing later as a socket error.
import {
  EnvErrors,
  type LogLevel,
  parseInteger,
  parseLogLevel,
  parsePort,
  parseRedisUrl,
  parseString,
} from '@lwm2m/config';
import { DEFAULT_AWAKE_WINDOW_MS } from '@lwm2m/server';

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
  /** Listen address; "::" or "0.0.0.0" to listen everywhere. */
  COAP_HOST: string;
  /** Redis of the shared state; required when the gateway runs on its own. */
  REDIS_URL?: string;
  /** This node's name in events and registrations (cluster mode). */
  NODE_ID: string;
  LOG_LEVEL: LogLevel;
  /** Queue mode: a device silent this long is asleep; its next uplink publishes 'awake' (TS 1.2 Core 6.5). */
  AWAKE_WINDOW_MS?: number;
}

export function validateGatewayConfig(env: Record<string, unknown>): GatewayConfig {
  const errors = new EnvErrors();
  const config: GatewayConfig = {
    COAP_PORT: parsePort('COAP_PORT', env.COAP_PORT, 5683, errors),
    COAPS_PORT: parsePort('COAPS_PORT', env.COAPS_PORT, 5684, errors),
    COAP_HOST: parseString(env.COAP_HOST, '0.0.0.0'),
    COAP_NOSEC: parseFlag('COAP_NOSEC', env.COAP_NOSEC, true, errors),
    DTLS_CID_LENGTH: parseInteger('DTLS_CID_LENGTH', env.DTLS_CID_LENGTH, 8, 0, 32, errors),
    ...optionalFile('DTLS_KEY_FILE', env.DTLS_KEY_FILE),
    ...optionalFile('DTLS_CERT_FILE', env.DTLS_CERT_FILE),
    ...optionalFile('DTLS_CA_FILE', env.DTLS_CA_FILE),
    REDIS_URL: parseRedisUrl(env.REDIS_URL, errors),
    NODE_ID: parseString(env.NODE_ID, 'node-1'),
    LOG_LEVEL: parseLogLevel(env.LOG_LEVEL, errors),
    AWAKE_WINDOW_MS: parseInteger(
      'AWAKE_WINDOW_MS',
      env.AWAKE_WINDOW_MS,
      DEFAULT_AWAKE_WINDOW_MS,
      1,
      86_400_000,
      errors,
    ),
  };
  errors.done('gateway');
  return config;
}

function parseFlag(name: string, raw: unknown, fallback: boolean, errors: EnvErrors): boolean {
  if (raw === undefined || raw === '') return fallback;
  const v = String(raw).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  errors.push(`${name} must be true or false, got "${String(raw).slice(0, 16)}"`);
  return fallback;
}

function optionalFile<K extends string>(name: K, raw: unknown): Partial<Record<K, string>> {
  return typeof raw === 'string' && raw !== '' ? ({ [name]: raw } as Record<K, string>) : {};
}
