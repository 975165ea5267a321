// /api/v1/devices: registrations and device management (LwM2M TS 1.2 Core 6.3 DM & Service Enablement,
// 6.4 Information Reporting). Thin: each route validates, builds a DeviceCommand and maps the result.
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { parseLinkFormat } from '@lwm2m/coap';
import type {
  DeviceCommandResult,
  JsonPathValue,
  Observation,
  ObservationStore,
  RegistrationStore,
  ValueStore,
} from '@lwm2m/server';
import type { HttpResponse as Response } from '../http';
import { Audited } from '../audit/audited';
import { AdminOnly } from '../auth/api-key.guard';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { OBJECT_MODELS, OBSERVATION_STORE, REGISTRATION_STORE, VALUE_STORE } from '../tokens';
import { DeviceCommandsService } from './device-commands.service';
import {
  AcceptedDto,
  AttributesBodyDto,
  CommandQueryDto,
  CompositeReadResultDto,
  CompositeWriteBodyDto,
  CreateBodyDto,
  CreateResultDto,
  DiscoverResultDto,
  ExecuteBodyDto,
  LatestValueDto,
  LatestValuesDto,
  MergedQueryDto,
  ObservationCreatedDto,
  ObservationDetailDto,
  ObservationDto,
  ObservationListDto,
  ObserveBodyDto,
  PathsBodyDto,
  ReadResultDto,
  WriteBodyDto,
  WriteQueryDto,
} from './dto/data.dto';
import { DeviceDto, DeviceListDto, DeviceListQueryDto, toDevice, toDeviceSummary } from './dto/device.dto';
import { FleetStates } from './fleet-states';
import { modelProblem, toJsonPathValues, withNamesAndUnits } from './json-values';
import { executeProblem, mergedOf, type StoredValue } from '@lwm2m/server';
import type { ApiObjectModels } from '../models/api-object-models';
import { parseObjectIdParam, parsePathParam } from './lwm2m-path-param';
import { Lwm2mPath } from '@lwm2m/lwm2m';

const ENDPOINT = ApiParam({ name: 'endpoint', description: 'Endpoint Client Name (ep)' });
const PATH = ApiParam({
  name: 'path',
  description: 'LwM2M path without the leading slash, e.g. 3/0/1',
  schema: { type: 'string', example: '3/0/1' },
});
const ACCEPTED = ApiAcceptedResponse({
  type: AcceptedDto,
  description:
    'Queued for a sleeping queue-mode device (LwM2M queue mode); Location: /api/v1/requests/{id} gives its state and result, also streamed as "request" events',
});
const ATTRIBUTE_NAMES = ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'edge', 'con', 'hqmax'] as const;

type WildcardParam = string | string[];

@ApiTags('devices')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/devices')
export class DevicesController {
  private readonly fleetStates: FleetStates;

  constructor(
    private readonly commands: DeviceCommandsService,
    @Inject(REGISTRATION_STORE) private readonly registrations: RegistrationStore,
    @Inject(OBSERVATION_STORE) private readonly observations: ObservationStore,
    @Inject(VALUE_STORE) private readonly values: ValueStore,
    @Inject(OBJECT_MODELS) private readonly models: ApiObjectModels,
  ) {
    this.fleetStates = new FleetStates(registrations);
  }

  @Get()
  @ApiOperation({
    summary: 'List registered devices',
    description:
      'Paged by an opaque cursor; q filters by endpoint substring. total and states count the whole fleet, ' +
      'whatever q and the page; states are counted at most once per 5 s per api (statesAt says when).',
  })
  @ApiOkResponse({ type: DeviceListDto })
  @ApiProblems(400)
  async list(@Query() query: DeviceListQueryDto): Promise<DeviceListDto> {
    const page = await this.registrations.list({
      limit: query.limit ?? 100,
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      ...(query.q !== undefined ? { q: query.q } : {}),
    });
    const total = this.registrations.count ? await this.registrations.count() : undefined;
    const states = await this.fleetStates.get();
    return {
      items: page.items.map(toDeviceSummary),
      nextCursor: page.nextCursor ?? null,
      ...(total !== undefined ? { total } : {}),
      states: states.counts,
      statesAt: new Date(states.at).toISOString(),
    };
  }

  @Get(':endpoint')
  @ApiOperation({ summary: 'One registration' })
  @ENDPOINT
  @ApiOkResponse({ type: DeviceDto })
  @ApiProblems(404)
  async get(@Param('endpoint') endpoint: string): Promise<DeviceDto> {
    return toDevice(await this.commands.requireDevice(endpoint));
  }

  @Delete(':endpoint')
  @AdminOnly()
  @Audited('deregister')
  @HttpCode(204)
  @ApiOperation({
    summary: 'De-register a device (admin)',
    description:
      'Removes the registration as if the device had de-registered: its observations are cancelled and its ' +
      'latest values dropped; a "deregistered" event with reason "operator" is emitted. The device is not ' +
      'told: it registers again when it next needs the server. Needs an admin key.',
  })
  @ENDPOINT
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiProblems(404, 502, 503, 504)
  async deregister(@Param('endpoint') endpoint: string, @Query() query: CommandQueryDto): Promise<void> {
    await this.commands.run(endpoint, { op: 'deregister' }, query);
  }

  @Get(':endpoint/data/*path')
  @ApiOperation({
    summary: 'Read',
    description:
      'LwM2M Read of an object, instance, resource or resource instance. Each value carries the name and unit ' +
      'of its resource from the object model of the version the device registered (ver), when known.',
  })
  @ENDPOINT
  @PATH
  @ApiOkResponse({ type: ReadResultDto })
  @ACCEPTED
  @ApiProblems(400, 404, 406, 502, 503, 504)
  async read(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: CommandQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ReadResultDto | AcceptedDto> {
    const path = parsePathParam(rawPath);
    const reg = await this.commands.requireDevice(endpoint);
    const r = await this.commands.run(endpoint, { op: 'read', path: path.toString() }, query, reg);
    if (r.status === 202) return accepted(r, res);
    res.status(successStatus(r, 200));
    const values = withNamesAndUnits(r.values ?? [], await this.models.forDevice(reg));
    return { path: path.toString(), values, contentFormat: r.contentFormat ?? null };
  }

  @Put(':endpoint/data/*path')
  @Audited('write')
  @ApiOperation({
    summary: 'Write',
    description:
      'Body {value} for one resource or {values:[{path?, value, type?}]}. ?replace=false for a partial update. ' +
      'Checked against the object model of the version the device registered: a value of the wrong type, ' +
      "outside the resource's range, or a resource that is not writable is 400 (with its path) before anything is sent.",
  })
  @ENDPOINT
  @PATH
  @ApiNoContentResponse({ description: 'The device answered 2.04 Changed' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 415, 502, 503, 504)
  async write(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: WriteQueryDto,
    @Body() body: WriteBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AcceptedDto | undefined> {
    const path = parsePathParam(rawPath);
    const hasValue = body.value !== undefined;
    if (hasValue === (body.values !== undefined)) {
      throw invalidRequest('give either "value" (one resource) or "values" (a list), not both or neither');
    }
    if (!hasValue && body.type !== undefined)
      throw invalidRequest('"type" goes with "value"; in "values" give it per item');
    const reg = await this.commands.requireDevice(endpoint);
    const model = await this.models.forDevice(reg);
    const values = hasValue
      ? toJsonPathValues(path, [{ value: body.value, ...(body.type ? { type: body.type } : {}) }], model)
      : toJsonPathValues(path, body.values!, model);
    const r = await this.commands.run(
      endpoint,
      { op: 'write', path: path.toString(), values, replace: query.replace ?? true },
      query,
      reg,
    );
    return noContent(r, res);
  }

  @Post(':endpoint/data/*path/execute')
  @Audited('execute')
  @ApiOperation({
    summary: 'Execute',
    description:
      "Body {args?}: arguments like 0='text',1 (TS 1.2 Core 5.4.5). A resource the object model does not mark executable (E) is 400.",
  })
  @ENDPOINT
  @PATH
  @ApiBody({ type: ExecuteBodyDto, required: false })
  @ApiNoContentResponse({ description: 'The device answered 2.04 Changed' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 502, 503, 504)
  async execute(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: CommandQueryDto,
    @Body() body: ExecuteBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AcceptedDto | undefined> {
    const path = parsePathParam(rawPath, 3);
    if (path.depth !== 3) throw badPath(`Execute targets a resource: ${path} is not one`);
    const reg = await this.commands.requireDevice(endpoint);
    const problem = executeProblem(path, await this.models.forDevice(reg));
    if (problem !== undefined) throw modelProblem(problem);
    const r = await this.commands.run(
      endpoint,
      { op: 'execute', path: path.toString(), ...(body.args !== undefined ? { args: body.args } : {}) },
      query,
      reg,
    );
    return noContent(r, res);
  }

  @Post(':endpoint/data/:objectId')
  @Audited('create')
  @ApiOperation({
    summary: 'Create',
    description:
      'Creates an object instance. Body {values:[{path, value, type?}], instanceId?}; paths are resource ids relative to the new instance ("5700") or absolute.',
  })
  @ENDPOINT
  @ApiParam({ name: 'objectId', schema: { type: 'integer', example: 3303 } })
  @ApiCreatedResponse({ type: CreateResultDto, description: 'Location header names the new instance' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 502, 503, 504)
  async create(
    @Param('endpoint') endpoint: string,
    @Param('objectId') objectId: string,
    @Query() query: CommandQueryDto,
    @Body() body: CreateBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreateResultDto | AcceptedDto> {
    const object = parseObjectIdParam(objectId);
    // Without instanceId the values sit under a provisional /o/0 and the command path stays /o: the gateway
    // then leaves the id to the device (TLV) or names a free one (SenML, LwM2M CBOR; libs/server create()).
    const instance = object.child(body.instanceId ?? 0);
    const reg = await this.commands.requireDevice(endpoint);
    const values = toJsonPathValues(instance, body.values, await this.models.forDevice(reg), 'create');
    const target = body.instanceId !== undefined ? instance : object;
    const r = await this.commands.run(
      endpoint,
      { op: 'create', path: target.toString(), values },
      query,
      reg,
    );
    if (r.status === 202) return accepted(r, res);
    const created = r.location ?? (body.instanceId !== undefined ? instance.toString() : undefined);
    if (created) {
      res.location(`/api/v1/devices/${encodeURIComponent(endpoint)}/data${created}`);
    }
    res.status(successStatus(r, 201));
    return { path: created ?? object.toString() };
  }

  @Delete(':endpoint/data/*path')
  @Audited('delete')
  @ApiOperation({ summary: 'Delete', description: 'Deletes an object instance.' })
  @ENDPOINT
  @PATH
  @ApiNoContentResponse({ description: 'The device answered 2.02 Deleted' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 502, 503, 504)
  async remove(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: CommandQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AcceptedDto | undefined> {
    const path = parsePathParam(rawPath);
    const r = await this.commands.run(endpoint, { op: 'delete', path: path.toString() }, query);
    return noContent(r, res);
  }

  @Get(':endpoint/discover/*path')
  @ApiOperation({ summary: 'Discover', description: 'The device-side link list with attributes.' })
  @ENDPOINT
  @PATH
  @ApiOkResponse({ type: DiscoverResultDto })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 502, 503, 504)
  async discover(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: CommandQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DiscoverResultDto | AcceptedDto> {
    const path = parsePathParam(rawPath);
    const r = await this.commands.run(endpoint, { op: 'discover', path: path.toString() }, query);
    if (r.status === 202) return accepted(r, res);
    res.status(successStatus(r, 200));
    const links = r.links ?? '';
    return { path: path.toString(), links, items: parseLinks(links) };
  }

  @Put(':endpoint/attributes/*path')
  @Audited('write-attributes')
  @ApiOperation({
    summary: 'Write-Attributes',
    description:
      'Notification attributes pmin, pmax, gt, lt, st, epmin, epmax and, for LwM2M 1.2 devices, edge, con, hqmax (TS 1.2 Core 5.1.2); null removes one. 400 when pmin > pmax, epmin > epmax, lt >= gt or lt + 2*st >= gt among the given ones, or a 1.2 attribute for an older device.',
  })
  @ENDPOINT
  @PATH
  @ApiNoContentResponse({ description: 'The device answered 2.04 Changed' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 502, 503, 504)
  async writeAttributes(
    @Param('endpoint') endpoint: string,
    @Param('path') rawPath: WildcardParam,
    @Query() query: CommandQueryDto,
    @Body() body: AttributesBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AcceptedDto | undefined> {
    const path = parsePathParam(rawPath);
    const attributes: Record<string, number | null> = {};
    for (const name of ATTRIBUTE_NAMES) if (body[name] !== undefined) attributes[name] = body[name] ?? null;
    if (Object.keys(attributes).length === 0)
      throw invalidRequest(`give at least one of ${ATTRIBUTE_NAMES.join(', ')}`);
    const r = await this.commands.run(
      endpoint,
      { op: 'write-attributes', path: path.toString(), attributes },
      query,
    );
    return noContent(r, res);
  }

  @Post(':endpoint/observations')
  @Audited('observe')
  @ApiOperation({
    summary: 'Observe',
    description:
      'One path starts an Observe, several an Observe-Composite. Notifications arrive on /api/v1/events. ' +
      'Observing a path (or path set) already observed returns the existing observation (200, existing: true). ' +
      'A device has at most MAX_OBSERVATIONS_PER_DEVICE (default 64) observations: beyond, 409 with ' +
      'maxObservations and activeObservations; cancelling one frees a slot.',
  })
  @ENDPOINT
  @ApiCreatedResponse({ type: ObservationCreatedDto })
  @ApiOkResponse({
    type: ObservationCreatedDto,
    description: 'The existing observation of the same path (set)',
  })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 409, 502, 503, 504)
  async observe(
    @Param('endpoint') endpoint: string,
    @Query() query: CommandQueryDto,
    @Body() body: ObserveBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ObservationCreatedDto | AcceptedDto> {
    const paths = normalizePaths(body.paths);
    const reg = await this.commands.requireDevice(endpoint);
    const patch = body.notifications === 'patch' ? { notifications: 'patch' as const } : {};
    const r = await this.commands.run(
      endpoint,
      paths.length === 1
        ? { op: 'observe', path: paths[0], ...patch }
        : { op: 'observe-composite', paths, ...patch },
      query,
      reg,
    );
    if (r.status === 202) return accepted(r, res);
    if (!r.observationId) {
      throw new ProblemException({
        type: ProblemType.DEVICE_ERROR,
        title: 'No observation',
        status: 502,
        detail: 'the device answered without establishing an observation',
      });
    }
    res.location(
      `/api/v1/devices/${encodeURIComponent(endpoint)}/observations/${encodeURIComponent(r.observationId)}`,
    );
    res.status(r.reused ? 200 : 201);
    return {
      id: r.observationId,
      paths,
      values: withNamesAndUnits(r.values ?? [], await this.models.forDevice(reg)),
      contentFormat: r.contentFormat ?? null,
      existing: r.reused === true,
    };
  }

  @Delete(':endpoint/observations/:id')
  @Audited('cancel-observation')
  @HttpCode(204)
  @ApiOperation({ summary: 'Cancel an observation' })
  @ENDPOINT
  @ApiParam({ name: 'id', description: 'Observation id' })
  @ApiNoContentResponse({ description: 'Cancelled' })
  @ApiProblems(400, 404, 502, 503, 504)
  async cancelObservation(
    @Param('endpoint') endpoint: string,
    @Param('id') id: string,
    @Query() query: CommandQueryDto,
  ): Promise<void> {
    const obs = await this.observationOf(endpoint, id);
    await this.commands.run(
      endpoint,
      {
        op: 'cancel-observation',
        observationId: obs.id,
        ...(obs.composite ? { paths: obs.paths } : { path: obs.paths[0] }),
      },
      query,
    );
  }

  /** The device's observation `id`, or 404 (also when the id names another device's observation). */
  private async observationOf(endpoint: string, id: string): Promise<Observation> {
    await this.commands.requireDevice(endpoint);
    const obs = await this.observations.getById(id);
    if (!obs || obs.endpoint !== endpoint) {
      throw new ProblemException({
        type: ProblemType.UNKNOWN_OBSERVATION,
        title: 'Observation not found',
        status: 404,
        detail: `no observation "${id.slice(0, 64)}" on "${endpoint}"`,
      });
    }
    return obs;
  }

  @Get(':endpoint/observations')
  @ApiOperation({ summary: 'Active observations of a device' })
  @ENDPOINT
  @ApiOkResponse({ type: ObservationListDto })
  @ApiProblems(404)
  async listObservations(@Param('endpoint') endpoint: string): Promise<ObservationListDto> {
    await this.commands.requireDevice(endpoint);
    const list = await this.observations.listByEndpoint(endpoint);
    return { items: list.sort((a, b) => a.createdAt - b.createdAt).map(toObservationDto) };
  }

  @Get(':endpoint/observations/:id')
  @ApiOperation({
    summary: 'One observation',
    description:
      '?merged=true adds the merged state of its paths: the last full notification with every patch after it ' +
      'applied (issue 19, "patch" notifications), each value with its receivedAt and changedAt.',
  })
  @ENDPOINT
  @ApiParam({ name: 'id', description: 'Observation id' })
  @ApiOkResponse({ type: ObservationDetailDto })
  @ApiProblems(400, 404)
  async getObservation(
    @Param('endpoint') endpoint: string,
    @Param('id') id: string,
    @Query() query: MergedQueryDto,
  ): Promise<ObservationDetailDto> {
    const obs = await this.observationOf(endpoint, id);
    const dto: ObservationDetailDto = toObservationDto(obs);
    if (query.merged === true)
      dto.merged = mergedOf(await this.values.get(endpoint), obs.paths).map(latestValueDto);
    return dto;
  }

  @Get(':endpoint/values')
  @ApiOperation({ summary: 'Latest known values', description: 'From responses, notifications and Send.' })
  @ENDPOINT
  @ApiOkResponse({ type: LatestValuesDto })
  @ApiProblems(404)
  async latestValues(@Param('endpoint') endpoint: string): Promise<LatestValuesDto> {
    await this.commands.requireDevice(endpoint);
    const values = await this.values.get(endpoint);
    return {
      items: values
        .map(latestValueDto)
        .sort((a, b) => Lwm2mPath.compare(Lwm2mPath.parse(a.path), Lwm2mPath.parse(b.path))),
    };
  }

  @Post(':endpoint/composite/read')
  @ApiOperation({
    summary: 'Read-Composite',
    description: 'Reads several paths in one request (LwM2M 1.1+).',
  })
  @ENDPOINT
  @ApiOkResponse({ type: CompositeReadResultDto })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 406, 502, 503, 504)
  async readComposite(
    @Param('endpoint') endpoint: string,
    @Query() query: CommandQueryDto,
    @Body() body: PathsBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CompositeReadResultDto | AcceptedDto> {
    const paths = normalizePaths(body.paths);
    const reg = await this.commands.requireDevice(endpoint);
    const r = await this.commands.run(endpoint, { op: 'read-composite', paths }, query, reg);
    if (r.status === 202) return accepted(r, res);
    res.status(successStatus(r, 200));
    const values = withNamesAndUnits(r.values ?? [], await this.models.forDevice(reg));
    return { paths, values, contentFormat: r.contentFormat ?? null };
  }

  @Put(':endpoint/composite')
  @Audited('write-composite')
  @ApiOperation({
    summary: 'Write-Composite',
    description: 'Writes resources of several instances (LwM2M 1.1+).',
  })
  @ENDPOINT
  @ApiNoContentResponse({ description: 'The device answered 2.04 Changed' })
  @ACCEPTED
  @ApiProblems(400, 404, 405, 415, 502, 503, 504)
  async writeComposite(
    @Param('endpoint') endpoint: string,
    @Query() query: CommandQueryDto,
    @Body() body: CompositeWriteBodyDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AcceptedDto | undefined> {
    const reg = await this.commands.requireDevice(endpoint);
    const model = await this.models.forDevice(reg);
    const values: JsonPathValue[] = toJsonPathValues(Lwm2mPath.ROOT, body.values, model);
    const r = await this.commands.run(endpoint, { op: 'write-composite', values }, query, reg);
    return noContent(r, res);
  }
}

/**
 * The route's usual success status, or 202 when the command bus only queued the command (a sleeping
 * queue-mode device; the result then arrives as a "response" event).
 */
function successStatus(r: DeviceCommandResult, usual: number): number {
  return r.status === 202 ? 202 : usual;
}

/** 202 Accepted: queued for a sleeping queue-mode device; GET /api/v1/requests/{id} follows it. */
function accepted(r: DeviceCommandResult, res: Response): AcceptedDto {
  res.status(202);
  res.location(`/api/v1/requests/${encodeURIComponent(r.id)}`);
  return { requestId: r.id };
}

/** The body of a route without content: nothing, or the request id when only accepted. */
function noContent(r: DeviceCommandResult, res: Response, usual = 204): AcceptedDto | undefined {
  const status = successStatus(r, usual);
  res.status(status);
  return status === 202 ? accepted(r, res) : undefined;
}

function normalizePaths(paths: string[]): string[] {
  return [...new Set(paths.map((p) => Lwm2mPath.parse(p).toString()))];
}

function toObservationDto(o: Observation): ObservationDto {
  return {
    id: o.id,
    paths: o.paths,
    composite: o.composite,
    contentFormat: o.contentFormat ?? null,
    createdAt: new Date(o.createdAt).toISOString(),
    notifications: o.notifications ?? 'full',
  };
}

/** A stored value as the api shows it: times as ISO dates, changedAt defaulting to receivedAt. */
function latestValueDto({ receivedAt, changedAt, ...v }: StoredValue): LatestValueDto {
  return {
    ...v,
    receivedAt: new Date(receivedAt).toISOString(),
    changedAt: new Date(changedAt ?? receivedAt).toISOString(),
  };
}

function parseLinks(text: string): DiscoverResultDto['items'] {
  try {
    return parseLinkFormat(text).map((l) => ({
      path: l.target,
      attributes: Object.fromEntries(l.attributes.map((a) => [a.name, a.value ?? ''])),
    }));
  } catch {
    return [];
  }
}

function badPath(detail: string): ProblemException {
  return new ProblemException({
    type: ProblemType.INVALID_PATH,
    title: 'Invalid LwM2M path',
    status: 400,
    detail,
  });
}
