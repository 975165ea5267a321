// GET /api/v1/events: the event stream as Server-Sent Events (WHATWG HTML "Server-sent events"). Each event
// carries its stream id, so a client that reconnects with Last-Event-ID resumes where it stopped. Streams are
// capped (SseLimiter) and share one Redis reader per process (RedisEventBus); a client that stops reading is
// dropped instead of buffered.
import { createHash } from 'node:crypto';
import { Controller, Get, Headers, Inject, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
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
import { type EventBus, LWM2M_EVENT_TYPES, type StoredEvent } from '@lwm2m/server';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import type { Registry } from 'prom-client';
import type { HttpRequest as Request, HttpResponse as Response } from '../http';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { API_OPTIONS, EVENT_BUS, METRICS_REGISTRY, type ResolvedApiOptions } from '../tokens';
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
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.limiter = new SseLimiter({
      maxStreams: options.sseMaxStreams,
      maxStreamsPerKey: options.sseMaxStreamsPerKey,
    });
    registerSseMetrics(registry, () => this.limiter.counters);
  }

  @Get()
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
        // Backpressure: the next event is taken only once the socket drained; the bus keeps a bounded
        // queue per subscriber, so a slow client costs no memory, and one that stops reading is dropped.
        if (!res.write(formatEvent(event)) && !(await this.drained(res, abort.signal))) {
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

  /** Whose stream this is for the per-key cap: the API key (by digest), or the client address without keys. */
  private ownerOf(req: Request): string {
    if (this.options.apiKeys.size > 0) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      return `key:${createHash('sha256').update(token).digest('hex')}`;
    }
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
