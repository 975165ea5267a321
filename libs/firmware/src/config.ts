// FIRMWARE_* environment: where images live and how large they may be. One parser for every app (api and
// gateway read the same images: both must be given the same FIRMWARE_DIR, or both use Redis).
import { type EnvErrors, parseFlag, parseInteger } from '@lwm2m/config';
import type { RedisClient } from '@lwm2m/registry';
import { DirectoryImageStore } from './directory-image-store';
import { type ImageStore, InMemoryImageStore } from './image-store';
import { InMemoryPushProgressStore, type PushProgressStore } from './push';
import { RedisImageStore, RedisPushProgressStore } from './redis-image-store';

export interface FirmwareConfig {
  /** A directory every node mounts: images as files there. Unset: images in Redis (chunks). */
  FIRMWARE_DIR?: string;
  /** Largest image an upload may send, bytes (default 256 MiB; 413 beyond). */
  FIRMWARE_MAX_BYTES: number;
  /** Largest image kept in Redis, bytes (default 64 MiB): Redis memory is dear, FIRMWARE_DIR is not. */
  FIRMWARE_REDIS_MAX_BYTES: number;
  /**
   * The base of the Package URI written to /5/0/1 for a pull (e.g. coaps://gw.example.com:5684): the
   * device fetches <base>/fw/<id> from any gateway. Unset: the caller must name it.
   */
  FIRMWARE_COAP_BASE?: string;
  /**
   * RFC 9175 section 2.4: a NoSec GET of /fw from an address not verified (no Echo round trip, not a
   * registered device's) is answered 4.01 with an Echo value instead of a 1 KiB block (default on; unset = on).
   */
  FIRMWARE_NOSEC_ECHO?: boolean;
}

export const DEFAULT_FIRMWARE_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_FIRMWARE_REDIS_MAX_BYTES = 64 * 1024 * 1024;

export function parseFirmwareConfig(
  env: Record<string, string | undefined>,
  errors: EnvErrors,
): FirmwareConfig {
  const base = env.FIRMWARE_COAP_BASE;
  if (base !== undefined && base !== '' && !/^coaps?:\/\/[^/]+$/.test(base))
    errors.push(`FIRMWARE_COAP_BASE must be coap[s]://host[:port] without a path, got "${base}"`);
  return {
    ...(env.FIRMWARE_DIR ? { FIRMWARE_DIR: env.FIRMWARE_DIR } : {}),
    FIRMWARE_MAX_BYTES: parseInteger(
      'FIRMWARE_MAX_BYTES',
      env.FIRMWARE_MAX_BYTES,
      DEFAULT_FIRMWARE_MAX_BYTES,
      1,
      2 ** 40,
      errors,
    ),
    FIRMWARE_REDIS_MAX_BYTES: parseInteger(
      'FIRMWARE_REDIS_MAX_BYTES',
      env.FIRMWARE_REDIS_MAX_BYTES,
      DEFAULT_FIRMWARE_REDIS_MAX_BYTES,
      1,
      2 ** 32,
      errors,
    ),
    ...(base ? { FIRMWARE_COAP_BASE: base } : {}),
    FIRMWARE_NOSEC_ECHO: parseFlag('FIRMWARE_NOSEC_ECHO', env.FIRMWARE_NOSEC_ECHO, true, errors),
  };
}

/** The images and push progress a node uses. */
export interface FirmwareStores {
  images: ImageStore;
  pushes: PushProgressStore;
  /** Upload limit (the api) and the Package URI base (pulls started by the api). */
  config: FirmwareConfig;
}

/** FIRMWARE_DIR when set, else Redis when given, else this process's memory (memory mode, tests). */
export function createFirmwareStores(
  config: FirmwareConfig,
  redis?: { client: RedisClient; keyPrefix?: string },
): FirmwareStores {
  const images: ImageStore = config.FIRMWARE_DIR
    ? new DirectoryImageStore(config.FIRMWARE_DIR)
    : redis
      ? new RedisImageStore({
          redis: redis.client,
          keyPrefix: redis.keyPrefix,
          maxImageBytes: config.FIRMWARE_REDIS_MAX_BYTES,
        })
      : new InMemoryImageStore();
  const pushes = redis
    ? new RedisPushProgressStore(redis.client, redis.keyPrefix)
    : new InMemoryPushProgressStore();
  return { images, pushes, config };
}
