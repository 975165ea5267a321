// This node's lease in the shared state and the cached view of the others. A node is alive while its lease
// (ttlMs, renewed every heartbeatMs) is; a crashed node's sessions become free for takeover once it lapses.
import type { MembershipStore, NodeInfo } from './ports';

export interface MembershipOptions {
  store: MembershipStore;
  /** NODE_ID; a number at its end (StatefulSet ordinal "gateway-2") seeds the numeric id. */
  name?: string;
  /** Numeric id to claim; default: from `name`, else the lowest free one. */
  id?: number;
  linkHost: string;
  linkPort: number;
  /** Sessions served now, reported with each heartbeat. */
  sessions: () => number;
  ttlMs?: number;
  heartbeatMs?: number;
  /**
   * A worker thread of a node (GATEWAY_WORKERS): the node's main thread holds the lease under `id`; this one
   * claims and renews nothing and only keeps the view of the cluster (who is alive, where).
   */
  observer?: boolean;
  /** The lease was lost (another process holds our id): the node must stop serving. */
  onLost?: () => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class ClusterMembership {
  private idValue?: number;
  private nameValue = '';
  private readonly startedAt = Date.now();
  private view = new Map<number, NodeInfo>();
  private timer?: NodeJS.Timeout;
  private readonly ttlMs: number;
  private readonly heartbeatMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: MembershipOptions) {
    this.ttlMs = opts.ttlMs ?? 3000;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  get id(): number {
    if (this.idValue === undefined) throw new Error('cluster: membership not started');
    return this.idValue;
  }

  get name(): string {
    return this.nameValue;
  }

  /** Claims the lease (retrying while a previous incarnation's lease runs out) and starts the heartbeat. */
  async start(): Promise<void> {
    const seeded = this.opts.id ?? numericSuffix(this.opts.name);
    if (this.opts.observer) {
      if (seeded === undefined) throw new Error('cluster: an observer membership needs the node id');
      this.idValue = seeded;
      this.nameValue = this.opts.name ?? `node-${seeded}`;
      await this.refresh();
      this.timer = setInterval(
        () => void this.refresh().catch((err) => this.opts.onError?.(err)),
        this.heartbeatMs,
      );
      this.timer.unref();
      return;
    }
    const deadline = this.now() + this.ttlMs * 2 + 1000;
    for (;;) {
      const id = await this.opts.store.claim(
        {
          ...(seeded !== undefined ? { id: seeded } : {}),
          name: this.opts.name ?? '',
          linkHost: this.opts.linkHost,
          linkPort: this.opts.linkPort,
          sessions: 0,
          startedAt: this.startedAt,
        },
        this.ttlMs,
      );
      if (id !== undefined) {
        this.idValue = id;
        break;
      }
      // A node killed a moment ago still holds its lease: the same pod restarting waits it out.
      if (this.now() > deadline) throw new Error(`cluster: node id ${seeded} is held by a live node`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.nameValue = this.opts.name ?? `node-${this.idValue}`;
    await this.refresh();
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Whether node `id` holds a live lease, as of the last refresh (this node: always). */
  isAlive(id: number): boolean {
    if (id === this.idValue) return true;
    // The store lists only unexpired leases; the view is at most one heartbeat old.
    return this.view.has(id);
  }

  node(id: number): NodeInfo | undefined {
    return this.isAlive(id) ? this.view.get(id) : undefined;
  }

  nodes(): NodeInfo[] {
    return [...this.view.values()].filter((n) => this.isAlive(n.id));
  }

  /** Stops the heartbeat; `release` gives the lease up so others take our sessions over at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (opts.release && this.idValue !== undefined && !this.opts.observer)
      await this.opts.store.release(this.idValue, this.opts.store.token).catch(() => undefined);
  }

  private info(): Omit<NodeInfo, 'seenAt'> {
    return {
      id: this.id,
      name: this.nameValue,
      linkHost: this.opts.linkHost,
      linkPort: this.opts.linkPort,
      sessions: this.opts.sessions(),
      startedAt: this.startedAt,
    };
  }

  private async beat(): Promise<void> {
    try {
      const ok = await this.opts.store.renew(this.info(), this.ttlMs, this.opts.store.token);
      if (!ok) {
        await this.stop();
        this.opts.onLost?.();
        return;
      }
      await this.refresh();
    } catch (err) {
      // Redis unreachable: keep serving what we hold; the lease is renewed once it is back.
      this.opts.onError?.(err);
    }
  }

  private async refresh(): Promise<void> {
    const live = await this.opts.store.live();
    this.view = new Map(live.map((n) => [n.id, n]));
  }
}

function numericSuffix(name: string | undefined): number | undefined {
  const m = name === undefined ? null : /(\d+)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffff ? n : undefined;
}
