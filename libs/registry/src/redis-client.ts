// The one place a Redis client is built from the environment: a single Redis or Sentinel (ioredis Redis)
// or a Redis Cluster (ioredis Cluster). Every app builds its client here (createRedisStores does).
import { Cluster, Redis } from 'ioredis';
import { redisClusterNodes, redisClusterOptions, redisOptions } from './redis-options';

/** What the stores run on: both are ioredis Commanders with the same command methods. */
export type RedisClient = Redis | Cluster;

/**
 * REDIS_URL plus REDIS_CLUSTER_NODES (Redis Cluster) or REDIS_SENTINELS (Sentinel); without either, the
 * Redis at the URL. ioredis defaults otherwise: reconnects forever.
 */
export function createRedisClient(
  url: string,
  env: Record<string, string | undefined> = process.env,
): RedisClient {
  const nodes = redisClusterNodes(env);
  return nodes ? new Cluster(nodes, redisClusterOptions(url)) : new Redis(redisOptions(url, env));
}

/** ioredis types isCluster as a plain boolean on both classes; this narrows the union. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

export function isRedisClient(x: unknown): x is RedisClient {
  return x instanceof Redis || x instanceof Cluster;
}
