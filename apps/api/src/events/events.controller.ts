// GET /api/v1/events: the event stream as Server-Sent Events (WHATWG HTML "Server-sent events"). Each event
// carries its stream id, so a client that reconnects with Last-Event-ID resumes where it stopped. Streams are
// capped (SseLimiter) and share one Redis reader per process (RedisEventBus); a client that stops reading is
// dropped instead of buffered.
import { Controller, Get, Headers, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { registerSseMetrics } from '@lwm2m/metrics';
import { isStreamId } from '@lwm2m/registry';
import { type EventBus, LWM2M_EVENT_TYPES, mergedOf, type StoredEvent, type ValueStore } from '@lwm2m/server';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import type { Registry } from 'prom-client';
import type { HttpRequest as Request, HttpResponse as Response } from '../http';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { principalOf, ReadRoleMayPost, SseTokenAccepted } from '../auth/api-key.guard';
import { mintSseToken, SSE_TOKEN_TTL_MS } from '../auth/sse-tokens';
import { API_OPTIONS, EVENT_BUS, METRICS_REGISTRY, type ResolvedApiOptions, VALUE_STORE } from '../tokens';
import { SseLimiter } from './sse-limiter';

// Event ids are Redis stream ids ("1700000000000-0"), also those of the in-memory bus; isStreamId checks
// the 64-bit bounds.
const EVENT_ID = /^\d{1,20}(?:-\d{1,20})?$/;
/** What a refused client is told to wait before trying again, seconds (RFC 9110 section 10.2.3). */
const RETRY_AFTER_S = 30;

export class EventsQueryDto {
  @ApiPropertyOptional({ description: 'Only events of this endpoint' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  endpoint?: string;

  @ApiPropertyOptional({ description: 'Only the `campaign` events of this firmware campaign (its progress)' })
  @IsOptional()
  @Matches(/^cmp-[A-Za-z0-9_-]{6,40}$/, { message: 'campaign must be a campaign id' })
  campaign?: string;

  @ApiPropertyOptional({
    description: 'Resume after this event id (alternative to the Last-Event-ID header)',
  })
  @IsOptional()
  @Matches(EVENT_ID, { message: 'lastEventId must be an event id' })
  lastEventId?: string;

  @ApiPropertyOptional({
    description:
      'A token from POST /api/v1/events/token, for clients that cannot send an Authorization header (EventSource)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  sse_token?: string;

  @ApiPropertyOptional({
    description:
      'Add `merged` to each notification event: the merged state of the observed paths (issue 19, "patch" ' +
      'notifications), read when the event is sent (one Redis read per notification)',
  })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  merged?: boolean;
}

export class SseTokenDto {
  @ApiProperty({ description: 'Put it in ?sse_token= of GET /api/v1/events; opens no other route' })
  token!: string;
  @ApiProperty({
    format: 'date-time',
    description: 'After this it opens no new stream (open ones stay open)',
  })
  expiresAt!: string;
  @ApiProperty({ description: 'The name of the key that minted it (what the audit trail records)' })
  name!: string;
  @ApiProperty({ enum: ['read', 'write', 'admin'], description: 'Its role: what the dashboard offers' })
  role!: string;
}

export class SseEventDoc {
  @ApiProperty({
    enum: [...LWM2M_EVENT_TYPES],
    description: 'SSE "event:" field',
  })
  event!: string;
  @ApiProperty({ description: 'SSE "id:" field: the stream id' })
  id!: string;
  @ApiProperty({ description: 'SSE "data:" field: the event as JSON ({type, endpoint, at, ...})' })
  data!: string;
}

@ApiTags('events')
@ApiBearerAuth()
@ApiExtraModels(SseEventDoc)
@Controller('api/v1/events')
export class EventsController {
  private readonly limiter: SseLimiter;

  constructor(
    @Inject(EVENT_BUS) private readonly events: EventBus,
    @Inject(VALUE_STORE) private readonly values: ValueStore,
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.limiter = new SseLimiter({
      maxStreams: options.sseMaxStreams,
      maxStreamsPerKey: options.sseMaxStreamsPerKey,
    });
    registerSseMetrics(registry, () => this.limiter.counters);
  }

  @Post('token')
  @HttpCode(201)
  @ReadRoleMayPost()
  @ApiOperation({
    summary: 'A short-lived token for the event stream',
    description:
      `For browsers: EventSource cannot send an Authorization header. The token opens GET /api/v1/events ` +
      `(as ?sse_token=) for ${SSE_TOKEN_TTL_MS / 1000} s, as the key that minted it, and no other route. ` +
      'Any role may mint one.',
  })
  @ApiCreatedResponse({ type: SseTokenDto })
  @ApiProblems(401)
  mintToken(@Req() req: Request, @Res({ passthrough: true }) res: Response): SseTokenDto {
    res.setHeader('Cache-Control', 'no-store');
    const key = principalOf(req);
    const minted = mintSseToken(this.options.apiKeys, key);
    return {
      token: minted.token,
      expiresAt: new Date(minted.expiresAt).toISOString(),
      name: key.name,
      role: key.role,
    };
  }

  @Get()
  @SseTokenAccepted()
  @ApiOperation({
    summary: 'Live events (Server-Sent Events)',
    description:
      'text/event-stream of registered, updated, deregistered, expired, awake, notification, send and response events, ' +
      'request (a queued request changed state: queued, delivering, succeeded, failed, expired, cancelled) and ' +
      'reobserved (an observation re-established after a re-registration), ' +
      "campaign (a firmware campaign's device changed state, or the campaign itself; ?campaign=<id> keeps one). " +
      'Reconnect with Last-Event-ID to resume. A comment line is sent every 15 s to keep proxies from timing out. ' +
      'Open streams are capped per API key (per client address when the api is open) and per process: beyond ' +
      'a cap the answer is 429 with Retry-After. A client that stops reading is disconnected.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiOkResponse({
    description: 'An event stream',
    content: { 'text/event-stream': { schema: { $ref: '#/components/schemas/SseEventDoc' } } },
  })
  @ApiProblems(400, 401, 429)
  async stream(
    @Query() query: EventsQueryDto,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const lastEventId = lastEventIdHeader?.trim() || query.lastEventId;
    // Checked before the headers go out: a bad id is a 400, not an error event that ends the stream.
    if (lastEventId !== undefined && !(EVENT_ID.test(lastEventId) && isStreamId(lastEventId))) {
      throw invalidRequest('Last-Event-ID is not an event id ("<milliseconds>-<sequence>")');
    }
    const slot = this.limiter.acquire(this.ownerOf(req));
    if (!slot.ok) {
      res.setHeader('Retry-After', String(RETRY_AFTER_S));
      throw new ProblemException({
        type: ProblemType.TOO_MANY_STREAMS,
        title: 'Too many event streams',
        status: 429,
        detail:
          slot.reason === 'key_limit'
            ? 'this API key has as many event streams open as it may'
            : 'the server has as many event streams open as it may',
      });
    }
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    req.on('close', stop);
    res.on('close', stop);
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache, no-transform');
      res.setHeader('Connection', 'keep-alive');
      res.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer the stream
      res.flushHeaders();
      res.write(': connected\n\n');

      // Keeps proxies from closing an idle stream, and finds dead clients (a write to a gone peer fails).
      let stuck = 0;
      heartbeat = setInterval(() => {
        if (res.writableEnded) return;
        if (!res.writableNeedDrain) {
          stuck = 0;
          res.write(': heartbeat\n\n');
        } else if (++stuck >= 4) {
          // Four heartbeats without the client reading anything: stuck or gone.
          this.limiter.dropped('slow_consumer');
          res.destroy();
        }
      }, this.options.sseHeartbeatMs);
      heartbeat.unref();

      const events = this.events.subscribe({
        afterId: lastEventId ?? '$',
        ...(query.endpoint !== undefined ? { endpoint: query.endpoint } : {}),
        signal: abort.signal,
      });
      for await (const event of events) {
        if (abort.signal.aborted) break;
        if (
          query.campaign !== undefined &&
          !(event.type === 'campaign' && event.campaignId === query.campaign)
        )
          continue;
        const out = query.merged === true ? await this.withMerged(event) : event;
        // Backpressure: the next event is taken only once the socket drained; the bus keeps a bounded
        // queue per subscriber, so a slow client costs no memory, and one that stops reading is dropped.
        if (!res.write(formatEvent(out)) && !(await this.drained(res, abort.signal))) {
          if (!abort.signal.aborted) {
            this.limiter.dropped('slow_consumer');
            res.destroy();
          }
          break;
        }
      }
    } catch (err) {
      if (!abort.signal.aborted)
        res.write(`event: error\ndata: ${JSON.stringify({ detail: 'event stream failed' })}\n\n`);
      void err;
    } finally {
      clearInterval(heartbeat);
      req.off('close', stop);
      res.off('close', stop);
      abort.abort();
      slot.release();
      if (!res.writableEnded) res.end();
    }
  }

  /** A notification with the merged state of its observation's paths (as stored when it is sent). */
  private async withMerged(event: StoredEvent): Promise<StoredEvent> {
    if (event.type !== 'notification') return event;
    const merged = mergedOf(await this.values.get(event.endpoint), event.paths).map(
      ({ receivedAt: _r, changedAt: _c, ...v }) => v,
    );
    return { ...event, merged };
  }

  /** Whose stream this is for the per-key cap: the API key (by name, also through a token), or the address. */
  private ownerOf(req: Request): string {
    if (this.options.apiKeys.size > 0) return `key:${principalOf(req).name}`;
    return `addr:${req.socket?.remoteAddress ?? 'unknown'}`;
  }

  /** Waits for the socket to drain; false when the client went away or did not read for a while. */
  private drained(res: Response, signal: AbortSignal): Promise<boolean> {
    // Four heartbeats (60 s by default) without reading: the client is stuck or gone.
    const limitMs = 4 * this.options.sseHeartbeatMs;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), limitMs);
      res.on('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

const formatted = new WeakMap<StoredEvent, string>();

/**
 * One SSE message; JSON.stringify never emits a raw line break, so one data: line suffices. The shared
 * fan-out hands the same event object to every stream: it is serialized once.
 */
export function formatEvent(event: StoredEvent): string {
  let text = formatted.get(event);
  if (text === undefined) {
    text = `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    formatted.set(event, text);
  }
  return text;
}
