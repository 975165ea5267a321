// Keeps this node's DTLS sessions in the shared store so any node can continue them without a handshake:
//  - a new CID session is stored sealed (cluster key), owned by this node, with a lease of write sequence
//    numbers; the DTLS server never writes at or above the lease, and extends it (in Redis first) halfway;
//  - sessions that saw traffic report their replay high-water mark and address once a second (batched);
//  - a record for a session nobody live owns is taken over: ownership moves atomically, the new owner
//    starts writing at the old lease's end, so no AES-CCM nonce is ever used twice.
import type { DtlsServer, DtlsSession, DtlsSessionSnapshot } from '@lwm2m/dtls';
import { cidRef } from '@lwm2m/transport';
import { type ClusterKeys, openAtRest, sealAtRest } from './cluster-key';
import type { ClusterMembership } from './membership';
import type { ClusterSessionStore } from './ports';

export interface SessionKeeperOptions {
  dtls: DtlsServer;
  store: ClusterSessionStore;
  membership: ClusterMembership;
  keys: ClusterKeys;
  /** Write sequence numbers leased at a time. Default 100 000. */
  sequenceBlock?: number;
  /** How long an idle session is kept in the store. Default 7 days. */
  ttlMs?: number;
  flushMs?: number;
  logger?: { warn(message: string, context?: Record<string, unknown>): void };
}

export type Route =
  | { kind: 'local' }
  /** `handover`: we are draining; the receiver may take the session over from us at once. */
  | { kind: 'forward'; node: number; handover?: boolean }
  | { kind: 'drop'; reason: string };

export interface KeeperCounters {
  sessionTakeovers: number;
  takeoverFailures: number;
  sessionsStored: number;
}

const MOVED = 'moved to another node';
const CLOSING = 'server closing';

export class SessionKeeper {
  readonly counters: KeeperCounters = { sessionTakeovers: 0, takeoverFailures: 0, sessionsStored: 0 };
  private readonly block: number;
  private readonly ttlMs: number;
  /** Sessions (by key) whose replay mark and address are due in the store, and those a failed store left. */
  private readonly dirty = new Map<string, DtlsSession>();
  private readonly unsaved = new Map<string, DtlsSession>();
  private readonly resolving = new Map<string, Promise<Route>>();
  /** The leased write sequence end of each of our sessions. */
  private readonly limits = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private draining = false;

  constructor(private readonly opts: SessionKeeperOptions) {
    this.block = opts.sequenceBlock ?? 100_000;
    this.ttlMs = opts.ttlMs ?? 7 * 86_400_000;
  }

  start(): void {
    const { dtls } = this.opts;
    dtls.events.on('handshake', (s) => void this.store(s));
    dtls.events.on('sequence-low', (s) => void this.extend(s));
    dtls.events.on('close', (s, reason) => {
      const cid = cidOf(s);
      this.dirty.delete(s.key);
      this.limits.delete(s.key);
      // A session handed over (shutdown) or taken by another node lives on in the store.
      if (cid === undefined || reason === MOVED || reason === CLOSING) return;
      void this.opts.store.remove(cid, this.self).catch(() => undefined);
    });
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Stops the flush timer after a last flush (graceful shutdown keeps every session in the store). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Graceful shutdown: every session is written back, and from now on records of sessions not held here are
   * forwarded to a live node (which takes them over once our lease is released), never taken over here.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.stop();
  }

  /** An authenticated datagram of this session arrived: report its replay mark and address soon. */
  markActive(session: DtlsSession): void {
    this.dirty.set(session.key, session);
  }

  /**
   * Where a record for CID `cid` (hex) that this node does not hold goes: to its live owner, or here after a
   * takeover. Concurrent records of one CID share one lookup.
   */
  route(cid: string, opts: { releasedBy?: number } = {}): Promise<Route> {
    let p = this.resolving.get(cid);
    if (p === undefined) {
      p = this.resolve(cid, opts.releasedBy).finally(() => this.resolving.delete(cid));
      this.resolving.set(cid, p);
    }
    return p;
  }

  private get self(): number {
    return this.opts.membership.id;
  }

  /** `releasedBy`: a draining node handed this record over (authenticated by the link): its lease does not count. */
  private async resolve(cid: string, releasedBy?: number): Promise<Route> {
    const { store, membership, dtls } = this.opts;
    if (dtls.session(cidRef(cid)) !== undefined) return { kind: 'local' };
    if (this.draining) {
      const others = membership.nodes().filter((n) => n.id !== this.self);
      if (others.length === 0) return { kind: 'drop', reason: 'draining, no other node' };
      return {
        kind: 'forward',
        node: others[parseInt(cid.slice(-4), 16) % others.length]!.id,
        handover: true,
      };
    }
    let owner = await store.owner(cid);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (owner === undefined) return { kind: 'drop', reason: 'unknown session' };
      if (owner !== this.self && owner !== releasedBy && membership.isAlive(owner))
        return { kind: 'forward', node: owner };
      const r = await store.takeover(cid, owner, this.self, this.block);
      if (r.kind === 'missing') return { kind: 'drop', reason: 'unknown session' };
      if (r.kind === 'owned') {
        owner = r.owner;
        continue;
      }
      const snap = this.open(cid, r.session.sealed);
      if (snap === undefined) {
        this.counters.takeoverFailures++;
        return { kind: 'drop', reason: 'session record does not open with our cluster key' };
      }
      // Records the old owner accepted after its last report may replay once: the window starts at that mark.
      if (r.session.readTop > snap.replay.top)
        snap.replay = { top: r.session.readTop, lo: 0xffffffff, hi: 0xffffffff };
      if (r.session.address !== undefined && r.session.port !== undefined) {
        snap.peer = {
          address: r.session.address,
          port: r.session.port,
          ...(r.session.family ? { family: r.session.family } : {}),
        };
      }
      const restored = dtls.restoreSession(snap, Math.max(0, r.seqStart - snap.writeSeq));
      this.lease(restored, r.seqStart + this.block);
      this.counters.sessionTakeovers++;
      return { kind: 'local' };
    }
    return { kind: 'drop', reason: 'ownership keeps changing' };
  }

  private lease(s: DtlsSession, end: number): void {
    this.limits.set(s.key, end);
    this.opts.dtls.setWriteSequenceLimit(s.ref, end, end - this.block / 2);
  }

  private aad(cid: string): string {
    return `dtls-session:${cid}`;
  }

  private open(cid: string, sealed: Buffer): DtlsSessionSnapshot | undefined {
    const plain = openAtRest(this.opts.keys.atRest, sealed, this.aad(cid));
    if (plain === undefined) return undefined;
    try {
      return JSON.parse(plain.toString('utf8')) as DtlsSessionSnapshot;
    } catch {
      return undefined;
    }
  }

  private async store(s: DtlsSession): Promise<void> {
    const cid = cidOf(s);
    if (cid === undefined) return;
    const { dtls } = this.opts;
    let snap: DtlsSessionSnapshot;
    try {
      snap = dtls.snapshotSession(s.ref);
    } catch {
      return;
    }
    const end = snap.writeSeq + this.block;
    this.lease(s, end);
    try {
      await this.opts.store.put(
        cid,
        {
          sealed: sealAtRest(this.opts.keys.atRest, Buffer.from(JSON.stringify(snap)), this.aad(cid)),
          owner: this.self,
          seqEnd: end,
          readTop: snap.replay.top,
          address: snap.peer.address,
          port: snap.peer.port,
          ...(snap.peer.family ? { family: snap.peer.family } : {}),
        },
        this.ttlMs,
      );
      this.unsaved.delete(s.key);
      this.counters.sessionsStored++;
    } catch (err) {
      // Redis unreachable: the session works here; the flush stores it once Redis is back.
      this.unsaved.set(s.key, s);
      this.opts.logger?.warn('cluster: storing a session failed', { session: s.key, error: String(err) });
    }
  }

  private async extend(s: DtlsSession): Promise<void> {
    const cid = cidOf(s);
    if (cid === undefined) return;
    try {
      const end = await this.opts.store.extend(cid, this.self, this.block);
      if (end === undefined) {
        // Another node took the session over (it thought us dead): it is theirs now.
        this.opts.dtls.dropSession(s.ref);
        return;
      }
      this.lease(s, end);
    } catch (err) {
      // Ask again at the next record; at the limit itself the session stops writing until Redis answers.
      const next = (this.opts.dtls.writeSequence(s.ref) ?? 0) + 1;
      const limit = this.limits.get(s.key);
      if (limit !== undefined) this.opts.dtls.setWriteSequenceLimit(s.ref, limit, next);
      this.opts.logger?.warn('cluster: extending a sequence lease failed', { error: String(err) });
    }
  }

  private async flush(): Promise<void> {
    const { dtls } = this.opts;
    for (const [key, session] of [...this.unsaved]) {
      const s = dtls.session(session.ref);
      if (s === undefined) this.unsaved.delete(key);
      else await this.store(s);
    }
    if (this.dirty.size === 0) return;
    const updates: Array<{ cid: string; owner: number; readTop: number; address: string; port: number }> = [];
    for (const session of this.dirty.values()) {
      const s = dtls.session(session.ref);
      const cid = s && cidOf(s);
      if (cid === undefined) continue;
      try {
        const snap = dtls.snapshotSession(s!.ref);
        updates.push({
          cid,
          owner: this.self,
          readTop: snap.replay.top,
          address: snap.peer.address,
          port: snap.peer.port,
        });
      } catch {
        // closed meanwhile
      }
    }
    this.dirty.clear();
    if (updates.length === 0) return;
    await this.opts.store.touch(updates, this.ttlMs).catch((err: unknown) => {
      this.opts.logger?.warn('cluster: session flush failed', { error: String(err) });
    });
  }
}

function cidOf(s: DtlsSession): string | undefined {
  return s.cid !== undefined && s.cid.length > 0 ? s.cid.toString('hex') : undefined;
}
