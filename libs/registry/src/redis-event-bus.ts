// EventBus on a Redis Stream: every subscriber reads the whole log (XREAD, no consumer group), so each SSE
// client on any node sees every event, in order, and can resume from a stream id (Last-Event-ID).
import { duplicateConnection } from './connections';
import type { EventBus, Lwm2mEvent, StoredEvent } from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';

export interface RedisEventBusOptions {
  /** Approximate stream length kept (XADD MAXLEN ~). Default 100 000. */
  maxLen?: number;
  /** XREAD BLOCK timeout, ms; only bounds how long a dead connection goes unnoticed. Default 5000. */
  blockMs?: number;
  /** recent() with an endpoint filter looks back at most this many events. Default 10 000. */
  recentScanLimit?: number;
}

type StreamEntry = [id: string, fields: string[]];

function toStoredEvent([id, fields]: StreamEntry): StoredEvent | undefined {
  let json: string | undefined;
  let at = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'e') json = fields[i + 1];
    else if (fields[i] === 'at') at = Number(fields[i + 1]);
  }
  if (json === undefined) return undefined;
  return { ...(JSON.parse(json) as Lwm2mEvent), id, at };
}

export class RedisEventBus implements EventBus {
  private readonly maxLen: number;
  private readonly blockMs: number;
  private readonly recentScanLimit: number;
  private readonly readers = new Set<RedisClient>();
  private closing = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    options: RedisEventBusOptions = {},
  ) {
    this.maxLen = options.maxLen ?? 100_000;
    this.blockMs = options.blockMs ?? 5000;
    this.recentScanLimit = options.recentScanLimit ?? 10_000;
  }

  async publish(event: Lwm2mEvent): Promise<string> {
    const id = await this.redis.xadd(
      this.keys.eventStream,
      'MAXLEN',
      '~',
      this.maxLen,
      '*',
      'type',
      event.type,
      'ep',
      event.endpoint,
      'at',
      Date.now(),
      'e',
      JSON.stringify(event),
    );
    return id!;
  }

  subscribe(opts: { afterId?: string; endpoint?: string; signal: AbortSignal }): AsyncIterable<StoredEvent> {
    // '$' is pinned to the stream's last id now, on the publishing connection: an event published after
    // subscribe() returns is seen even if iteration starts later.
    const start = opts.afterId && opts.afterId !== '$' ? Promise.resolve(opts.afterId) : this.lastId();
    start.catch(() => undefined);
    return { [Symbol.asyncIterator]: () => this.read(start, opts.endpoint, opts.signal) };
  }

  private async lastId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.keys.eventStream, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last[0]?.[0] ?? '0-0';
  }

  private async *read(
    start: Promise<string>,
    endpoint: string | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<StoredEvent> {
    if (signal.aborted || this.closing) return;
    // XREAD BLOCK holds its connection: one dedicated connection per subscriber, closed on abort.
    const conn = duplicateConnection(this.redis);
    this.readers.add(conn);
    const onAbort = () => conn.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      let id = await start;
      while (!signal.aborted && !this.closing) {
        let res: Array<[string, StreamEntry[]]> | null;
        try {
          res = (await conn.xread(
            'COUNT',
            256,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            this.keys.eventStream,
            id,
          )) as Array<[string, StreamEntry[]]> | null;
        } catch (err) {
          if (signal.aborted || this.closing) return;
          throw err;
        }
        for (const [, entries] of res ?? []) {
          for (const entry of entries) {
            id = entry[0];
            const event = toStoredEvent(entry);
            if (event && (!endpoint || event.endpoint === endpoint)) yield event;
            if (signal.aborted) return;
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.readers.delete(conn);
      conn.disconnect();
    }
  }

  async recent(count: number, endpoint?: string): Promise<StoredEvent[]> {
    if (count <= 0) return [];
    const out: StoredEvent[] = [];
    let end = '+';
    let scanned = 0;
    while (out.length < count && scanned < this.recentScanLimit) {
      const batch = endpoint ? Math.min(500, this.recentScanLimit - scanned) : count - out.length;
      const entries = (await this.redis.xrevrange(
        this.keys.eventStream,
        end,
        '-',
        'COUNT',
        batch,
      )) as StreamEntry[];
      for (const entry of entries) {
        const event = toStoredEvent(entry);
        if (event && (!endpoint || event.endpoint === endpoint)) out.push(event);
        if (out.length >= count) break;
      }
      scanned += entries.length;
      if (entries.length < batch) break;
      end = `(${entries[entries.length - 1]![0]}`;
    }
    return out.reverse();
  }

  /** Ends every subscription (their iterators finish) and refuses new ones. */
  close(): void {
    this.closing = true;
    for (const conn of this.readers) conn.disconnect();
    this.readers.clear();
  }
}
