// /api/v1/bootstrap/configs/{endpoint} (and "default"): what the Bootstrap-Server (libs/bootstrap) writes to a
// client (LwM2M TS 1.2 Core 6.1). Keys are write-only: sealed in the store, never in an answer or a log line.
// POST /api/v1/devices/{endpoint}/bootstrap-trigger: server-initiated bootstrap, Execute on the Bootstrap-Request
// Trigger of the device's Server instance (/1/x/9, TS 1.2 Core E.2).
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import {
  type BootstrapConfigInfo,
  type BootstrapConfigStore,
  BootstrapIdentityConflictError,
  configInfo,
  DEFAULT_CONFIG,
  InvalidBootstrapConfigError,
  parseBootstrapConfig,
} from '@lwm2m/bootstrap';
import { SecretsKeyError } from '@lwm2m/registry';
import { AdminOnly } from '../auth/api-key.guard';
import { Audited } from '../audit/audited';
import { DeviceCommandsService } from '../devices/device-commands.service';
import type { HttpResponse as Response } from '../http';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType, secretsUnavailable } from '../problem/problem';
import { BOOTSTRAP_CONFIGS } from '../tokens';

const ENDPOINT = ApiParam({
  name: 'endpoint',
  description: 'Endpoint Client Name (ep), or "default": the configuration of endpoints that have none',
});

const EXAMPLE = {
  servers: [
    {
      shortServerId: 1,
      uri: 'coaps://lwm2m.example.com:5684',
      security: 'psk',
      psk: { identity: 'urn:imei:350000000000001' },
      lifetime: 300,
      binding: 'U',
    },
  ],
  delete: ['/'],
  acls: [{ objectId: 3, objectInstanceId: 0, acl: { '1': 7 }, owner: 1 }],
  bootstrapPsk: { identity: 'factory-350000000000001', key: '00112233445566778899aabbccddeeff' },
};

const CONFIG_SCHEMA = {
  type: 'object',
  required: ['servers'],
  description:
    'servers[]: LwM2M Server accounts ({shortServerId, uri, security: "nosec"|"psk"|"rpk"|"x509"|"oscore", psk?: {identity?, key? (hex)}, rpk?: {serverPublicKey? (SPKI), privateKey? (PKCS#8 DER)}, ' +
    'x509?: {certificate?, privateKey? (PEM, or DER in base64; both or neither: else a P-256 key and a certificate issued by the gateway CA per bootstrap), serverCertificate? (default the gateway certificate)}, ' +
    "oscore?: {masterSecret?, masterSalt?, senderId?, recipientId?, idContext? (hex; ids from the server's side), aead?}, " +
    'lifetime?, binding?, notificationStoring?, defaultMinPeriod?, defaultMaxPeriod?}); a psk account without a ' +
    'key, an rpk account without a privateKey or an oscore account without a masterSecret gets one generated per bootstrap, stored as the ' +
    "endpoint's LwM2M credential (an oscore account writes /21 linked from /0/x/17). delete[]: Bootstrap-Delete " +
    'paths (default ["/"]). read[]: Bootstrap-Read paths (/1, /2). acls[]: Access Control (/2) instances. ' +
    'allowNoSec: allow writing a PSK to a client that came over NoSec. bootstrapPsk: {identity, key (hex)}, the ' +
    "client's credential on the bootstrap DTLS port. bootstrapOscore: {masterSecret, masterSalt?, senderId, " +
    "recipientId, idContext?, aead? (hex; ids from the server's side, recipientId the client's kid)}, the client's " +
    'OSCORE context on the bootstrap NoSec port (not in the default configuration). Keys are never returned.',
  example: EXAMPLE,
};

function storeKey(endpoint: string): string {
  // eslint-disable-next-line no-control-regex
  if (endpoint.length === 0 || endpoint.length > 128 || /[\u0000-\u001f\u007f]/.test(endpoint))
    throw invalidRequest('the endpoint name must have 1..128 characters and no control characters');
  return endpoint === 'default' ? DEFAULT_CONFIG : endpoint;
}

@ApiTags('bootstrap')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/bootstrap/configs/:endpoint')
export class BootstrapController {
  constructor(@Inject(BOOTSTRAP_CONFIGS) private readonly configs: { store?: BootstrapConfigStore }) {}

  private get store(): BootstrapConfigStore {
    if (this.configs.store === undefined)
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: 'Service Unavailable',
        status: 503,
        detail: 'this api runs without a Bootstrap-Server configuration store',
      });
    return this.configs.store;
  }

  @Put()
  @AdminOnly()
  @Audited('bootstrap-config-put')
  @ApiOperation({
    summary: 'Set the bootstrap configuration of an endpoint (or the default one)',
    description: 'Replaces any previous configuration. Requires the admin role when API keys are configured.',
  })
  @ENDPOINT
  @ApiBody({ schema: CONFIG_SCHEMA })
  @ApiOkResponse({ description: 'The configuration as stored, keys replaced by keySet: true' })
  @ApiProblems(400, 409, 503)
  async put(
    @Param('endpoint') endpoint: string,
    // A plain object: validated by parseBootstrapConfig (one rule set for the api and the lib).
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<BootstrapConfigInfo> {
    const key = storeKey(endpoint);
    let config;
    try {
      config = parseBootstrapConfig(body);
    } catch (err) {
      if (err instanceof InvalidBootstrapConfigError) throw invalidRequest(err.message);
      throw err;
    }
    // One OSCORE context on many clients would reuse nonces (RFC 8613 Appendix D.4): per endpoint only.
    if (key === DEFAULT_CONFIG && config.bootstrapOscore !== undefined)
      throw invalidRequest('bootstrapOscore is per endpoint: the default configuration cannot hold one');
    const existed = (await this.store.get(key).catch(() => undefined)) !== undefined;
    try {
      await this.store.put(key, config);
    } catch (err) {
      if (err instanceof BootstrapIdentityConflictError)
        throw new ProblemException({
          type: ProblemType.CREDENTIAL_CONFLICT,
          title: 'Conflict',
          status: 409,
          detail: err.message,
        });
      if (err instanceof SecretsKeyError) throw secretsUnavailable(err);
      throw err;
    }
    res.status(existed ? 200 : 201);
    return configInfo(config);
  }

  @Get()
  @AdminOnly()
  @ApiOperation({ summary: 'The bootstrap configuration, without keys' })
  @ENDPOINT
  @ApiOkResponse({ description: 'The configuration, keys replaced by keySet: true' })
  @ApiProblems(404)
  async get(@Param('endpoint') endpoint: string): Promise<BootstrapConfigInfo> {
    const config = await this.store.get(storeKey(endpoint));
    if (config === undefined) throw noConfig(endpoint);
    return configInfo(config);
  }

  @Delete()
  @HttpCode(204)
  @AdminOnly()
  @Audited('bootstrap-config-delete')
  @ApiOperation({ summary: 'Remove the bootstrap configuration' })
  @ENDPOINT
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiProblems(404)
  async remove(@Param('endpoint') endpoint: string): Promise<void> {
    if (!(await this.store.remove(storeKey(endpoint)))) throw noConfig(endpoint);
  }
}

@ApiTags('bootstrap')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/devices/:endpoint/bootstrap-trigger')
export class BootstrapTriggerController {
  constructor(private readonly commands: DeviceCommandsService) {}

  @Post()
  @HttpCode(204)
  @AdminOnly()
  @Audited('bootstrap-trigger')
  @ApiOperation({
    summary: 'Server-initiated bootstrap',
    description:
      "Executes the Bootstrap-Request Trigger (/1/x/9) of the device's first Server instance: the client then " +
      'sends a Bootstrap-Request to its Bootstrap-Server (TS 1.2 Core 6.1.4).',
  })
  @ApiParam({ name: 'endpoint', description: 'Endpoint Client Name (ep) of a registered device' })
  @ApiNoContentResponse({ description: 'The device accepted the Execute' })
  @ApiProblems(404, 502, 504)
  async trigger(@Param('endpoint') endpoint: string): Promise<void> {
    const reg = await this.commands.requireDevice(endpoint);
    // The Server instance the device registered with; its object links list it (TS 1.2 Core 6.2.1).
    const link = reg.objectLinks.map((l) => /^\/1\/(\d+)$/.exec(l.path)).find((m) => m !== null);
    const iid = link ? Number(link[1]) : 0;
    await this.commands.run(endpoint, { op: 'execute', path: `/1/${iid}/9` });
  }
}

function noConfig(endpoint: string): ProblemException {
  return new ProblemException({
    type: ProblemType.UNKNOWN_BOOTSTRAP_CONFIG,
    title: 'No bootstrap configuration',
    status: 404,
    detail: `no bootstrap configuration for "${endpoint.slice(0, 64)}"`,
  });
}
