// GET /api/v1/events: the event stream as Server-Sent Events (WHATWG HTML "Server-sent events"). Each event
// carries its stream id, so a client that reconnects with Last-Event-ID resumes where it stopped.
import { Controller, Get, Headers, Inject, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { type EventBus, LWM2M_EVENT_TYPES, type StoredEvent } from '@lwm2m/server';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import type { HttpRequest as Request, HttpResponse as Response } from '../http';
import { ApiProblems } from '../problem/problem.dto';
import { ProblemException, ProblemType } from '../problem/problem';
import { API_OPTIONS, EVENT_BUS, type ResolvedApiOptions } from '../tokens';

// Redis stream ids ("1700000000000-0") or the in-memory bus's; bounded, no line breaks (SSE framing).
const EVENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export class EventsQueryDto {
  @ApiPropertyOptional({ description: 'Only events of this endpoint' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  endpoint?: string;

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
@Controller('api/v1/events')
export class EventsController {
  constructor(
    @Inject(EVENT_BUS) private readonly events: EventBus,
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Live events (Server-Sent Events)',
    description:
      'text/event-stream of registered, updated, deregistered, expired, awake, notification, send and response events, ' +
      'request (a queued request changed state: queued, delivering, succeeded, failed, expired, cancelled) and ' +
      'reobserved (an observation re-established after a re-registration). ' +
      'Reconnect with Last-Event-ID to resume. A comment line is sent every 15 s to keep proxies from timing out.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiOkResponse({
    description: 'An event stream',
    content: { 'text/event-stream': { schema: { $ref: '#/components/schemas/SseEventDoc' } } },
  })
  @ApiProblems(400, 401)
  async stream(
    @Query() query: EventsQueryDto,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const lastEventId = lastEventIdHeader?.trim() || query.lastEventId;
    if (lastEventId !== undefined && !EVENT_ID.test(lastEventId)) {
      throw new ProblemException({
        type: ProblemType.VALIDATION,
        title: 'Invalid request',
        status: 400,
        detail: 'Last-Event-ID is not an event id',
      });
    }
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    req.on('close', stop);
    res.on('close', stop);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer the stream
    res.flushHeaders();
    res.write(': connected\n\n');

    const heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(': heartbeat\n\n');
    }, this.options.sseHeartbeatMs);
    heartbeat.unref();

    try {
      const events = this.events.subscribe({
        afterId: lastEventId ?? '$',
        ...(query.endpoint !== undefined ? { endpoint: query.endpoint } : {}),
        signal: abort.signal,
      });
      for await (const event of events) {
        if (abort.signal.aborted) break;
        res.write(formatEvent(event));
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
      if (!res.writableEnded) res.end();
    }
  }
}

/** One SSE message; JSON.stringify never emits a raw line break, so one data: line suffices. */
export function formatEvent(event: StoredEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
