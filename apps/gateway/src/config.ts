// The gateway's environment, validated once at boot: a bad value stops the process with a clear message
// instead of surfacing later as a socket error.

export interface GatewayConfig {
  /** UDP port of the CoAP (NoSec) endpoint; 0 picks a free port (tests). */
  COAP_PORT: number;
  /** Listen address; "::" or "0.0.0.0" to listen everywhere. */
  COAP_HOST: string;
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug';
}

const LOG_LEVELS = ['error', 'warn', 'log', 'debug'] as const;

export function validateGatewayConfig(env: Record<string, unknown>): GatewayConfig {
  const errors: string[] = [];
  const port = env.COAP_PORT === undefined || env.COAP_PORT === '' ? 5683 : Number(env.COAP_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    errors.push(`COAP_PORT must be 0..65535, got "${env.COAP_PORT}"`);
  const host = typeof env.COAP_HOST === 'string' && env.COAP_HOST !== '' ? env.COAP_HOST : '0.0.0.0';
  const level = (env.LOG_LEVEL ?? 'log') as GatewayConfig['LOG_LEVEL'];
  if (!LOG_LEVELS.includes(level)) errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  if (errors.length) throw new Error(`invalid gateway configuration: ${errors.join('; ')}`);
  return { COAP_PORT: port, COAP_HOST: host, LOG_LEVEL: level };
}
