// EventBus on a Redis Stream: every subscriber sees the whole log in order (no consumer group) and can resume
// from a stream id (Last-Event-ID). One blocking XREAD loop per process reads the stream on one dedicated
// connection and fans each event out in memory to the subscribers whose filter matches, so ten thousand SSE
// clients cost one Redis connection, not ten thousand. A subscriber first catches up with non-blocking XRANGE
// reads from its start id, then takes the shared reader's events: see read() for why that has no gap and no
// duplicate.
import { duplicateConnection } from './connections';
import { describeWriteRefusal } from './redis-errors';
import type { EventBus, Lwm2mEvent, StoredEvent } from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import { EnvErrors, parseDuration, parseInteger } from '@lwm2m/config';
import type { RegistryKeys } from './keys';

export interface RedisEventBusOptions {
  /**
   * Upper bound of the stream's length, the memory cap (XADD MAXLEN ~ on every event, so a burst never grows
   * it beyond). Default DEFAULT_EVENTS_MAX_ENTRIES (EVENTS_MAX_ENTRIES).
   */
  maxLen?: number;
  /**
   * Events older than this are trimmed (XTRIM MINID ~, at most every tenth of it and every minute, by each
   * publishing process), ms. Default 24 h (EVENTS_RETENTION). The memory cap wins when both apply.
   */
  retentionMs?: number;
  /** XREAD BLOCK timeout, ms; only bounds how long a dead connection goes unnoticed. Default 5000. */
  blockMs?: number;
  /** recent() with an endpoint filter looks back at most this many events. Default 10 000. */
  recentScanLimit?: number;
  /**
   * Events queued in memory per subscriber that does not keep up. Beyond it the queue is dropped and the
   * subscriber reads on from Redis where it stopped (XRANGE), so a slow reader costs no memory. Default 1000.
   */
  subscriberQueue?: number;
  /** Pause before the shared reader retries after a Redis error, ms. Default 1000. */
  retryMs?: number;
}

export const DEFAULT_EVENTS_RETENTION_MS = 24 * 3_600_000;
export const DEFAULT_EVENTS_MAX_ENTRIES = 1_000_000;

/**
 * The event stream's retention from the environment: EVENTS_RETENTION (a duration, default 24h) and
 * EVENTS_MAX_ENTRIES (the memory cap). Every process that publishes reads the same variables.
 */
export function eventStreamOptionsFromEnv(env: Record<string, string | undefined>): RedisEventBusOptions {
  const errors = new EnvErrors();
  const retentionMs = parseDuration(
    'EVENTS_RETENTION',
    env.EVENTS_RETENTION,
    DEFAULT_EVENTS_RETENTION_MS,
    1000,
    365 * 86_400_000,
    errors,
  );
  const maxLen = parseInteger(
    'EVENTS_MAX_ENTRIES',
    env.EVENTS_MAX_ENTRIES,
    DEFAULT_EVENTS_MAX_ENTRIES,
    1000,
    1_000_000_000,
    errors,
  );
  errors.done('event stream');
  return { retentionMs, maxLen };
}

/** What the fan-out does, for metrics and tests. */
export interface EventFanoutStats {
  /** Subscriptions open now. */
  subscribers: number;
  /** Shared blocking readers running now (0 or 1). */
  readers: number;
  /** Times a subscriber's queue overflowed and it went back to reading from Redis. */
  overflows: number;
  /** Redis errors of the shared reader (each followed by a retry). */
  readerErrors: number;
}

type StreamEntry = [id: string, fields: string[]];

interface Subscriber {
  endpoint: string | undefined;
  /** Events the shared reader delivered that the subscriber has not taken yet (bounded). */
  queue: StoredEvent[];
  /** The queue overflowed and was dropped: catch up from Redis before taking from it again. */
  overflowed: boolean;
  /** Resolves the subscriber's wait for an event (set while it waits). */
  wake?: () => void;
}

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

const STREAM_ID = /^(\d{1,20})(?:-(\d{1,20}))?$/;
const U64_MAX = (1n << 64n) - 1n;

/**
 * True for a Redis stream id a reader may resume after: "<ms>-<seq>" or "<ms>", both unsigned 64-bit, and
 * not the largest id (nothing can follow it). Anything else would make XRANGE fail.
 */
export function isStreamId(id: string): boolean {
  const m = STREAM_ID.exec(id);
  if (!m) return false;
  const ms = BigInt(m[1]!);
  const seq = BigInt(m[2] ?? '0');
  return ms <= U64_MAX && seq <= U64_MAX && !(ms === U64_MAX && seq === U64_MAX);
}

/** Orders stream ids exactly (the numbers may exceed 2**53). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const cmp = (x: string, y: string) => x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
  return cmp(am, bm) || cmp(as, bs);
}

export class RedisEventBus implements EventBus {
  private readonly maxLen: number;
  private readonly retentionMs: number;
  private readonly trimEveryMs: number;
  private lastTrim = 0;
  private readonly blockMs: number;
  private readonly recentScanLimit: number;
  private readonly subscriberQueue: number;
  private readonly retryMs: number;
  private readonly readCount = 256;
  /** Subscribers without a filter, and those of each endpoint: an event visits only those it matches. */
  private readonly unfiltered = new Set<Subscriber>();
  private readonly byEndpoint = new Map<string, Set<Subscriber>>();
  private subscriberCount = 0;
  /** The shared reader: its connection, and when its start position is pinned. */
  private reader?: { conn: RedisClient; ready: Promise<void> };
  private overflows = 0;
  private readerErrors = 0;
  private closing = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    options: RedisEventBusOptions = {},
  ) {
    this.maxLen = options.maxLen ?? DEFAULT_EVENTS_MAX_ENTRIES;
    this.retentionMs = options.retentionMs ?? DEFAULT_EVENTS_RETENTION_MS;
    this.trimEveryMs = Math.min(60_000, Math.max(100, this.retentionMs / 10));
    this.blockMs = options.blockMs ?? 5000;
    this.recentScanLimit = options.recentScanLimit ?? 10_000;
    this.subscriberQueue = Math.max(1, options.subscriberQueue ?? 1000);
    this.retryMs = options.retryMs ?? 1000;
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
    this.trimByAge();
    return id!;
  }

  /**
   * For a store that appends `event` inside its own script, in the same call as its change (scripts.ts
   * APPEND_FN): the stream and the arguments maxlen, at, type, json, exactly what publish() writes.
   */
  entryFor(event: Lwm2mEvent): { stream: string; args: [number, number, string, string] } {
    return {
      stream: this.keys.eventStream,
      args: [this.maxLen, Date.now(), event.type, JSON.stringify(event)],
    };
  }

  /** A store appended an event (entryFor): the retention by time goes on as after publish(). */
  afterAppend(): void {
    this.trimByAge();
  }

  /** Retention by time: drops what is older than retentionMs, not on every event (one XTRIM per interval). */
  private trimByAge(): void {
    const now = Date.now();
    if (now - this.lastTrim < this.trimEveryMs) return;
    this.lastTrim = now;
    this.redis
      .xtrim(this.keys.eventStream, 'MINID', '~', `${Math.max(0, now - this.retentionMs)}-0`)
      .catch(() => undefined);
  }

  /**
   * Readiness (/readyz): Redis takes a write. PING alone answers while Redis refuses every write (maxmemory
   * reached under noeviction, a read-only replica, a failed save), and then no event can be published.
   * Throws with the reason in our words, never Redis' own text.
   */
  async ping(): Promise<void> {
    try {
      // In the event stream's hash slot; expires by itself.
      await this.redis.set(`${this.keys.eventStream}:write-probe`, Date.now(), 'PX', 60_000);
    } catch (err) {
      throw new Error(describeWriteRefusal(err));
    }
  }

  get stats(): EventFanoutStats {
    return {
      subscribers: this.subscriberCount,
      readers: this.reader ? 1 : 0,
      overflows: this.overflows,
      readerErrors: this.readerErrors,
    };
  }

  subscribe(opts: { afterId?: string; endpoint?: string; signal: AbortSignal }): AsyncIterable<StoredEvent> {
    const { signal } = opts;
    if (signal.aborted || this.closing) return { [Symbol.asyncIterator]: async function* () {} };
    // Joins the fan-out now, so an event published after subscribe() returns is seen even if iteration
    // starts later; '$' is pinned to the stream's last id now, on the shared connection.
    const sub: Subscriber = { endpoint: opts.endpoint || undefined, queue: [], overflowed: false };
    this.add(sub);
    void this.ensureReader();
    const start = opts.afterId && opts.afterId !== '$' ? Promise.resolve(opts.afterId) : this.lastId();
    start.catch(() => undefined);
    const onAbort = (): void => {
      this.remove(sub);
      sub.wake?.();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return { [Symbol.asyncIterator]: () => this.read(sub, start, signal, onAbort) };
  }

  private add(sub: Subscriber): void {
    if (sub.endpoint === undefined) this.unfiltered.add(sub);
    else {
      let set = this.byEndpoint.get(sub.endpoint);
      if (!set) this.byEndpoint.set(sub.endpoint, (set = new Set()));
      set.add(sub);
    }
    this.subscriberCount++;
  }

  private remove(sub: Subscriber): void {
    const set = sub.endpoint === undefined ? this.unfiltered : this.byEndpoint.get(sub.endpoint);
    if (!set?.delete(sub)) return;
    if (sub.endpoint !== undefined && set.size === 0) this.byEndpoint.delete(sub.endpoint);
    this.subscriberCount--;
    sub.queue.length = 0;
  }

  private async lastId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.keys.eventStream, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last[0]?.[0] ?? '0-0';
  }

  /** Starts the shared reader unless it runs; resolves once its start position is pinned. */
  private ensureReader(): Promise<void> {
    if (this.reader) return this.reader.ready;
    let ready!: () => void;
    const reader = {
      conn: duplicateConnection(this.redis),
      ready: new Promise<void>((resolve) => (ready = resolve)),
    };
    this.reader = reader;
    void this.runReader(reader, ready);
    return reader.ready;
  }

  /** The one blocking XREAD loop of this process; it stops when the last subscriber leaves. */
  private async runReader(reader: { conn: RedisClient }, ready: () => void): Promise<void> {
    let id: string | undefined;
    try {
      while (!this.closing && this.subscriberCount > 0) {
        try {
          if (id === undefined) {
            id = await this.lastId();
            ready();
            continue;
          }
          const res = (await reader.conn.xread(
            'COUNT',
            this.readCount,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            this.keys.eventStream,
            id,
          )) as Array<[string, StreamEntry[]]> | null;
          for (const [, entries] of res ?? []) {
            for (const entry of entries) {
              id = entry[0];
              const event = toStoredEvent(entry);
              if (event) this.dispatch(event);
            }
          }
        } catch {
          if (this.closing) break;
          // Redis unreachable: keep the position and retry; subscribers wait (their heartbeats go on).
          this.readerErrors++;
          await new Promise<void>((r) => setTimeout(r, this.retryMs).unref());
        }
      }
    } finally {
      // Synchronously with the check above: a subscriber added after this starts a new reader.
      if (this.reader === reader) this.reader = undefined;
      reader.conn.disconnect();
      ready();
    }
  }

  private dispatch(event: StoredEvent): void {
    const deliver = (sub: Subscriber): void => {
      if (sub.overflowed) return;
      if (sub.queue.length >= this.subscriberQueue) {
        // Redis keeps the events: the subscriber reads them from there when it is ready.
        sub.overflowed = true;
        sub.queue.length = 0;
        this.overflows++;
      } else sub.queue.push(event);
      sub.wake?.();
    };
    for (const sub of this.unfiltered) deliver(sub);
    const matching = this.byEndpoint.get(event.endpoint);
    if (matching) for (const sub of matching) deliver(sub);
  }

  /**
   * Catch-up, then the shared reader's events. The queue is emptied before the catch-up starts (time T0)
   * and collects every event the shared reader hands out after T0; the catch-up's last XRANGE (time T1,
   * after the shared reader pinned its start) sees every event stored before T1. An event is either
   * stored before T1 or handed out after T0, so none is missed; ids at or below the last one yielded are
   * skipped, so none comes twice. A queue that overflowed is dropped and the same catch-up runs again.
   */
  private async *read(
    sub: Subscriber,
    start: Promise<string>,
    signal: AbortSignal,
    onAbort: () => void,
  ): AsyncGenerator<StoredEvent> {
    const matches = (e: StoredEvent) => sub.endpoint === undefined || e.endpoint === sub.endpoint;
    try {
      let last = await start;
      let catchingUp = true;
      while (!signal.aborted && !this.closing) {
        if (catchingUp || sub.overflowed) {
          sub.overflowed = false;
          sub.queue.length = 0;
          await this.ensureReader();
          for (;;) {
            const entries = (await this.redis.xrange(
              this.keys.eventStream,
              `(${last}`,
              '+',
              'COUNT',
              this.readCount,
            )) as StreamEntry[];
            for (const entry of entries) {
              last = entry[0];
              const event = toStoredEvent(entry);
              if (event && matches(event)) yield event;
              if (signal.aborted || this.closing) return;
            }
            if (entries.length < this.readCount) break;
          }
          catchingUp = false;
          continue;
        }
        const event = sub.queue.shift();
        if (event) {
          if (compareStreamIds(event.id, last) > 0) {
            last = event.id;
            yield event;
          }
          continue;
        }
        await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.remove(sub);
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
    this.reader?.conn.disconnect();
    for (const sub of [...this.unfiltered, ...[...this.byEndpoint.values()].flatMap((s) => [...s])]) {
      this.remove(sub);
      sub.wake?.();
    }
  }
}
