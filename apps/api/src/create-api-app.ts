// Builds the configured api application (filters, pipes, guard, OpenAPI, shutdown hooks) without listening,
// so the standalone main and the single-node start share one setup.
import 'reflect-metadata';
import type { DynamicModule, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createMetricsRegistry, httpMetricsMiddleware } from '@lwm2m/metrics';
import type { Registry } from 'prom-client';
import { ApiModule } from './api.module';
import { refuseDeepJson } from './json-depth';
import {
  FIRMWARE_UPLOAD_ROUTE,
  octetStreamAsOpaqueValue,
  requireKnownContentType,
  XML_MEDIA_TYPES,
} from './content-type';
import type { ApiOptions, ApiPorts } from './tokens';
import { defaultDashboardDir, serveDashboard } from './dashboard';

export interface ApiAppOptions extends ApiOptions {
  /** Nest logger: false silences it (tests), a level list filters it. */
  logger?: LoggerService | LogLevel[] | false;
  /** Default true; false skips /api/docs. */
  docs?: boolean;
  /** Default true: SIGTERM/SIGINT close the app (false when an outer process owns the signals). */
  shutdownHooks?: boolean;
  /**
   * What GET /metrics serves; the api adds http_requests_total and http_request_duration_seconds to it.
   * Default: a new registry with the process metrics (the single-node start may pass one that also holds
   * the gateway's metrics).
   */
  metricsRegistry?: Registry;
  /** More REST modules served on the same port, guard and OpenAPI document (the single node's topics). */
  imports?: DynamicModule[];
  /** The built dashboard served at `/`; default dist/dashboard of this checkout; false serves none. */
  dashboardDir?: string | false;
}

export const DOCS_PATH = 'api/docs';
/** Largest request body, JSON or raw bytes (413 problem+json beyond). */
export const BODY_LIMIT = '1mb';
export const DOCS_JSON_PATH = 'api/docs-json';

export async function createApiApp(
  ports: ApiPorts,
  opts: ApiAppOptions = {},
): Promise<NestExpressApplication> {
  const {
    logger,
    docs = true,
    shutdownHooks = true,
    metricsRegistry,
    imports,
    dashboardDir,
    ...options
  } = opts;
  const registry = metricsRegistry ?? createMetricsRegistry();
  const app = await NestFactory.create<NestExpressApplication>(
    ApiModule.forRoot({ ports, metricsRegistry: registry, ...options, ...(imports ? { imports } : {}) }),
    { ...(logger !== undefined ? { logger } : {}), abortOnError: false },
  );
  app.disable('x-powered-by');
  // Before the routes: every request is counted, those the guard or a 404 answers included.
  app.use(httpMetricsMiddleware(registry));
  app.use(requireKnownContentType());
  app.useBodyParser('json', { limit: BODY_LIMIT, verify: refuseDeepJson() });
  // A Write of one opaque resource may send its bytes as they are (the same limit as JSON).
  // A firmware upload is not parsed: its route streams the request to the image store.
  app.useBodyParser('raw', {
    type: (req: { method?: string; url?: string; headers: Record<string, unknown> }) =>
      String(req.headers['content-type'] ?? '').startsWith('application/octet-stream') &&
      !(req.method === 'POST' && FIRMWARE_UPLOAD_ROUTE.test((req.url ?? '').split('?')[0]!)),
    limit: BODY_LIMIT,
  });
  app.use(octetStreamAsOpaqueValue());
  // An object model upload (POST /api/v1/models) is a DDF XML document, read as text (parseDdf reads it).
  app.useBodyParser('text', { type: XML_MEDIA_TYPES, limit: BODY_LIMIT });
  if (dashboardDir !== false) serveDashboard(app, dashboardDir ?? defaultDashboardDir());
  if (docs) {
    const config = new DocumentBuilder()
      .setTitle('LwM2M server API')
      .setDescription(
        'Registrations, device management (LwM2M TS 1.2 Core 6.3/6.4) and live events. Errors are RFC 9457 problem+json.',
      )
      .setVersion('1')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'API key',
        description: 'An API key from API_KEYS (when set): Authorization: Bearer <key>',
      })
      .build();
    const document = SwaggerModule.createDocument(app, config);
    SwaggerModule.setup(DOCS_PATH, app, document, {
      jsonDocumentUrl: DOCS_JSON_PATH,
      yamlDocumentUrl: 'api/docs-yaml',
    });
  }
  if (shutdownHooks) app.enableShutdownHooks();
  return app;
}
