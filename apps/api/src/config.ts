// The api's environment, validated once at start: a bad value stops the process with a clear message.
import { parseApiKeys } from './auth/api-keys';

export interface ApiConfig {
  HTTP_PORT: number;
  HTTP_HOST: string;
  REDIS_URL: string;
  /** Raw API_KEYS (never logged). */
  API_KEYS?: string;
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug';
}

const LOG_LEVELS = ['error', 'warn', 'log', 'debug'] as const;

export function validateApiConfig(env: Record<string, string | undefined>): ApiConfig {
  const errors: string[] = [];
  const port = env.HTTP_PORT === undefined || env.HTTP_PORT === '' ? 8080 : Number(env.HTTP_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    errors.push(`HTTP_PORT must be 0..65535, got "${env.HTTP_PORT}"`);
  const redisUrl = env.REDIS_URL ?? '';
  if (!/^rediss?:\/\//.test(redisUrl)) errors.push('REDIS_URL must be set to a redis:// or rediss:// URL');
  const level = (env.LOG_LEVEL || 'log') as ApiConfig['LOG_LEVEL'];
  if (!LOG_LEVELS.includes(level)) errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  try {
    parseApiKeys(env.API_KEYS);
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  if (errors.length) throw new Error(`invalid api configuration: ${errors.join('; ')}`);
  return {
    HTTP_PORT: port,
    HTTP_HOST: env.HTTP_HOST || '0.0.0.0',
    REDIS_URL: redisUrl,
    ...(env.API_KEYS ? { API_KEYS: env.API_KEYS } : {}),
    LOG_LEVEL: level,
  };
}

/** Nest log levels at and above LOG_LEVEL. */
export function logLevels(
  level: ApiConfig['LOG_LEVEL'],
): Array<'error' | 'warn' | 'log' | 'debug' | 'fatal'> {
  const order = ['fatal', 'error', 'warn', 'log', 'debug'] as const;
  return order.slice(0, order.indexOf(level) + 1);
}
