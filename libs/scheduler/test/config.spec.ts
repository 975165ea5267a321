import { describe, expect, it } from 'vitest';
import { validateSchedulerConfig } from '../src/config';

describe('scheduler configuration', () => {
  it('defaults to the LwM2M awake window (93 s) and no wake-up channel', () => {
    const c = validateSchedulerConfig({});
    expect(c.awakeWindowMs).toBe(93_000);
    expect(c.wakeUp).toBeUndefined();
    expect(c.notify).toMatchObject({ urls: [], eventTypes: ['notification', 'send'] });
  });

  it('names every bad variable in one error, and never echoes a secret', () => {
    let message = '';
    try {
      validateSchedulerConfig({
        AWAKE_WINDOW_MS: '-1',
        DELIVERY_RATE_PER_S: 'fast',
        WAKEUP_WEBHOOK_URL: 'ftp://sms.example',
        WAKEUP_WEBHOOK_SECRET: 's3cret',
        NOTIFY_EVENT_TYPES: 'notification,bogus',
      });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/^Error: invalid scheduler configuration: /);
    for (const part of [
      'AWAKE_WINDOW_MS must be an integer',
      'DELIVERY_RATE_PER_S must be an integer',
      'WAKEUP_WEBHOOK_URL must be an http',
      'unknown event type "bogus"',
    ])
      expect(message).toContain(part);
    expect(message).not.toContain('s3cret');
    try {
      validateSchedulerConfig({ WAKEUP_WEBHOOK_URL: 'nope', WAKEUP_WEBHOOK_SECRET: 's3cret' });
    } catch (err) {
      expect(String(err)).not.toContain('s3cret');
    }
  });

  it('serves metrics on METRICS_PORT (default 9464, 0 = a free port)', () => {
    expect(validateSchedulerConfig({}).metricsPort).toBe(9464);
    expect(validateSchedulerConfig({ METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(validateSchedulerConfig({ METRICS_PORT: '9100' }).metricsPort).toBe(9100);
    expect(() => validateSchedulerConfig({ METRICS_PORT: '99999' })).toThrow(
      /METRICS_PORT must be an integer/,
    );
  });

  it('takes a wake-up webhook with its timing', () => {
    const c = validateSchedulerConfig({
      WAKEUP_WEBHOOK_URL: 'https://sms.example/wake',
      WAKEUP_AFTER_MS: '5000',
      NOTIFY_WEBHOOK_URLS: 'http://a.example/h, http://b.example/h',
    });
    expect(c.wakeUp).toMatchObject({ url: 'https://sms.example/wake', afterMs: 5000 });
    expect(c.notify.urls).toEqual(['http://a.example/h', 'http://b.example/h']);
  });
});
