// The standalone group-observer: its own CoAP endpoint (UDP), Redis, and the REST API.
import 'reflect-metadata';
import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoapEndpoint } from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';
import Redis from 'ioredis';
import type { GroupObserverConfig } from './config';
import { type GroupObserver, mountGroupObserver } from './group-observer';
import { GroupObserverHttpModule } from './group-observer.module';

export interface GroupObserverApp {
  app: INestApplication;
  observer: GroupObserver;
  endpoint: CoapEndpoint;
  coap: { address: string; port: number };
  close(): Promise<void>;
}

export async function createGroupObserverApp(
  config: GroupObserverConfig,
  opts: { logger?: LoggerService | LogLevel[] | false } = {},
): Promise<GroupObserverApp> {
  if (!config.REDIS_URL) throw new Error('invalid configuration: REDIS_URL is required');
  const redis = new Redis(config.REDIS_URL);
  redis.on('error', () => undefined); // ioredis reconnects; commands fail after their retries
  const udp = await UdpTransport.bind({
    type: config.COAP_HOST.includes(':') ? 'udp6' : 'udp4',
    address: config.COAP_HOST,
    port: config.COAP_PORT,
  });
  const endpoint = new CoapEndpoint({ transport: udp });
  const observer = await mountGroupObserver({ endpoint, udp, redis, config });
  endpoint.setHandler((req) => observer.handle(req) ?? { code: 0x84 });
  const app = await NestFactory.create(GroupObserverHttpModule.forRoot(observer), {
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    abortOnError: false,
  });
  return {
    app,
    observer,
    endpoint,
    coap: udp.address(),
    async close() {
      await app.close().catch(() => undefined);
      await observer.close();
      await endpoint.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
