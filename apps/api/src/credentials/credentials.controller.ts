// /api/v1/devices/{endpoint}/credentials: what a device authenticates with on CoAP over DTLS (LwM2M TS 1.2
// Transport 5.2). A credential may be set before the device ever registers. The PSK is write-only: it goes
// to the CredentialStore and never comes back in an answer, an error or a log line.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import {
  checkOscore,
  checkPsk,
  type OscoreCredential,
  type Credential,
  type CredentialInfo,
  type CredentialStore,
  normalizeRpk,
  rpkToPem,
} from '@lwm2m/server';
import { SecretsKeyError } from '@lwm2m/registry';
import { AdminOnly } from '../auth/api-key.guard';
import { Audited } from '../audit/audited';
import type { HttpResponse as Response } from '../http';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType, secretsUnavailable } from '../problem/problem';
import { CREDENTIAL_STORE } from '../tokens';
import { CredentialsBodyDto, CredentialsDto } from './credentials.dto';

const ENDPOINT = ApiParam({ name: 'endpoint', description: 'Endpoint Client Name (ep)' });

@ApiTags('credentials')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/devices/:endpoint/credentials')
export class CredentialsController {
  constructor(@Inject(CREDENTIAL_STORE) private readonly store: CredentialStore) {}

  @Put()
  @AdminOnly()
  @Audited('credential-put')
  @ApiOperation({
    summary: 'Set the security credential',
    description:
      'Exactly one of {psk:{identity, key}}, {rpk:{publicKey}}, {x509:{subject?}} or {oscore:{masterSecret, ' +
      "masterSalt?, senderId, recipientId, idContext?, aead?, hkdf?}} (OSCORE ids from the server's point of " +
      "view: recipientId is the device's Sender ID, its kid); replaces any previous " +
      'credential of the endpoint (its old identity stops authenticating). The endpoint need not be registered. ' +
      'Requires the admin role when API keys are configured.',
  })
  @ENDPOINT
  @ApiCreatedResponse({ type: CredentialsDto, description: 'Set for the first time' })
  @ApiOkResponse({ type: CredentialsDto, description: 'Replaced the previous credential' })
  @ApiProblems(400, 409, 503)
  async put(
    @Param('endpoint') endpoint: string,
    @Body() body: CredentialsBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CredentialsDto> {
    checkEndpoint(endpoint);
    const given = (['psk', 'rpk', 'x509', 'oscore'] as const).filter((k) => body[k] !== undefined);
    if (given.length !== 1) throw invalidRequest('give exactly one of "psk", "rpk", "x509" or "oscore"');
    let credential: Credential;
    if (body.oscore) {
      const o = body.oscore;
      const hex = (v: string) => Buffer.from(v, 'hex');
      const oscore: OscoreCredential = {
        masterSecret: hex(o.masterSecret),
        senderId: hex(o.senderId),
        recipientId: hex(o.recipientId),
        ...(o.masterSalt !== undefined ? { masterSalt: hex(o.masterSalt) } : {}),
        ...(o.idContext !== undefined ? { idContext: hex(o.idContext) } : {}),
        ...(o.aead !== undefined ? { aead: o.aead } : {}),
        ...(o.hkdf !== undefined ? { hkdf: o.hkdf } : {}),
      };
      checkOscore(oscore);
      credential = { type: 'oscore', oscore };
    } else if (body.psk) {
      const key = Buffer.from(body.psk.key, 'hex');
      checkPsk(body.psk.identity, key);
      credential = { type: 'psk', identity: body.psk.identity, key };
    } else if (body.rpk) {
      credential = { type: 'rpk', publicKey: normalizeRpk(body.rpk.publicKey) };
    } else {
      credential = { type: 'x509', subject: body.x509?.subject ?? endpoint };
    }
    const { replaced } = await this.store.put(endpoint, credential).catch((err: unknown) => {
      // A PSK is only ever stored sealed: without SECRETS_KEY this api can't take one (a deployment fault).
      if (err instanceof SecretsKeyError) throw secretsUnavailable(err);
      throw err;
    });
    res.status(replaced ? 200 : 201);
    return toDto(credential);
  }

  @Get()
  @ApiOperation({ summary: 'The security credential, without secrets' })
  @ENDPOINT
  @ApiOkResponse({ type: CredentialsDto })
  @ApiProblems(404)
  async get(@Param('endpoint') endpoint: string): Promise<CredentialsDto> {
    const info = await this.store.get(endpoint);
    if (info === undefined) throw noCredential(endpoint);
    return toDto(info);
  }

  @Delete()
  @HttpCode(204)
  @AdminOnly()
  @Audited('credential-delete')
  @ApiOperation({
    summary: 'Remove the security credential',
    description: 'The device can no longer authenticate over DTLS; an established session is not torn down.',
  })
  @ENDPOINT
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiProblems(404)
  async remove(@Param('endpoint') endpoint: string): Promise<void> {
    if ((await this.store.remove(endpoint)) === undefined) throw noCredential(endpoint);
  }
}

/** The answer form: never the key. */
function toDto(c: Credential | CredentialInfo): CredentialsDto {
  if (c.type === 'psk') return { type: 'psk', identity: c.identity };
  if (c.type === 'rpk') return { type: 'rpk', publicKey: rpkToPem(c.publicKey) };
  if (c.type === 'oscore') {
    const o = c.oscore;
    return {
      type: 'oscore',
      oscore: {
        senderId: o.senderId.toString('hex'),
        recipientId: o.recipientId.toString('hex'),
        ...(o.idContext !== undefined ? { idContext: o.idContext.toString('hex') } : {}),
        ...(o.aead !== undefined ? { aead: o.aead } : {}),
        ...(o.hkdf !== undefined ? { hkdf: o.hkdf } : {}),
        keySet: true,
      },
    };
  }
  return { type: 'x509', subject: c.subject };
}

/** The registration interface's rules for "ep" (TS 1.2 Core 6.2.1), so a credential can match a Register. */
function checkEndpoint(endpoint: string): void {
  // eslint-disable-next-line no-control-regex
  if (endpoint.length === 0 || endpoint.length > 255 || /[\u0000-\u001f\u007f]/.test(endpoint)) {
    throw invalidRequest('the endpoint name must have 1..255 characters and no control characters');
  }
}

function noCredential(endpoint: string): ProblemException {
  return new ProblemException({
    type: ProblemType.UNKNOWN_CREDENTIAL,
    title: 'No credential',
    status: 404,
    detail: `no security credential for "${endpoint.slice(0, 64)}"`,
  });
}
