// ioredis options from the one setting every app takes, REDIS_URL, and (Redis Sentinel, as the Kubernetes
// example deploys it) REDIS_SENTINELS / REDIS_SENTINEL_NAME / REDIS_SENTINEL_PASSWORD. With sentinels, the
// URL gives the master's password, user and db; its host is not used: the sentinels name the master, and
// ioredis follows a failover by asking them again.
import type { RedisOptions } from 'ioredis';

export function redisOptions(
  url: string,
  env: Record<string, string | undefined> = process.env,
): RedisOptions {
  const u = new URL(url);
  const common: RedisOptions = {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const sentinels = env.REDIS_SENTINELS?.trim();
  if (!sentinels) return { host: u.hostname, port: u.port ? Number(u.port) : 6379, ...common };
  return {
    ...common,
    sentinels: sentinels.split(',').map((s) => {
      const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(s.trim());
      if (!m) throw new Error(`REDIS_SENTINELS: "${s}" is not host:port`);
      return { host: m[1]!, port: m[2] ? Number(m[2]) : 26379 };
    }),
    name: env.REDIS_SENTINEL_NAME || 'mymaster',
    ...(env.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.REDIS_SENTINEL_PASSWORD } : {}),
    ...(u.protocol === 'rediss:' ? { enableTLSForSentinelMode: true } : {}),
  };
}
