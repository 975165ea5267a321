// /api/v1/groups and /api/v1/group-requests: fleet group operations (issue 15 item 3). Thin: the body is
// shaped here, the group rules and the fan-out are libs/groups'. Every result names its device's endpoint
// (Reply-From's role in draft-ietf-core-groupcomm-proxy) and a request's deadline plays Multicast-Timeout's.
import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import {
  GROUP_OPERATIONS,
  type Group,
  type GroupOperation,
  type GroupOperationSpec,
  type GroupOperations,
  type GroupRequest,
  type MemberResult,
} from '@lwm2m/groups';
import { executeProblem } from '@lwm2m/server';
import type { HttpRequest as Request, HttpResponse as Response } from '../http';
import { Audited } from '../audit/audited';
import { principalOf } from '../auth/api-key.guard';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { SseLimiter } from '../events/sse-limiter';
import { API_OPTIONS, GROUPS, OBJECT_MODELS, type ResolvedApiOptions } from '../tokens';
import type { ApiObjectModels } from '../models/api-object-models';
import { modelProblem, toJsonPathValues } from '../devices/json-values';
import { parsePathParam } from '../devices/lwm2m-path-param';
import {
  CreateGroupDto,
  GroupDto,
  GroupListDto,
  GroupOperationDto,
  GroupRequestDto,
  GroupRequestListDto,
  GroupRequestListQueryDto,
  MemberResultDto,
  ResultsQueryDto,
} from './groups.dto';

const NAME = ApiParam({ name: 'name', description: 'Group name' });
const ID = ApiParam({ name: 'id', description: 'Group request id' });
/** How often an SSE stream of results looks for new ones, ms. */
const RESULTS_POLL_MS = 250;
const RESULTS_BATCH = 500;

@ApiTags('groups')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1')
export class GroupsController {
  private readonly limiter: SseLimiter;

  constructor(
    @Inject(GROUPS) private readonly groups: GroupOperations,
    @Inject(OBJECT_MODELS) private readonly models: ApiObjectModels,
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
  ) {
    this.limiter = new SseLimiter({
      maxStreams: options.sseMaxStreams,
      maxStreamsPerKey: options.sseMaxStreamsPerKey,
    });
  }

  @Post('groups')
  @Audited('group-create')
  @ApiOperation({
    summary: 'Define a group',
    description:
      'Exactly one of: filter {q} (the devices whose endpoint contains q when a request starts, as ' +
      'GET /api/v1/devices?q=), endpoints [..] (at most GROUP_MAX_ENDPOINTS), multicast {address, port} (a CoAP ' +
      'group: its requests go once to the group address through the in-process group proxy, one result per ' +
      'server that answers, named by its address). Needs a write key.',
  })
  @ApiCreatedResponse({ type: GroupDto })
  @ApiProblems(400, 409, 413)
  async create(
    @Body() body: CreateGroupDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GroupDto> {
    const { name, ...selector } = body;
    const group = await this.groups.createGroup(name, selector, principalOf(req).name);
    res.setHeader('Location', `/api/v1/groups/${group.name}`);
    return toGroupDto(group);
  }

  @Get('groups')
  @ApiOperation({ summary: 'List groups' })
  @ApiOkResponse({ type: GroupListDto })
  async list(): Promise<GroupListDto> {
    return { items: (await this.groups.listGroups()).map(toGroupDto) };
  }

  @Get('groups/:name')
  @ApiOperation({ summary: 'One group' })
  @NAME
  @ApiOkResponse({ type: GroupDto })
  @ApiProblems(400, 404)
  async get(@Param('name') name: string): Promise<GroupDto> {
    return toGroupDto(await this.groups.getGroup(name));
  }

  @Delete('groups/:name')
  @Audited('group-delete')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a group (its running requests go on)' })
  @NAME
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiProblems(400, 404)
  async remove(@Param('name') name: string): Promise<void> {
    await this.groups.deleteGroup(name);
  }

  @Post('groups/:name/:op')
  @Audited('group-operation')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Read, write, execute or observe across a group',
    description:
      'Accepted at once (202, Location: /api/v1/group-requests/{id}); the operation reaches every member ' +
      'through the device-command machinery (queue-mode devices when they wake), at `rate` devices per ' +
      'second with at most `maxInFlight` awaited at once, until `deadline`. Results, one per device with its ' +
      'endpoint, at GET /api/v1/group-requests/{id} and streamed at /api/v1/group-requests/{id}/events. ' +
      'write takes {path, value | values, type?, replace?}, execute {path, args?} (checked against the ' +
      'object models: the newest loaded version), read and observe {path}. Needs a write key.',
  })
  @NAME
  @ApiParam({ name: 'op', enum: ['read', 'write', 'execute', 'observe'] })
  @ApiAcceptedResponse({ type: GroupRequestDto })
  @ApiProblems(400, 404, 409, 501)
  async operate(
    @Param('name') name: string,
    @Param('op') op: string,
    @Body() body: GroupOperationDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GroupRequestDto> {
    const spec = await this.specOf(op, body);
    const started = await this.groups.start(
      name,
      spec,
      {
        ...(body.deadline !== undefined ? { deadlineMs: body.deadline } : {}),
        ...(body.timeout !== undefined ? { timeoutMs: body.timeout } : {}),
        ...(body.rate !== undefined ? { perSecond: body.rate } : {}),
        ...(body.maxInFlight !== undefined ? { maxInFlight: body.maxInFlight } : {}),
      },
      principalOf(req).name,
    );
    res.setHeader('Location', `/api/v1/group-requests/${started.id}`);
    return toRequestDto(started);
  }

  /** The command every member gets, checked once against the object models (the newest loaded versions). */
  private async specOf(op: string, body: GroupOperationDto): Promise<GroupOperationSpec> {
    if (!(GROUP_OPERATIONS as readonly string[]).includes(op)) {
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: 'Not Found',
        status: 404,
        detail: 'a group operation is read, write, execute or observe',
      });
    }
    const path = parsePathParam(body.path.replace(/^\//, ''));
    const model = await this.models.forDevice({ objectLinks: [] });
    const extra = (['value', 'values', 'type', 'replace', 'args'] as const).filter(
      (k) => body[k] !== undefined,
    );
    if (op === 'write') {
      const hasValue = body.value !== undefined;
      if (hasValue === (body.values !== undefined)) {
        throw invalidRequest('give either "value" (one resource) or "values" (a list), not both or neither');
      }
      if (!hasValue && body.type !== undefined) throw invalidRequest('"type" goes with "value"');
      const values = hasValue
        ? toJsonPathValues(path, [{ value: body.value, ...(body.type ? { type: body.type } : {}) }], model)
        : toJsonPathValues(path, body.values!, model);
      return { op, path: path.toString(), values, replace: body.replace ?? true };
    }
    if (op === 'execute') {
      if (path.depth !== 3) throw invalidRequest(`Execute targets a resource: ${path} is not one`);
      if (extra.some((k) => k !== 'args')) throw invalidRequest('execute takes only "path" and "args"');
      const problem = executeProblem(path, model);
      if (problem !== undefined) throw modelProblem(problem);
      return { op, path: path.toString(), ...(body.args !== undefined ? { args: body.args } : {}) };
    }
    if (extra.length > 0) throw invalidRequest(`${op} takes only "path": not ${extra.join(', ')}`);
    return { op: op as GroupOperation, path: path.toString() };
  }

  @Get('group-requests')
  @ApiOperation({
    summary: 'Group requests, newest first',
    description:
      'Running ones and finished ones kept for their retention (24 h), each with its progress counts; paged ' +
      'by ?cursor= (nextCursor) and ?limit=, filtered by ?group= and ?state=. Results: GET ' +
      '/api/v1/group-requests/{id}.',
  })
  @ApiOkResponse({ type: GroupRequestListDto })
  @ApiProblems(400)
  async requests(@Query() query: GroupRequestListQueryDto): Promise<GroupRequestListDto> {
    const page = await this.groups.listRequests({
      limit: query.limit ?? 50,
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      ...(query.group !== undefined ? { group: query.group } : {}),
      ...(query.state !== undefined ? { state: query.state } : {}),
    });
    return { items: page.items.map(toRequestDto), nextCursor: page.nextCursor ?? null };
  }

  @Get('group-requests/:id')
  @ApiOperation({
    summary: 'A group request: progress and a page of results',
    description:
      'Results come in the order the devices answered, paged by ?offset= (nextOffset) and ?limit=.',
  })
  @ID
  @ApiOkResponse({ type: GroupRequestDto })
  @ApiProblems(400, 404)
  async request(@Param('id') id: string, @Query() query: ResultsQueryDto): Promise<GroupRequestDto> {
    const r = await this.groups.getRequest(checkId(id));
    const page = await this.groups.results(id, query.offset ?? 0, query.limit ?? 100);
    return { ...toRequestDto(r), results: page.items.map(toResultDto), nextOffset: page.next };
  }

  @Get('group-requests/:id/members/:endpoint')
  @ApiOperation({ summary: "One member's state or result" })
  @ID
  @ApiOkResponse({ type: MemberResultDto })
  @ApiProblems(400, 404)
  async member(@Param('id') id: string, @Param('endpoint') endpoint: string): Promise<MemberResultDto> {
    return toResultDto(await this.groups.member(checkId(id), endpoint));
  }

  @Delete('group-requests/:id')
  @Audited('group-request-cancel')
  @ApiOperation({
    summary: 'Cancel a group request',
    description:
      'Stops the dispatch: devices not yet sent to are cancelled, queued requests of sleeping devices are ' +
      'cancelled; answers already under way are kept. 409 when it already finished.',
  })
  @ID
  @ApiOkResponse({ type: GroupRequestDto })
  @ApiProblems(400, 404, 409)
  async cancel(@Param('id') id: string): Promise<GroupRequestDto> {
    return toRequestDto(await this.groups.cancel(checkId(id)));
  }

  @Get('group-requests/:id/events')
  @ApiOperation({
    summary: 'Results as Server-Sent Events, one per device',
    description:
      'event "result" per device (id: its index in the results; reconnect with Last-Event-ID to resume); for ' +
      'a multicast observe, event "notification" per later notification of a server (its result as of then; ' +
      'id "<result index>.<notification index>"); then one "end" event with the final progress when the ' +
      'request finished. Counted against SSE_MAX_STREAMS.',
  })
  @ID
  @ApiOkResponse({ description: 'An event stream', content: { 'text/event-stream': {} } })
  @ApiProblems(400, 404, 429)
  async events(
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.groups.getRequest(checkId(id));
    // The cursor: the next result and the next notification. An event's id names the last of each sent.
    let offset = 0;
    let noteOffset = 0;
    if (lastEventId !== undefined) {
      const m = /^(\d{1,9})(?:\.(\d{1,9}))?$/.exec(lastEventId.trim());
      if (!m) throw invalidRequest('Last-Event-ID is a result index (and a notification index: "3.7")');
      offset = Number(m[1]) + 1;
      if (m[2] !== undefined) noteOffset = Number(m[2]) + 1;
    }
    const eventId = (): string => (noteOffset > 0 ? `${offset - 1}.${noteOffset - 1}` : `${offset - 1}`);
    // Per API key (its name) when keys are configured, per client address when the api is open.
    const owner =
      this.options.apiKeys.size > 0
        ? `key:${principalOf(req).name}`
        : `addr:${req.socket?.remoteAddress ?? 'unknown'}`;
    const slot = this.limiter.acquire(owner);
    if (!slot.ok) {
      res.setHeader('Retry-After', '30');
      throw new ProblemException({
        type: ProblemType.TOO_MANY_STREAMS,
        title: 'Too many event streams',
        status: 429,
        detail: 'as many event streams are open as may be',
      });
    }
    let closed = false;
    const onClose = (): void => {
      closed = true;
    };
    req.on('close', onClose);
    try {
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache, no-transform');
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      res.write(': connected\n\n');
      let idleSince = Date.now();
      while (!closed) {
        const r = await this.groups.getRequest(id);
        // Notifications read before results: once the results are read to their end, every notification read
        // has its server's result sent, so a server's result event always comes before its notifications.
        const notes = r.multicast
          ? (await this.groups.notifications(id, noteOffset, RESULTS_BATCH)).items
          : [];
        const page = await this.groups.results(id, offset, RESULTS_BATCH);
        for (const item of page.items) {
          offset++;
          res.write(`id: ${eventId()}\nevent: result\ndata: ${JSON.stringify(toResultDto(item))}\n\n`);
        }
        if (page.items.length === RESULTS_BATCH) notes.length = 0;
        for (const item of notes) {
          noteOffset++;
          res.write(`id: ${eventId()}\nevent: notification\ndata: ${JSON.stringify(toResultDto(item))}\n\n`);
        }
        const finished = r.state === 'completed' || r.state === 'cancelled';
        const full = page.items.length === RESULTS_BATCH || notes.length === RESULTS_BATCH;
        if (finished && !full) {
          res.write(`event: end\ndata: ${JSON.stringify(toRequestDto(r))}\n\n`);
          break;
        }
        if (page.items.length + notes.length > 0) idleSince = Date.now();
        else if (Date.now() - idleSince >= this.options.sseHeartbeatMs) {
          res.write(': heartbeat\n\n');
          idleSince = Date.now();
        }
        if (res.writableNeedDrain) await drained(res, () => closed);
        else if (!full) await new Promise((ok) => setTimeout(ok, RESULTS_POLL_MS));
      }
    } catch {
      if (!closed) res.write(`event: error\ndata: ${JSON.stringify({ detail: 'result stream failed' })}\n\n`);
    } finally {
      req.off('close', onClose);
      slot.release();
      if (!res.writableEnded) res.end();
    }
  }
}

/** Waits for the socket to drain, or the client to leave (checked every poll). */
function drained(res: Response, gone: () => boolean): Promise<void> {
  return new Promise((ok) => {
    const done = (): void => {
      clearInterval(timer);
      res.off('drain', done);
      ok();
    };
    const timer = setInterval(() => gone() && done(), RESULTS_POLL_MS);
    res.on('drain', done);
  });
}

const ID_FORMAT = /^[0-9a-f-]{36}$/;

function checkId(id: string): string {
  if (!ID_FORMAT.test(id)) throw invalidRequest('a group request id is a UUID');
  return id;
}

function toGroupDto(g: Group): GroupDto {
  return { ...g, createdAt: new Date(g.createdAt).toISOString() };
}

export function toRequestDto(r: GroupRequest): GroupRequestDto {
  const c = r.counts;
  return {
    id: r.id,
    group: r.group,
    op: r.spec.op,
    path: r.spec.path,
    state: r.state,
    createdAt: new Date(r.createdAt).toISOString(),
    deadline: new Date(r.deadline).toISOString(),
    ...(r.finishedAt !== undefined ? { finishedAt: new Date(r.finishedAt).toISOString() } : {}),
    createdBy: r.createdBy,
    rate: r.rate,
    timeoutMs: r.timeoutMs,
    total: r.total,
    progress: {
      pending: c.pending,
      inFlight: c.dispatching,
      queued: c.queued,
      succeeded: c.succeeded,
      failed: c.failed,
      timedOut: c['timed-out'],
      cancelled: c.cancelled,
    },
  };
}

function toResultDto(m: MemberResult): MemberResultDto {
  return { ...m, at: new Date(m.at).toISOString() };
}
