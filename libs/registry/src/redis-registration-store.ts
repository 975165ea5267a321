// RegistrationStore on Redis (LwM2M TS 1.2 Core 6.2 registration state). Slot layout and the two-step
// record/index protocol are described in keys.ts.
import {
  type ListQuery,
  type Lwm2mEvent,
  type Observation,
  type Page,
  type Presence,
  type PresenceResult,
  type Registration,
  type RegistrationStore,
  type UpdateAnnouncement,
  withPresence,
} from '@lwm2m/server';
import { formatSessionRef, parseSessionRef, type SessionRef } from '@lwm2m/transport';
import { dataNodes } from './connections';
import { isCluster, type RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import type { RedisEventBus } from './redis-event-bus';
import { decodeRecord, encodeRecord, encodeRecordTail } from './registration-record';
import { RegistryScripts } from './scripts';

export const MAX_LIST_LIMIT = 1000;
/** list() with a q filter scans at most this many endpoints per page, then returns a cursor. */
const MAX_LIST_SCAN = 10_000;
const CAS_RETRIES = 20;

type RegistrationPatch = Parameters<RegistrationStore['update']>[1];

type Removed = { registration: Registration; cancelledObservations: Observation[] };

function parseObservations(raw: unknown): Observation[] {
  return (Array.isArray(raw) ? (raw as string[]) : []).map((s) => JSON.parse(s) as Observation);
}

function obsPairs(observations: Observation[]): string[] {
  return observations.flatMap((o) => [o.id, o.token]);
}

export class RedisRegistrationStore implements RegistrationStore {
  private readonly scripts: RegistryScripts;
  /**
   * Set on a single Redis (or Sentinel): a Register is one script call, record, indexes and event together.
   * On a Cluster the record, the indexes and the stream are three slots, so they stay three steps.
   */
  private readonly events?: Pick<RedisEventBus, 'entryFor' | 'afterAppend'>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    events?: Pick<RedisEventBus, 'entryFor' | 'afterAppend'>,
  ) {
    this.scripts = new RegistryScripts(redis);
    if (!isCluster(redis)) this.events = events;
  }

  private endpointKeys(endpoint: string): string[] {
    const k = this.keys;
    return [k.reg(endpoint), k.obs(endpoint), k.values(endpoint), k.presence(endpoint)];
  }

  private get indexKeys(): string[] {
    const k = this.keys;
    return [k.regIdIndex, k.endpointRegIndex, k.endpointsIndex, k.expiryIndex, k.obsIdIndex, k.obsTokenIndex];
  }

  private async indexSet(
    endpoint: string,
    id: string,
    expiresAt: number,
    gen: string,
    dropped: Observation[] = [],
  ): Promise<void> {
    await this.scripts.run('lwm2mIndexSet', this.indexKeys, [
      endpoint,
      id,
      expiresAt,
      gen,
      ...obsPairs(dropped),
    ]);
  }

  private async indexRemove(endpoint: string, id: string, dropped: Observation[]): Promise<void> {
    await this.scripts.run('lwm2mIndexRemove', this.indexKeys, [endpoint, id, ...obsPairs(dropped)]);
  }

  async register(
    reg: Registration,
    event?: Lwm2mEvent,
  ): Promise<{ replaced?: Registration; cancelledObservations: Observation[]; eventId?: string }> {
    const tail = encodeRecordTail(reg);
    if (this.events !== undefined) {
      const entry = event && this.events.entryFor(event);
      const [prev, obsRaw, , eventId] = (await this.scripts.run(
        'lwm2mRegisterAll',
        [...this.endpointKeys(reg.endpoint), ...this.indexKeys, entry?.stream ?? this.keys.eventStream],
        [reg.expiresAt, tail, reg.endpoint, reg.registrationId, ...(entry?.args ?? [])],
      )) as [string | null, string[], string, string | null];
      if (eventId) this.events.afterAppend();
      return {
        ...(prev ? { replaced: decodeRecord(reg.endpoint, prev).reg } : {}),
        cancelledObservations: parseObservations(obsRaw),
        ...(eventId ? { eventId } : {}),
      };
    }
    const [prev, obsRaw, gen] = (await this.scripts.run('lwm2mRegister', this.endpointKeys(reg.endpoint), [
      reg.expiresAt,
      tail,
    ])) as [string | null, string[], string];
    const cancelledObservations = parseObservations(obsRaw);
    await this.indexSet(reg.endpoint, reg.registrationId, reg.expiresAt, gen, cancelledObservations);
    return prev
      ? { replaced: decodeRecord(reg.endpoint, prev).reg, cancelledObservations }
      : { cancelledObservations };
  }

  /** Read-merge-compare-and-set on the record; `check` may refuse (returns undefined). */
  private async modify(
    endpoint: string,
    registrationId: string | undefined,
    change: (reg: Registration) => Registration,
    announce?: UpdateAnnouncement,
  ): Promise<{ reg: Registration; gen: string; indexed?: boolean } | undefined> {
    const key = this.keys.reg(endpoint);
    for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
      const raw = (await this.scripts.run('lwm2mRead', [key, this.keys.presence(endpoint)], [])) as
        string[] | null;
      if (!raw) return undefined;
      const { reg, header } = decodeRecord(endpoint, raw[0]!);
      if (registrationId !== undefined && header.id !== registrationId) return undefined;
      const next = change(reg);
      const record = encodeRecord(next, header.v + 1, header.gen);
      if (this.events !== undefined && announce !== undefined) {
        // Single server: the record, its index entries and the event in one call.
        const entry = this.events.entryFor(announce.event(next));
        const [res, eventId] = (await this.scripts.run(
          'lwm2mCasAll',
          [key, ...this.indexKeys.slice(0, 4), entry.stream],
          [header.id, header.v, record, endpoint, next.expiresAt, header.gen, ...entry.args],
        )) as [number, string | null];
        if (res === 1) {
          if (eventId) {
            announce.appended = eventId;
            this.events.afterAppend();
          }
          return { reg: next, gen: header.gen, indexed: true };
        }
        if (res === -1) return undefined;
        continue;
      }
      const res = await this.scripts.run('lwm2mCas', [key], [header.id, header.v, record]);
      if (res === 1) return { reg: next, gen: header.gen };
      if (res === -1) return undefined;
    }
    throw new Error(`registration of ${endpoint} kept changing; gave up after ${CAS_RETRIES} attempts`);
  }

  async update(
    registrationId: string,
    patch: RegistrationPatch,
    announce?: UpdateAnnouncement,
  ): Promise<Registration | undefined> {
    const endpoint = await this.redis.hget(this.keys.regIdIndex, registrationId);
    if (!endpoint) return undefined;
    const done = await this.modify(endpoint, registrationId, (reg) => ({ ...reg, ...patch }), announce);
    if (!done) return undefined;
    // Rewrites every index entry: heals a crash between the two steps of an earlier change.
    if (!done.indexed) await this.indexSet(endpoint, registrationId, done.reg.expiresAt, done.gen);
    return done.reg;
  }

  async deregister(registrationId: string, event?: Lwm2mEvent): Promise<Removed | undefined> {
    const endpoint = await this.redis.hget(this.keys.regIdIndex, registrationId);
    if (!endpoint) return undefined;
    if (this.events !== undefined) {
      const entry = event && this.events.entryFor(event);
      const res = (await this.scripts.run(
        'lwm2mDeregisterAll',
        [...this.endpointKeys(endpoint), ...this.indexKeys, entry?.stream ?? this.keys.eventStream],
        [registrationId, endpoint, ...(entry?.args ?? [])],
      )) as [string, string[], string | null] | null;
      if (!res) return undefined;
      if (res[2]) this.events.afterAppend();
      return {
        registration: decodeRecord(endpoint, res[0]).reg,
        cancelledObservations: parseObservations(res[1]),
        ...(res[2] ? { eventId: res[2] } : {}),
      };
    }
    const res = (await this.scripts.run('lwm2mDeregister', this.endpointKeys(endpoint), [registrationId])) as
      [string, string[]] | null;
    if (!res) return undefined;
    const cancelledObservations = parseObservations(res[1]);
    await this.indexRemove(endpoint, registrationId, cancelledObservations);
    return { registration: decodeRecord(endpoint, res[0]).reg, cancelledObservations };
  }

  async getById(registrationId: string): Promise<Registration | undefined> {
    const endpoint = await this.redis.hget(this.keys.regIdIndex, registrationId);
    if (!endpoint) return undefined;
    const reg = await this.getByEndpoint(endpoint);
    return reg?.registrationId === registrationId ? reg : undefined;
  }

  async getByEndpoint(endpoint: string): Promise<Registration | undefined> {
    const res = (await this.scripts.run(
      'lwm2mRead',
      [this.keys.reg(endpoint), this.keys.presence(endpoint)],
      [],
    )) as Array<string | null> | null;
    if (!res) return undefined;
    const [raw, id, t, address, port, peerKey, node] = res;
    const { reg } = decodeRecord(endpoint, raw!);
    if (!id || !t || !address || !port || peerKey === null || peerKey === undefined) return reg;
    let session: SessionRef;
    try {
      session = parseSessionRef(peerKey);
    } catch {
      return reg; // a presence that does not read back is left out: the record's own address stands
    }
    const presence: Presence = {
      endpoint,
      registrationId: id,
      lastSeen: Number(t),
      address: { address, port: Number(port) },
      session,
      ...(node ? { gatewayNode: node } : {}),
    };
    return withPresence(reg, presence);
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.keys.endpointsIndex);
  }

  async list(query: ListQuery): Promise<Page<Registration>> {
    const limit = Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(query.limit) || MAX_LIST_LIMIT));
    const needle = query.q?.toLowerCase();
    const items: Registration[] = [];
    let from = query.cursor ? `(${query.cursor}` : '-';
    let scanned = 0;
    let last: string | undefined;
    while (items.length < limit && scanned < MAX_LIST_SCAN) {
      const batchSize = needle ? 500 : limit - items.length + 1;
      const batch = await this.redis.zrangebylex(this.keys.endpointsIndex, from, '+', 'LIMIT', 0, batchSize);
      if (batch.length === 0) return { items };
      const wanted: string[] = [];
      for (const ep of batch) {
        if (wanted.length + items.length >= limit) break;
        last = ep;
        scanned++;
        if (!needle || ep.toLowerCase().includes(needle)) wanted.push(ep);
      }
      const regs = await Promise.all(wanted.map((ep) => this.getByEndpoint(ep)));
      // Endpoints whose record is gone are stale index entries: skipped, never returned.
      for (const reg of regs) if (reg) items.push(reg);
      from = `(${last}`;
    }
    // More may follow: is there anything after the last endpoint looked at?
    const more = await this.redis.zrangebylex(this.keys.endpointsIndex, from, '+', 'LIMIT', 0, 1);
    return more.length > 0 && last !== undefined ? { items, nextCursor: last } : { items };
  }

  async touch(presence: Presence[], awakeWindowMs: number): Promise<PresenceResult[]> {
    if (presence.length === 0) return [];
    const args = (p: Presence) => [
      this.keys.reg(p.endpoint),
      this.keys.presence(p.endpoint),
      p.registrationId,
      p.lastSeen,
      p.address.address,
      p.address.port,
      formatSessionRef(p.session),
      p.gatewayNode ?? '',
      awakeWindowMs,
    ];
    const result = (r: unknown): PresenceResult => {
      const [code, silent] = r as [number, number?];
      if (code === 0) return { registered: false };
      return code === 2 ? { registered: true, wokeAfterMs: Number(silent) } : { registered: true };
    };
    const client = this.redis as unknown as Record<'lwm2mPresence', (...a: unknown[]) => Promise<unknown>>;
    if (isCluster(this.redis)) {
      // Each device is its own slot, and ioredis refuses a pipeline across slots: one command each, written
      // without waiting for answers. A failed write fails only its own entry (it is written again next time).
      return Promise.all(
        presence.map((p) =>
          client.lwm2mPresence
            .call(this.redis, ...args(p))
            .then(result)
            .catch((): PresenceResult => ({ registered: true })),
        ),
      );
    }
    const pipeline = this.redis.pipeline() as unknown as Record<
      'lwm2mPresence',
      (...a: unknown[]) => unknown
    > & {
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    for (const p of presence) pipeline.lwm2mPresence(...args(p));
    const results = (await pipeline.exec()) ?? [];
    return presence.map((_, i) => {
      const [err, r] = results[i] ?? [null, [1]];
      return err !== null ? { registered: true } : result(r);
    });
  }

  async claimExpired(now: number, max: number): Promise<Removed[]> {
    if (max <= 0) return [];
    const due = await this.redis.zrangebyscore(this.keys.expiryIndex, '-inf', now, 'LIMIT', 0, max);
    const results = await Promise.all(
      due.map(async (endpoint): Promise<Removed | undefined> => {
        const res = (await this.scripts.run('lwm2mClaim', this.endpointKeys(endpoint), [now])) as unknown[];
        if (res[0] === 0) {
          await this.scripts.run('lwm2mExpiryDrop', [this.keys.expiryIndex], [endpoint, now]);
          return undefined;
        }
        if (res[0] === 1) {
          // Updated since the index entry was written: move the entry to the record's deadline.
          const [, id, exp, gen] = res as [number, string, string, string];
          await this.indexSet(endpoint, id, Number(exp), gen);
          return undefined;
        }
        const registration = decodeRecord(endpoint, res[1] as string).reg;
        const cancelledObservations = parseObservations(res[2]);
        await this.indexRemove(endpoint, registration.registrationId, cancelledObservations);
        return { registration, cancelledObservations };
      }),
    );
    return results.filter((r): r is Removed => r !== undefined);
  }

  /**
   * Rewrites the indexes of every record (SCAN over this prefix): repairs what a process crash between
   * the record step and the index step left behind. Meant for a maintenance job, not the hot path.
   * SCAN sees one server: on a Redis Cluster it runs on each master (a slot migrating meanwhile may be
   * missed; the next run covers it).
   */
  async reindex(): Promise<number> {
    let count = 0;
    const suffix = this.keys.reg('\u0000').split('\u0000')[1]!;
    for (const node of dataNodes(this.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(
          cursor,
          'MATCH',
          `${this.keys.prefix}{ep:*${suffix}`,
          'COUNT',
          500,
        );
        cursor = next;
        for (const key of keys) {
          // <prefix>{ep:<endpoint>}<suffix>: the endpoint is in the key (the record does not repeat it).
          const endpoint = key.slice(`${this.keys.prefix}{ep:`.length, key.length - suffix.length);
          const raw = (await this.scripts.run('lwm2mRead', [key, this.keys.presence(endpoint)], [])) as
            string[] | null;
          if (!raw) continue;
          const { header } = decodeRecord(endpoint, raw[0]!);
          await this.indexSet(endpoint, header.id, header.exp, header.gen);
          count++;
        }
      } while (cursor !== '0');
    }
    return count;
  }

  async nextExpiry(): Promise<number | undefined> {
    const first = await this.redis.zrange(this.keys.expiryIndex, 0, 0, 'WITHSCORES');
    return first.length === 2 ? Number(first[1]) : undefined;
  }
}
