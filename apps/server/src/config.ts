// npm start validates the environment of every app it runs before starting any (a bad variable of the
// scheduler must not wait behind one of the gateway): one message naming every bad value.
import { validateApiConfig } from '../../api/src/config';
import { validateGatewayConfig } from '@lwm2m/gateway';
import { validateGroupObserverConfig } from '../../group-observer/src/config';
import { validateSchedulerConfig } from '@lwm2m/scheduler';

/** Stands in for the local redis-server's URL, not known before it starts. */
const LOCAL_REDIS_PLACEHOLDER = 'redis://127.0.0.1:6379';

export function validateSingleNodeConfig(env: Record<string, string | undefined>): void {
  const withRedis = { ...env, REDIS_URL: env.REDIS_URL || LOCAL_REDIS_PLACEHOLDER };
  const problems: string[] = [];
  const named = new Set<string>();
  const validators: Array<() => unknown> = [
    () => validateGatewayConfig(env),
    () => validateApiConfig(withRedis),
    () => validateSchedulerConfig(withRedis),
    () => validateGroupObserverConfig(env),
  ];
  for (const validate of validators) {
    try {
      validate();
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      // "invalid <app> configuration: a; b" -> a, b (a variable two apps read is named once).
      for (const part of text.replace(/^invalid (\w+ )?configuration: /, '').split('; ')) {
        const name = /^[A-Z][A-Z0-9_]+/.exec(part)?.[0];
        if (name !== undefined ? !named.has(name) : !problems.includes(part)) problems.push(part);
        if (name !== undefined) named.add(name);
      }
    }
  }
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
}
