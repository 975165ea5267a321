// Reads the registry's event stream as the consumer group "scheduler": each event is handled by one scheduler
// replica, and an event taken by a replica that died is claimed by another after `reclaimIdleMs`
// (XAUTOCLAIM). Handlers must be idempotent: an event may be handled twice, never lost.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StoredEvent } from '@lwm2m/server';
import type { RedisClient } from '@lwm2m/registry';

type StreamEntry = [id: string, fields: string[]];

export interface EventConsumerOptions {
  redis: RedisClient;
  stream: string;
  group: string;
  handle(event: StoredEvent): Promise<void>;
  /**
   * Handles a whole batch at once (instead of `handle` per event), e.g. to read the store once for all of
   * them; returns the ids of the events that failed (left pending, reclaimed later). Throwing fails them all.
   */
  handleBatch?(events: StoredEvent[]): Promise<string[]>;
  /** Where a new group starts: '$' (default, only new events) or '0'. */
  startId?: string;
  blockMs?: number;
  batch?: number;
  /**
   * After a read that did not fill a batch, wait this long (ms) before the next: a trickle of events is then
   * read and acknowledged a few at a time, not one read and one XACK each. Bounds the added latency; a
   * burst fills batches and is read without waiting. Default 50.
   */
  lingerMs?: number;
  reclaimIdleMs?: number;
  onError?(err: unknown): void;
}

function toEvent([id, fields]: StreamEntry): StoredEvent | undefined {
  let json: string | undefined;
  let at = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'e') json = fields[i + 1];
    else if (fields[i] === 'at') at = Number(fields[i + 1]);
  }
  if (json === undefined) return undefined;
  try {
    return { ...(JSON.parse(json) as StoredEvent), id, at };
  } catch {
    return undefined;
  }
}

export class EventStreamConsumer {
  private conn?: RedisClient;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(private readonly opts: EventConsumerOptions) {}

  async start(): Promise<void> {
    await this.ensureGroup();
    this.conn = this.opts.redis.duplicate();
    this.conn.on('error', () => undefined);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.conn?.disconnect();
    await this.loop;
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.opts.redis.xgroup(
        'CREATE',
        this.opts.stream,
        this.opts.group,
        this.opts.startId ?? '$',
        'MKSTREAM',
      );
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
  }

  private async handleAll(entries: StreamEntry[]): Promise<void> {
    if (this.opts.handleBatch) return this.handleBatch(entries, this.opts.handleBatch);
    // One XACK for the whole batch (not one per event); a failed event stays pending and is reclaimed.
    const done: string[] = [];
    for (const entry of entries) {
      if (!entry || !entry[1]) continue;
      const event = toEvent(entry);
      if (event) {
        try {
          await this.opts.handle(event);
        } catch (err) {
          // Left pending: reclaimed and handled again after reclaimIdleMs.
          this.opts.onError?.(err);
          continue;
        }
      }
      done.push(entry[0]);
    }
    if (done.length > 0) await this.opts.redis.xack(this.opts.stream, this.opts.group, ...done);
  }

  private async handleBatch(
    entries: StreamEntry[],
    handleBatch: (events: StoredEvent[]) => Promise<string[]>,
  ): Promise<void> {
    const events: StoredEvent[] = [];
    const done = new Set<string>();
    for (const entry of entries) {
      if (!entry || !entry[1]) continue;
      const event = toEvent(entry);
      // An unreadable entry is acknowledged: handling it again would not make it readable.
      if (event) events.push(event);
      done.add(entry[0]);
    }
    if (events.length > 0) {
      try {
        for (const id of await handleBatch(events)) done.delete(id);
      } catch (err) {
        this.opts.onError?.(err);
        for (const e of events) done.delete(e.id);
      }
    }
    if (done.size > 0) await this.opts.redis.xack(this.opts.stream, this.opts.group, ...done);
  }

  private async run(): Promise<void> {
    const { stream, group } = this.opts;
    const reclaimIdle = this.opts.reclaimIdleMs ?? 30_000;
    let lastReclaim = 0;
    while (!this.stopped) {
      try {
        if (Date.now() - lastReclaim >= reclaimIdle / 2) {
          lastReclaim = Date.now();
          const res = (await this.opts.redis.xautoclaim(
            stream,
            group,
            this.consumer,
            reclaimIdle,
            '0-0',
            'COUNT',
            100,
          )) as [string, StreamEntry[]];
          await this.handleAll(res[1] ?? []);
        }
        const res = (await this.conn!.xreadgroup(
          'GROUP',
          group,
          this.consumer,
          'COUNT',
          this.opts.batch ?? 200,
          'BLOCK',
          this.opts.blockMs ?? 1000,
          'STREAMS',
          stream,
          '>',
        )) as Array<[string, StreamEntry[]]> | null;
        let read = 0;
        for (const [, entries] of res ?? []) {
          read += entries.length;
          await this.handleAll(entries);
        }
        const linger = this.opts.lingerMs ?? 50;
        if (read > 0 && read < (this.opts.batch ?? 200) && linger > 0 && !this.stopped) {
          await new Promise((r) => setTimeout(r, linger));
        }
      } catch (err) {
        if (this.stopped) break;
        if (String(err).includes('NOGROUP')) await this.ensureGroup().catch(() => undefined);
        else this.opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
