// A private redis-server per test file (libs/registry's local Redis in a temp dir on a free port).
export {
  startLocalRedis as startRedis,
  type LocalRedis as RedisHandle,
  type LocalRedisOptions as RedisOptions,
} from '@lwm2m/registry';
