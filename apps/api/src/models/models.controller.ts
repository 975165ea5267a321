// /api/v1/models: the object models (LwM2M TS 1.2 Core Appendix D, OMA DDF XML) the server knows: built in,
// loaded from MODELS_DIR at start, or uploaded here (stored in Redis, so every api and gateway has them).
import { Body, Controller, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { compareVersions, DdfError, MAX_DDF_BYTES } from '@lwm2m/lwm2m';
import { ModelLimitError } from '@lwm2m/server';
import type { HttpResponse as Response } from '../http';
import { AdminOnly } from '../auth/api-key.guard';
import { Audited } from '../audit/audited';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { OBJECT_MODELS } from '../tokens';
import { XML_MEDIA_TYPES } from '../content-type';
import type { ApiObjectModels } from './api-object-models';
import {
  ModelDto,
  ModelListDto,
  ModelListQueryDto,
  ModelQueryDto,
  ModelUploadDto,
  ModelUploadQueryDto,
  toModel,
  toModelSummary,
} from './models.dto';

/** A known object version uploaded again without ?replace=true. */
export const MODEL_EXISTS = 'urn:lwm2m-cluster:problem:model-exists';
export const INVALID_MODEL = 'urn:lwm2m-cluster:problem:invalid-model';
export const UNKNOWN_MODEL = 'urn:lwm2m-cluster:problem:unknown-model';
/** The model store holds its limit of uploaded models (an upload may still replace one). */
export const TOO_MANY_MODELS = 'urn:lwm2m-cluster:problem:too-many-models';

@ApiTags('models')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/models')
export class ModelsController {
  constructor(@Inject(OBJECT_MODELS) private readonly shared: ApiObjectModels) {}

  @Post()
  @AdminOnly()
  @Audited('model-upload')
  @ApiOperation({
    summary: 'Upload an object model (admin)',
    description:
      'Body: one OMA DDF XML document (LWM2M.xsd or LWM2M-v1_1.xsd) holding one object, as application/xml or ' +
      `text/xml, at most ${MAX_DDF_BYTES} bytes. Stored for every api and gateway (at most 1000 uploaded ` +
      'models: beyond, a new object version is 409 too-many-models). An object id and version ' +
      'already known (built in, from MODELS_DIR or uploaded) is 409 unless ?replace=true. A document type ' +
      'declaration (DOCTYPE, hence any entity) is refused. Needs an admin key.',
  })
  @ApiConsumes(...XML_MEDIA_TYPES)
  @ApiBody({
    schema: { type: 'string', example: '<LWM2M><Object ObjectType="MODefinition">...</Object></LWM2M>' },
  })
  @ApiCreatedResponse({ type: ModelUploadDto, description: 'Added; Location names it' })
  @ApiOkResponse({ type: ModelUploadDto, description: 'Replaced (?replace=true)' })
  @ApiProblems(400, 409, 413, 415)
  async upload(
    @Body() body: unknown,
    @Query() query: ModelUploadQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ModelUploadDto> {
    if (typeof body !== 'string') {
      throw new ProblemException({
        type: ProblemType.UNSUPPORTED_MEDIA_TYPE,
        title: 'Unsupported Media Type',
        status: 415,
        detail: `send the DDF as ${XML_MEDIA_TYPES.join(' or ')}`,
      });
    }
    let upload;
    try {
      upload = await this.shared.upload(body, 'uploaded DDF', query.replace === true);
    } catch (err) {
      if (err instanceof ModelLimitError) {
        throw new ProblemException({
          type: TOO_MANY_MODELS,
          title: 'Too many object models',
          status: 409,
          detail: err.message,
          maxModels: err.max,
        });
      }
      if (!(err instanceof DdfError)) throw err;
      throw new ProblemException({
        type: INVALID_MODEL,
        title: 'Invalid object model',
        status: 400,
        detail: err.message,
      });
    }
    const m = upload.model;
    if (upload.result === 'exists') {
      throw new ProblemException({
        type: MODEL_EXISTS,
        title: 'Object model exists',
        status: 409,
        detail: `object ${m.id} version ${m.version} is known; upload with ?replace=true to replace it`,
        objectId: m.id,
        version: m.version,
      });
    }
    res.status(upload.result === 'added' ? 201 : 200);
    res.location(`/api/v1/models/${m.id}?version=${m.version}`);
    const models = this.shared.models;
    return { ...toModel(m, models.versions(m.id), models.assumedVersion(m.id)), result: upload.result };
  }

  @Get()
  @ApiOperation({
    summary: 'List object models',
    description: 'Every object id and version known, ordered by id then version; paged by ?cursor=.',
  })
  @ApiOkResponse({ type: ModelListDto })
  @ApiProblems(400)
  async list(@Query() query: ModelListQueryDto): Promise<ModelListDto> {
    await this.shared.sync();
    const limit = query.limit ?? 100;
    let all = this.shared.models.list();
    if (query.cursor !== undefined) {
      const [id, version] = query.cursor.split(':') as [string, string];
      all = all.filter(
        (m) => m.id > Number(id) || (m.id === Number(id) && compareVersions(m.version, version) > 0),
      );
    }
    const page = all.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toModelSummary),
      nextCursor: all.length > limit && last ? `${last.id}:${last.version}` : null,
    };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One object model',
    description: 'Its resources with names, types, operations, units and ranges; ?version= picks a version.',
  })
  @ApiParam({ name: 'id', schema: { type: 'integer', example: 3303 } })
  @ApiOkResponse({ type: ModelDto })
  @ApiProblems(400, 404)
  async get(@Param('id') rawId: string, @Query() query: ModelQueryDto): Promise<ModelDto> {
    const id = /^[0-9]{1,5}$/.test(rawId) ? Number(rawId) : NaN;
    if (!(id <= 65535)) {
      throw invalidRequest(`object id "${rawId.slice(0, 16)}" is not 0..65535`);
    }
    await this.shared.sync();
    const models = this.shared.models;
    const versions = models.versions(id);
    const version = query.version ?? versions.at(-1);
    const m = version === undefined ? undefined : models.get(id, version);
    if (m === undefined) {
      throw new ProblemException({
        type: UNKNOWN_MODEL,
        title: 'Object model not found',
        status: 404,
        detail:
          versions.length === 0
            ? `no model of object ${id}`
            : `object ${id} has no version ${version}; known: ${versions.join(', ')}`,
      });
    }
    return toModel(m, versions, models.assumedVersion(id));
  }
}
