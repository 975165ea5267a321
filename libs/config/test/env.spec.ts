import { describe, expect, it } from 'vitest';
import { validateApiConfig } from '../../../apps/api/src/config';
import { validateGatewayConfig } from '../../../apps/gateway/src/config';
import { nestLogLevels, redactRedisUrl } from '@lwm2m/config';

describe('environment validation of the apps', () => {
  it('applies the documented defaults', () => {
    expect(validateGatewayConfig({})).toMatchObject({
      COAP_PORT: 5683,
      COAPS_PORT: 5684,
      COAP_HOST: '0.0.0.0',
      NODE_ID: 'node-1',
      LOG_LEVEL: 'log',
    });
    expect(validateApiConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject({
      HTTP_PORT: 8080,
      LOG_LEVEL: 'log',
    });
  });

  it('names every bad variable in one message', () => {
    expect(() =>
      validateGatewayConfig({
        COAP_PORT: '70000',
        COAPS_PORT: 'x',
        LOG_LEVEL: 'loud',
        REDIS_URL: 'http://x',
      }),
    ).toThrow(
      /invalid gateway configuration: COAP_PORT must be an integer 0..65535, got "70000"; COAPS_PORT .*"x"; REDIS_URL must look like redis:\/\/host:port\[\/db\]; LOG_LEVEL must be one of error, warn, log, debug, got "loud"/,
    );
    expect(() => validateApiConfig({ HTTP_PORT: '-1' })).toThrow(
      /invalid api configuration: HTTP_PORT .*"-1"; REDIS_URL must be set/,
    );
  });

  it('maps LOG_LEVEL to Nest levels and masks Redis passwords', () => {
    expect(nestLogLevels('warn')).toEqual(['fatal', 'error', 'warn']);
    expect(nestLogLevels('debug')).toEqual(['fatal', 'error', 'warn', 'log', 'debug']);
    expect(redactRedisUrl('redis://user:s3cret@redis:6379/0')).toBe('redis://***@redis:6379/0');
    expect(redactRedisUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});

describe('MODELS_DIR', () => {
  it('is unset by default (the vendored registry), empty for none, and names a directory that is not one', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'models-'));
    try {
      expect(validateGatewayConfig({}).MODELS_DIR).toBeUndefined();
      expect(validateGatewayConfig({ MODELS_DIR: '' }).MODELS_DIR).toEqual([]);
      expect(
        validateApiConfig({ REDIS_URL: 'redis://r:6379', MODELS_DIR: `${dir}, ${dir}` }).MODELS_DIR,
      ).toEqual([dir, dir]);
      expect(() => validateGatewayConfig({ MODELS_DIR: `${dir},${join(dir, 'nope')}` })).toThrow(
        new RegExp(`MODELS_DIR: "${join(dir, 'nope')}" is not a readable directory`),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
