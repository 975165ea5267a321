// ioredis options from the one setting every app takes, REDIS_URL, and either Redis Sentinel (as the
// Kubernetes example deploys it: REDIS_SENTINELS / REDIS_SENTINEL_NAME / REDIS_SENTINEL_PASSWORD) or Redis
// Cluster (REDIS_CLUSTER_NODES). With sentinels, the URL gives the master's password, user and db; its host
// is not used: the sentinels name the master, and ioredis follows a failover by asking them again. With a
// cluster, the URL gives password, user and TLS for every node; the seed nodes tell ioredis the rest.
import type { ClusterOptions, RedisOptions } from 'ioredis';

type Env = Record<string, string | undefined>;

function hostPorts(name: string, list: string, defaultPort: number): Array<{ host: string; port: number }> {
  return list.split(',').map((s) => {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(s.trim());
    if (!m) throw new Error(`${name}: "${s}" is not host:port`);
    return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
  });
}

/** REDIS_CLUSTER_NODES as ioredis seed nodes; undefined when unset (no Redis Cluster). */
export function redisClusterNodes(env: Env = process.env): Array<{ host: string; port: number }> | undefined {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  if (!nodes) return undefined;
  if (env.REDIS_SENTINELS?.trim())
    throw new Error('REDIS_CLUSTER_NODES and REDIS_SENTINELS: set one, not both');
  return hostPorts('REDIS_CLUSTER_NODES', nodes, 6379);
}

function commonOptions(u: URL): RedisOptions {
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function redisOptions(url: string, env: Env = process.env): RedisOptions {
  // One client type per deployment: a Cluster needs createRedisClient, never these single-node options.
  if (env.REDIS_CLUSTER_NODES?.trim())
    throw new Error('REDIS_CLUSTER_NODES is set: connect with createRedisClient (a Redis Cluster client)');
  const u = new URL(url);
  const common: RedisOptions = {
    ...commonOptions(u),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  };
  const sentinels = env.REDIS_SENTINELS?.trim();
  if (!sentinels) return { host: u.hostname, port: u.port ? Number(u.port) : 6379, ...common };
  return {
    ...common,
    sentinels: hostPorts('REDIS_SENTINELS', sentinels, 26379),
    name: env.REDIS_SENTINEL_NAME || 'mymaster',
    ...(env.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.REDIS_SENTINEL_PASSWORD } : {}),
    ...(u.protocol === 'rediss:' ? { enableTLSForSentinelMode: true } : {}),
  };
}

/** ioredis Cluster options for REDIS_CLUSTER_NODES: REDIS_URL's user, password and TLS on every node. */
export function redisClusterOptions(url: string): ClusterOptions {
  const u = new URL(url);
  // A Redis Cluster has only db 0: a URL naming another would silently mean different data.
  if (u.pathname.length > 1 && Number(u.pathname.slice(1)) !== 0)
    throw new Error(`REDIS_URL names db ${u.pathname.slice(1)}: a Redis Cluster has only db 0`);
  return {
    redisOptions: commonOptions(u),
    // Reads go to masters, so a read sees the write before it (replicas lag).
    scaleReads: 'master',
    // Commands wait until CLUSTER INFO says cluster_state:ok, not merely until a socket is open.
    enableReadyCheck: true,
  };
}
