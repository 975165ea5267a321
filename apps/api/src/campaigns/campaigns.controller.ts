// Firmware update campaigns (issue 17 item 3): create, list, progress by state, the devices page, the
// campaign's own transition records, pause, resume, cancel. The scheduler drives them (libs/campaigns
// CampaignEngine; in memory mode InProcessCampaigns); the api only validates, resolves the target and
// stores. Live progress: the event stream's `campaign` events (GET /api/v1/events?campaign=<id>).
import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import {
  CAMPAIGN_ID,
  type Campaign,
  type CampaignDefinition,
  type CampaignState,
  type CampaignStore,
  DEFAULT_POLICY,
  type DeviceRun,
  isCampaignOver,
  newRun,
  type RolloutPolicy,
  SW_RETRY_RESULTS,
} from '@lwm2m/campaigns';
import type { RegistrationStore } from '@lwm2m/server';
import { type FirmwareStores, validImageId } from '@lwm2m/firmware';
import { unknownImage } from '../firmware/firmware.controller';
import { principalOf } from '../auth/api-key.guard';
import { Audited } from '../audit/audited';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType, statusTitle } from '../problem/problem';
import { CAMPAIGN_STORE, FIRMWARE_STORES, GROUPS, REGISTRATION_STORE } from '../tokens';
import { GroupError, type GroupOperations } from '@lwm2m/groups';
import {
  CampaignDeviceListDto,
  CampaignDevicesQueryDto,
  CampaignDto,
  CampaignListDto,
  CampaignListQueryDto,
  CampaignLogQueryDto,
  CreateCampaignDto,
  MAX_CAMPAIGN_DEVICES,
} from './campaigns.dto';

export const UNKNOWN_CAMPAIGN = 'urn:lwm2m-cluster:problem:unknown-campaign';
export const CAMPAIGN_CONFLICT = 'urn:lwm2m-cluster:problem:campaign-conflict';
export const CAMPAIGN_TARGET = 'urn:lwm2m-cluster:problem:campaign-target';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

@ApiTags('campaigns')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/campaigns')
export class CampaignsController {
  constructor(
    @Inject(CAMPAIGN_STORE) private readonly port: { store?: CampaignStore },
    @Inject(REGISTRATION_STORE) private readonly registrations: RegistrationStore,
    @Inject(FIRMWARE_STORES) private readonly fw: FirmwareStores,
    @Inject(GROUPS) private readonly groups: GroupOperations,
  ) {}

  private get store(): CampaignStore {
    if (!this.port.store) {
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: statusTitle(501),
        status: 501,
        detail: 'firmware campaigns are not configured on this api (no campaign store)',
      });
    }
    return this.port.store;
  }

  @Post()
  @Audited('campaign-create')
  @ApiOperation({
    summary: 'Start a firmware update campaign',
    description:
      'target: exactly one of endpoints (a list, in start order), filter ({q}: registered devices whose ' +
      'endpoint contains q) or group (not available yet: 422). The devices are resolved now. mode push writes ' +
      "the package to /5/0/0, pull writes packageUri (default the gateway's /fw/<imageId>) to /5/0/1; each " +
      "device's progress follows its /5/0/3 State and /5/0/5 Update Result. object 9: the same on Software " +
      'Management instance softwareInstance (/9/x/2, /9/x/3, Install /9/x/4, /9/x/7, /9/x/9). A device ' +
      'already in an unfinished campaign makes it 409.',
  })
  @ApiCreatedResponse({ type: CampaignDto })
  @ApiProblems(400, 409, 422)
  async create(@Body() body: CreateCampaignDto, @Req() req: object): Promise<CampaignDto> {
    const store = this.store;
    const now = Date.now();
    const image = validImageId(body.imageId) ? await this.fw.images.get(body.imageId) : undefined;
    if (image === undefined) throw unknownImage(body.imageId);
    // Pull: the URI devices fetch; the same default as one device's update (FIRMWARE_COAP_BASE).
    const base = this.fw.config.FIRMWARE_COAP_BASE;
    const packageUri = body.packageUri ?? (base ? `${base}/fw/${image.id}` : undefined);
    if (body.mode === 'pull' && packageUri === undefined) {
      throw invalidRequest(
        'give packageUri, or set FIRMWARE_COAP_BASE for the default coap(s)://<gateway>/fw/{id}',
      );
    }
    const object = body.object ?? 5;
    if (object !== 9 && (body.softwareInstance !== undefined || body.activate !== undefined)) {
      throw invalidRequest('softwareInstance and activate are for object 9 (Software Management) only');
    }
    const endpoints = await this.resolveTarget(body);
    const policy: RolloutPolicy = {
      ...DEFAULT_POLICY,
      // Object 9's codes for connection lost and integrity check failure (9.xml), as 4 and 5 of object 5.
      ...(object === 9 ? { retryResults: SW_RETRY_RESULTS } : {}),
      ...definedOf(body.policy ?? {}),
    };
    if (policy.canarySize > endpoints.length) {
      throw invalidRequest(
        `policy.canarySize (${policy.canarySize}) is more than the ${endpoints.length} devices`,
      );
    }
    const window = parseWindow(body.window, now);
    const id = `cmp-${randomBytes(9).toString('base64url')}`;
    const key = principalOf(req);
    const def: CampaignDefinition = {
      id,
      ...(body.name ? { name: body.name } : {}),
      imageId: body.imageId,
      mode: body.mode,
      ...(body.mode === 'pull' ? { packageUri } : {}),
      ...(object === 9
        ? {
            object: 9 as const,
            softwareInstance: body.softwareInstance ?? 0,
            activate: body.activate === true,
          }
        : {}),
      policy,
      window,
      endpoints,
      createdAt: now,
      createdBy: key.name,
    };
    const runs: DeviceRun[] = endpoints.map((ep, i) => newRun(ep, i < policy.canarySize, now));
    const r = await store.create(def, runs);
    if (!r.ok) {
      throw new ProblemException({
        type: CAMPAIGN_CONFLICT,
        title: statusTitle(409),
        status: 409,
        detail: `${r.busy.length} of the devices are in an unfinished campaign (e.g. "${r.busy[0]}")`,
        busy: r.busy.slice(0, 100),
      });
    }
    return this.get(id);
  }

  @Get()
  @ApiOperation({ summary: 'Campaigns, newest first' })
  @ApiOkResponse({ type: CampaignListDto })
  async list(@Query() q: CampaignListQueryDto): Promise<CampaignListDto> {
    const page = await this.store.list(q.limit ?? 100, q.cursor);
    const items = await Promise.all(page.items.map((c) => this.toDto(c)));
    return { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A campaign and its progress: devices by state' })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: CampaignDto })
  @ApiProblems(404)
  async get(@Param('id') id: string): Promise<CampaignDto> {
    return this.toDto(await this.campaign(id));
  }

  @Get(':id/devices')
  @ApiOperation({
    summary: "The campaign's devices (a page), optionally of one state",
    description: 'Pages follow a cursor; a page filtered by state may hold fewer than `limit` items.',
  })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: CampaignDeviceListDto })
  @ApiProblems(400, 404)
  async devices(
    @Param('id') id: string,
    @Query() q: CampaignDevicesQueryDto,
  ): Promise<CampaignDeviceListDto> {
    await this.campaign(id);
    const page = await this.store.runs(id, q.limit ?? 100, q.cursor, q.state);
    return {
      items: page.items.map((r) => ({
        endpoint: r.endpoint,
        state: r.state,
        canary: r.canary,
        attempts: r.attempts,
        ...(r.resultCode !== undefined ? { resultCode: r.resultCode } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.asleep ? { asleep: true } : {}),
        ...(r.interrupted ? { interrupted: r.interrupted } : {}),
        ...(r.resetPending ? { resetPending: true } : {}),
        ...(r.resetFailed ? { resetFailed: true } : {}),
        updatedAt: new Date(r.updatedAt).toISOString(),
      })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  @Get(':id/log')
  @ApiOperation({
    summary: "The campaign's record of transitions",
    description:
      'Every device transition in order, with the devices in flight and downloading right after it.',
  })
  @ApiParam({ name: 'id' })
  @ApiProblems(400, 404)
  async log(@Param('id') id: string, @Query() q: CampaignLogQueryDto) {
    await this.campaign(id);
    const items = await this.store.log(id, q.after ?? '0', q.limit ?? 1000);
    return { items, ...(items.length > 0 ? { last: items[items.length - 1].id } : {}) };
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Audited('campaign-pause')
  @ApiOperation({ summary: 'Pause: no device starts; devices in flight finish their attempt' })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: CampaignDto })
  @ApiProblems(404, 409)
  pause(@Param('id') id: string): Promise<CampaignDto> {
    return this.change(id, ['running'], 'paused');
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Audited('campaign-resume')
  @ApiOperation({ summary: 'Resume a paused campaign' })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: CampaignDto })
  @ApiProblems(404, 409)
  resume(@Param('id') id: string): Promise<CampaignDto> {
    return this.change(id, ['paused'], 'running');
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Audited('campaign-cancel')
  @ApiOperation({
    summary:
      'Cancel: pending devices end cancelled; devices in flight not told to install yet are interrupted',
    description:
      'Devices in starting, downloading or downloaded (no Execute decided) are reset with an empty Package ' +
      'URI (pull) or Package (push, the push stopped first), TS 1.2 Core E.6, and end cancelled with ' +
      '`interrupted`; a sleeping one gets the reset queued. The reset is owed (`resetPending`) until the ' +
      'device acknowledged it: sent again with backoff, given up (`resetFailed`, counted in `resets.failed`) ' +
      'after its attempts. A device whose Execute was sent finishes and ends as it reports. endedAt is set ' +
      'when none is in flight and no reset is owed.',
  })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: CampaignDto })
  @ApiProblems(404, 409)
  cancel(@Param('id') id: string): Promise<CampaignDto> {
    return this.change(id, ['running', 'paused'], 'cancelled', 'cancelled by an operator');
  }

  private async change(
    id: string,
    from: CampaignState[],
    to: CampaignState,
    reason?: string,
  ): Promise<CampaignDto> {
    const c = await this.campaign(id);
    const ok = await this.store.update(id, from, { state: to, ...(reason ? { reason } : {}) }, Date.now());
    if (!ok) {
      throw new ProblemException({
        type: CAMPAIGN_CONFLICT,
        title: statusTitle(409),
        status: 409,
        detail: `the campaign is ${c.state}: it cannot be ${to === 'running' ? 'resumed' : to}`,
        state: c.state,
      });
    }
    return this.get(id);
  }

  private async campaign(id: string): Promise<Campaign> {
    const c = CAMPAIGN_ID.test(id) ? await this.store.get(id) : undefined;
    if (!c) {
      throw new ProblemException({
        type: UNKNOWN_CAMPAIGN,
        title: 'Unknown campaign',
        status: 404,
        detail: `no campaign "${id.slice(0, 64)}"`,
      });
    }
    return c;
  }

  private async toDto(c: Campaign): Promise<CampaignDto> {
    const [counts, resets] = await Promise.all([this.store.counts(c.id), this.store.resets(c.id)]);
    return {
      id: c.id,
      ...(c.name ? { name: c.name } : {}),
      imageId: c.imageId,
      mode: c.mode,
      ...(c.packageUri ? { packageUri: c.packageUri } : {}),
      object: c.object ?? 5,
      ...(c.object === 9 ? { softwareInstance: c.softwareInstance ?? 0, activate: c.activate === true } : {}),
      state: c.state,
      phase: c.phase,
      ...(c.reason ? { reason: c.reason } : {}),
      policy: c.policy,
      window: {
        ...(c.window.start !== undefined ? { start: iso(c.window.start) } : {}),
        ...(c.window.end !== undefined ? { end: iso(c.window.end) } : {}),
      },
      total: c.endpoints.length,
      counts: counts.all,
      canaryCounts: counts.canary,
      resets,
      createdAt: iso(c.createdAt)!,
      updatedAt: iso(c.updatedAt)!,
      ...(c.endedAt !== undefined ? { endedAt: iso(c.endedAt) } : {}),
      ...(c.createdBy ? { createdBy: c.createdBy } : {}),
      ...(isCampaignOver(c.state) && c.endedAt === undefined ? { draining: true } : {}),
    } as CampaignDto;
  }

  private async resolveTarget(body: CreateCampaignDto): Promise<string[]> {
    const t = body.target;
    const given = [t.endpoints, t.filter, t.group].filter((x) => x !== undefined).length;
    if (given !== 1) throw invalidRequest('target needs exactly one of endpoints, filter or group');
    const targetProblem = (detail: string) =>
      new ProblemException({ type: CAMPAIGN_TARGET, title: statusTitle(422), status: 422, detail });
    let endpoints: string[];
    if (t.group !== undefined) {
      // The groups store (libs/groups): a list group's endpoints, or the devices its filter matches now.
      const group = await this.groups.getGroup(t.group).catch((err: unknown) => {
        if (err instanceof GroupError && err.code === 'unknown-group') throw targetProblem(err.message);
        throw err;
      });
      if (group.kind === 'multicast') {
        // Object 5 is driven per device (State, Update Result, the Execute after Downloaded): a multicast
        // group's servers are only addresses that answer, with no registration to follow.
        throw targetProblem(
          `group "${group.name}" is a CoAP multicast group: a campaign follows each device's object 5 ` +
            'state, so it needs a group of registered endpoints (a filter or a list)',
        );
      }
      endpoints = [...new Set(await this.groups.members(group.name))];
      if (endpoints.length > MAX_CAMPAIGN_DEVICES) {
        throw invalidRequest(`group "${group.name}" has more than ${MAX_CAMPAIGN_DEVICES} devices`);
      }
    } else if (t.endpoints) {
      endpoints = [...new Set(t.endpoints)];
    } else {
      endpoints = [];
      let cursor: string | undefined;
      do {
        const page = await this.registrations.list({
          limit: 1000,
          ...(cursor ? { cursor } : {}),
          ...(t.filter?.q ? { q: t.filter.q } : {}),
        });
        endpoints.push(...page.items.map((r) => r.endpoint));
        cursor = page.nextCursor;
      } while (cursor && endpoints.length <= MAX_CAMPAIGN_DEVICES);
      if (endpoints.length > MAX_CAMPAIGN_DEVICES) {
        throw invalidRequest(`the filter matches more than ${MAX_CAMPAIGN_DEVICES} devices`);
      }
    }
    if (endpoints.length === 0) throw targetProblem('the target matches no device');
    return endpoints;
  }
}

function definedOf<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function parseWindow(w: { start?: string; end?: string } | undefined, now: number): Campaign['window'] {
  const at = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (!Number.isFinite(ms)) throw invalidRequest(`window.${name} is not an ISO 8601 time`);
    return ms;
  };
  const start = at('start', w?.start);
  const end = at('end', w?.end);
  if (end !== undefined && end <= now) throw invalidRequest('window.end is in the past');
  if (start !== undefined && end !== undefined && end <= start)
    throw invalidRequest('window.end is not after window.start');
  return { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) };
}
