// Extra connections (blocking reads, pub/sub) report their errors where the owner of the main connection
// listens: one 'error' listener on the client given to createRedisStores covers all of them, and without
// one nothing is printed as an "Unhandled error event" per reconnect attempt during a Redis outage.
import type { Redis } from 'ioredis';

export function duplicateConnection(redis: Redis): Redis {
  const conn = redis.duplicate();
  conn.on('error', (err: Error) => {
    if (redis.listenerCount('error') > 0) redis.emit('error', err);
  });
  return conn;
}
