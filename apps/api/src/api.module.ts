// The REST api as a dynamic module: ApiModule.forRoot({ports}) takes any implementation of the ports
// (Redis in the product, in-memory in tests and examples).
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { createMetricsRegistry } from '@lwm2m/metrics';
import type { Registry } from 'prom-client';
import { ClusterController } from './cluster/cluster.controller';
import { CampaignsController } from './campaigns/campaigns.controller';
import { httpSecurityProviders } from './auth/http-security';
import { AuditController } from './audit/audit.controller';
import { AUDIT_STORE, AuditInterceptor } from './audit/audit.interceptor';
import { InMemoryAuditStore, InMemoryModelStore, SharedObjectModels } from '@lwm2m/server';
import { ApiObjectModels } from './models/api-object-models';
import { ModelsController } from './models/models.controller';
import { DeviceFirmwareController, FirmwareController } from './firmware/firmware.controller';
import {
  createFirmwareStores,
  DEFAULT_FIRMWARE_MAX_BYTES,
  DEFAULT_FIRMWARE_REDIS_MAX_BYTES,
} from '@lwm2m/firmware';
import { parseApiKeys } from './auth/api-keys';
import { DeviceCommandsService } from './devices/device-commands.service';
import { DevicesController } from './devices/devices.controller';
import { EventsController } from './events/events.controller';
import { RequestsController } from './requests/requests.controller';
import { GroupsController } from './groups/groups.controller';
import { groupProviders } from './groups/group-providers';
import { CredentialsController } from './credentials/credentials.controller';
import { BootstrapController, BootstrapTriggerController } from './bootstrap/bootstrap.controller';
import { BACKEND_PING, HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { createValidationPipe } from './problem/validation';
import {
  API_OPTIONS,
  type ApiOptions,
  type ApiPorts,
  BOOTSTRAP_CONFIGS,
  CAMPAIGN_STORE,
  COMMAND_BUS,
  CREDENTIAL_STORE,
  EVENT_BUS,
  FIRMWARE_STORES,
  CLUSTER_MEMBERSHIP,
  METRICS_REGISTRY,
  OBJECT_MODELS,
  OBSERVATION_STORE,
  REGISTRATION_STORE,
  REQUEST_QUEUE,
  type ResolvedApiOptions,
  VALUE_STORE,
} from './tokens';

export interface ApiModuleOptions extends ApiOptions {
  ports: ApiPorts;
  /** What GET /metrics serves; default a new registry with the process metrics. */
  metricsRegistry?: Registry;
  /** More REST modules behind the same guard (e.g. the group-observer's topics in the single node). */
  imports?: DynamicModule[];
}

/** Each open stream holds a socket (a file descriptor): keep SSE_MAX_STREAMS well below `ulimit -n`. */
export const DEFAULT_SSE_MAX_STREAMS = 10_000;
export const DEFAULT_SSE_MAX_STREAMS_PER_KEY = 100;

export function resolveApiOptions(opts: ApiOptions): ResolvedApiOptions {
  return {
    apiKeys: parseApiKeys(opts.apiKeys),
    sseHeartbeatMs: opts.sseHeartbeatMs ?? 15_000,
    sseMaxStreams: opts.sseMaxStreams ?? DEFAULT_SSE_MAX_STREAMS,
    sseMaxStreamsPerKey: opts.sseMaxStreamsPerKey ?? DEFAULT_SSE_MAX_STREAMS_PER_KEY,
    defaultTimeoutMs: opts.defaultTimeoutMs ?? 10_000,
  };
}

@Module({})
export class ApiModule {
  static forRoot({ ports, metricsRegistry, imports = [], ...options }: ApiModuleOptions): DynamicModule {
    const resolved = resolveApiOptions(options);
    // A DDF file of MODELS_DIR that does not parse stops the start here, naming the file.
    const models = new ApiObjectModels(
      new SharedObjectModels({
        store: ports.models ?? new InMemoryModelStore(),
        ...(options.modelsDirs ? { dirs: options.modelsDirs } : {}),
      }),
    );
    return {
      module: ApiModule,
      imports: [TerminusModule.forRoot({ logger: false }), ...imports],
      controllers: [
        DevicesController,
        CredentialsController,
        BootstrapController,
        BootstrapTriggerController,
        EventsController,
        HealthController,
        RequestsController,
        MetricsController,
        ClusterController,
        AuditController,
        ModelsController,
        GroupsController,
        CampaignsController,
        FirmwareController,
        DeviceFirmwareController,
      ],
      providers: [
        { provide: COMMAND_BUS, useValue: ports.commands },
        { provide: REGISTRATION_STORE, useValue: ports.registrations },
        { provide: OBSERVATION_STORE, useValue: ports.observations },
        { provide: VALUE_STORE, useValue: ports.values },
        { provide: EVENT_BUS, useValue: ports.events },
        { provide: CREDENTIAL_STORE, useValue: ports.credentials },
        { provide: BOOTSTRAP_CONFIGS, useValue: { store: ports.bootstrapConfigs } },
        { provide: BACKEND_PING, useValue: { ping: ports.ping } },
        { provide: API_OPTIONS, useValue: resolved },
        { provide: REQUEST_QUEUE, useValue: { queue: ports.requests } },
        { provide: CLUSTER_MEMBERSHIP, useValue: ports.membership ?? {} },
        { provide: CAMPAIGN_STORE, useValue: { store: ports.campaigns } },
        { provide: METRICS_REGISTRY, useFactory: () => metricsRegistry ?? createMetricsRegistry() },
        DeviceCommandsService,
        ...groupProviders(ports, options.groups),
        { provide: OBJECT_MODELS, useValue: models },
        {
          provide: FIRMWARE_STORES,
          // Without a firmware port (tests, examples) images live in this process's memory.
          useValue:
            ports.firmware ??
            createFirmwareStores({
              FIRMWARE_MAX_BYTES: DEFAULT_FIRMWARE_MAX_BYTES,
              FIRMWARE_REDIS_MAX_BYTES: DEFAULT_FIRMWARE_REDIS_MAX_BYTES,
            }),
        },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        ...httpSecurityProviders(resolved.apiKeys),
        // Without an audit port (tests, examples) the trail lives in memory.
        { provide: AUDIT_STORE, useValue: ports.audit ?? new InMemoryAuditStore() },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
    };
  }
}
