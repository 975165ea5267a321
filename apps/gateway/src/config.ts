// The gateway's environment, validated once at boot: a bad value stops the process with a clear message
// instead of surfacing later as a socket error.

export type LogLevel = 'error' | 'warn' | 'log' | 'debug';

export interface GatewayConfig {
  /** UDP port of the CoAP (NoSec) endpoint; 0 picks a free port (tests). */
  COAP_PORT: number;
  /** UDP port of CoAP over DTLS (served once libs/dtls lands). */
  COAPS_PORT: number;
  /** Listen address; "::" or "0.0.0.0" to listen everywhere. */
  COAP_HOST: string;
  /** Redis of the shared state; required when the gateway runs on its own. */
  REDIS_URL?: string;
  /** This node's name in events and registrations (cluster mode). */
  NODE_ID: string;
  LOG_LEVEL: LogLevel;
}

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'log', 'debug'];

export function parsePort(name: string, raw: unknown, fallback: number, errors: string[]): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    errors.push(`${name} must be an integer 0..65535, got "${String(raw)}"`);
    return fallback;
  }
  return port;
}

export function parseLogLevel(raw: unknown, errors: string[]): LogLevel {
  const level = (raw === undefined || raw === '' ? 'log' : raw) as LogLevel;
  if (!LOG_LEVELS.includes(level))
    errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${String(raw)}"`);
  return LOG_LEVELS.includes(level) ? level : 'log';
}

export function parseRedisUrl(raw: unknown, errors: string[]): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw);
  if (!/^rediss?:\/\/[^\s]+$/.test(text)) errors.push('REDIS_URL must look like redis://host:port[/db]');
  return text;
}

/** Nest's logger levels for one LOG_LEVEL: that level and every more severe one. */
export function nestLogLevels(level: LogLevel): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}

export function validateGatewayConfig(env: Record<string, unknown>): GatewayConfig {
  const errors: string[] = [];
  const config: GatewayConfig = {
    COAP_PORT: parsePort('COAP_PORT', env.COAP_PORT, 5683, errors),
    COAPS_PORT: parsePort('COAPS_PORT', env.COAPS_PORT, 5684, errors),
    COAP_HOST: typeof env.COAP_HOST === 'string' && env.COAP_HOST !== '' ? env.COAP_HOST : '0.0.0.0',
    REDIS_URL: parseRedisUrl(env.REDIS_URL, errors),
    NODE_ID: typeof env.NODE_ID === 'string' && env.NODE_ID !== '' ? env.NODE_ID : 'node-1',
    LOG_LEVEL: parseLogLevel(env.LOG_LEVEL, errors),
  };
  if (errors.length) throw new Error(`invalid configuration: ${errors.join('; ')}`);
  return config;
}
