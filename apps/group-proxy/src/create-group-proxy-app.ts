// The standalone group-proxy: two UDP sockets (clients, groups) around libs/group-proxy, and GET /health.
import 'reflect-metadata';
import {
  All,
  Controller,
  Get,
  Inject,
  Req,
  Res,
  Module,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
  type LogLevel,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GroupProxy, runHttpGroupRequest } from '@lwm2m/group-proxy';
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

/** The few members of Express's request and response used here (the repo has no @types/express). */
interface HttpRequest extends AsyncIterable<Buffer> {
  method: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string; remotePort?: number };
}
interface HttpResponse {
  status(code: number): this;
  setHeader(name: string, value: string): unknown;
  end(body?: Buffer): unknown;
}

const MAX_HTTP_BODY = 64 * 1024;

/** Section 9: the HTTP-to-CoAP cross-proxy, RFC 8075's Simple Form `/hc/?target_uri=coap://GROUP/path`. */
@Controller()
export class CrossProxyController {
  constructor(@Inject(PROXY) private readonly proxy: GroupProxy) {}

  @All('hc')
  async cross(@Req() req: HttpRequest, @Res() res: HttpResponse): Promise<void> {
    const send = (status: number, headers: Record<string, string>, body: Buffer): void => {
      res.status(status);
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      res.end(body);
    };
    const target = req.query.target_uri;
    if (typeof target !== 'string') {
      return send(
        400,
        { 'Content-Type': 'application/problem+json' },
        problem(400, 'target_uri is required'),
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += c.length;
      if (size > MAX_HTTP_BODY)
        return send(413, { 'Content-Type': 'application/problem+json' }, problem(413, 'body too large'));
      chunks.push(c);
    }
    const header = (n: string): string | undefined => {
      const v = req.headers[n];
      return Array.isArray(v) ? v.join(',') : v;
    };
    const r = await runHttpGroupRequest(this.proxy, {
      method: req.method,
      targetUri: target,
      multicastTimeout: header('multicast-timeout'),
      contentType: header('content-type'),
      accept: header('accept'),
      body: Buffer.concat(chunks),
      // Section 10.5: identified by its address here (NoSec); put TLS in front to authenticate it.
      client: {
        address: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
        port: req.socket.remotePort ?? 0,
      },
    });
    send(r.status, r.headers, r.body);
  }
}

function problem(status: number, detail: string): Buffer {
  return Buffer.from(JSON.stringify({ type: 'about:blank', status, detail }));
}

@Module({})
export class GroupProxyAppModule {
  static forRoot(proxy: GroupProxy): DynamicModule {
    return {
      module: GroupProxyAppModule,
      controllers: [HealthController, CrossProxyController],
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
    // /hc reads its own body: any media type, bounded (section 9 maps it to the CoAP payload).
    bodyParser: false,
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
