// The standalone group-proxy: two UDP sockets (clients, groups) around libs/group-proxy, and GET /health.
import 'reflect-metadata';
import {
  Controller,
  Get,
  Inject,
  Module,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
  type LogLevel,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GroupProxy } from '@lwm2m/group-proxy';
import { UdpTransport } from '@lwm2m/udp';
import type { GroupProxyConfig } from './config';

const PROXY = Symbol('GroupProxy');

@Controller()
export class HealthController {
  constructor(@Inject(PROXY) private readonly proxy: GroupProxy) {}

  /** Counters and forwards in flight: no addresses of clients, no identities. */
  @Get('health')
  health(): { status: 'ok'; activeForwards: number; stats: GroupProxy['stats'] } {
    return { status: 'ok', activeForwards: this.proxy.activeForwards, stats: { ...this.proxy.stats } };
  }
}

@Module({})
export class GroupProxyAppModule {
  static forRoot(proxy: GroupProxy): DynamicModule {
    return {
      module: GroupProxyAppModule,
      controllers: [HealthController],
      providers: [{ provide: PROXY, useValue: proxy }],
    };
  }
}

export interface GroupProxyApp {
  app: INestApplication;
  proxy: GroupProxy;
  coap: { address: string; port: number };
  close(): Promise<void>;
}

export async function createGroupProxyApp(
  config: GroupProxyConfig,
  opts: { logger?: LoggerService | LogLevel[] | false } = {},
): Promise<GroupProxyApp> {
  const type = config.COAP_HOST.includes(':') ? 'udp6' : 'udp4';
  const clientSide = await UdpTransport.bind({ type, address: config.COAP_HOST, port: config.COAP_PORT });
  const groupSide = await UdpTransport.bind({ type, address: config.GROUP_INTERFACE });
  groupSide.enableMulticastSend({
    ...(config.GROUP_INTERFACE !== '0.0.0.0' && config.GROUP_INTERFACE !== '::'
      ? { interface: config.GROUP_INTERFACE }
      : {}),
    ttl: config.MULTICAST_TTL,
  });
  const proxy = new GroupProxy({
    clientSide,
    groupSide,
    groups: config.groups,
    allow: config.allow,
    numbers: config.numbers,
    replyFromEncoding: config.replyFromEncoding,
    maxTimeoutSeconds: config.maxTimeoutSeconds,
    cache: config.cache,
    logger: { warn: (m, c) => console.warn(m, c ?? {}) },
  });
  const app = await NestFactory.create(GroupProxyAppModule.forRoot(proxy), {
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    abortOnError: false,
  });
  return {
    app,
    proxy,
    coap: clientSide.address(),
    async close() {
      await app.close();
      await proxy.close();
      await clientSide.close();
      await groupSide.close();
    },
  };
}
