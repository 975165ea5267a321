// Presence (last seen, address, peer key, node) of the devices this node hears from, coalesced: every
// datagram updates it in memory, and a 1 s tick writes what changed in one store call (one pipeline on
// Redis), so a device costs at most one presence write per second however often it speaks. Until the
// write, this node's readers get the newest presence from memory (presenceAware), so a device that moved
// is reached at its new address at once here, and within a second on other nodes.
import { type Peer, securedTransport, type SessionRef, sessionRefOf } from '@lwm2m/transport';
import type { RegistrationStore } from './ports';
import { type Presence, type Registration, withPresence } from './registration';

export const DEFAULT_PRESENCE_FLUSH_MS = 1000;

export interface PresenceBufferOptions {
  store: Pick<RegistrationStore, 'touch'>;
  /** Interval of the writes, ms (default 1000). */
  flushMs?: number;
  /** The queue-mode awake window the store judges a wake-up by (TS 1.2 Core 6.5). */
  awakeWindowMs: number;
  /** A written sighting's registration is gone or replaced: the node forgets that peer. */
  onStale?(presence: Presence): void;
  /** A written sighting woke a sleeping queue-mode client (after it is stored: readers see it awake). */
  onWoke?(presence: Presence, silentMs: number): void;
  onError?(err: unknown): void;
}

export class PresenceBuffer {
  /** Sightings not written yet, by endpoint (the newest only). */
  private pending = new Map<string, Presence>();
  /** Sightings being written. */
  private writing = new Map<string, Presence>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  /** Presence writes asked of the store (sightings, not datagrams). */
  written = 0;

  constructor(private readonly opts: PresenceBufferOptions) {}

  record(presence: Presence): void {
    this.pending.set(presence.endpoint, presence);
  }

  /**
   * Records a sighting of `endpoint` on the datagram path: the pending (not yet written) sighting of the same
   * registration is updated in place, so a device speaking many times a second allocates one record a tick.
   */
  see(
    endpoint: string,
    registrationId: string,
    at: number,
    peer: Peer,
    gatewayNode: string | undefined,
  ): void {
    const p = this.pending.get(endpoint);
    if (p === undefined || p.registrationId !== registrationId) {
      this.pending.set(endpoint, {
        endpoint,
        registrationId,
        lastSeen: at,
        address: { address: peer.address, port: peer.port },
        session: sessionRefOf(peer),
        ...(gatewayNode !== undefined ? { gatewayNode } : {}),
      });
      return;
    }
    p.lastSeen = at;
    if (p.address.address !== peer.address || p.address.port !== peer.port) {
      p.address = { address: peer.address, port: peer.port };
    }
    // A DTLS peer brings its session's ref; a NoSec peer's is made anew only when its address changed.
    if (peer.ref !== undefined) p.session = peer.ref;
    else if (!sameAddressSession(p.session, peer)) p.session = sessionRefOf(peer);
    if (gatewayNode !== undefined) p.gatewayNode = gatewayNode;
  }

  /** The newest sighting of `endpoint` this node has not written yet. */
  latest(endpoint: string): Presence | undefined {
    return this.pending.get(endpoint) ?? this.writing.get(endpoint);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs ?? DEFAULT_PRESENCE_FLUSH_MS);
    this.timer.unref();
  }

  /** Stops the tick and writes what is pending. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes the pending sightings (one store call); a write already running is waited for first. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    this.writing = this.pending;
    this.pending = new Map();
    const batch = [...this.writing.values()];
    this.written += batch.length;
    this.flushing = this.opts.store
      .touch(batch, this.opts.awakeWindowMs)
      .then((results) => {
        results.forEach((r, i) => {
          if (!r.registered) this.opts.onStale?.(batch[i]!);
          else if (r.wokeAfterMs !== undefined) this.opts.onWoke?.(batch[i]!, r.wokeAfterMs);
        });
      })
      .catch((err: unknown) => {
        // Kept for the next tick unless newer sightings replaced them meanwhile.
        for (const p of batch) if (!this.pending.has(p.endpoint)) this.pending.set(p.endpoint, p);
        this.opts.onError?.(err);
      })
      .finally(() => {
        this.writing = new Map();
        this.flushing = undefined;
      });
    await this.flushing;
  }
}

/** The store as this node's readers see it: registrations with the presence it has not written yet. */
export function presenceAware(store: RegistrationStore, buffer: PresenceBuffer): RegistrationStore {
  const merge = (reg: Registration | undefined) => reg && withPresence(reg, buffer.latest(reg.endpoint));
  return {
    register: (reg, event) => store.register(reg, event),
    update: (id, patch, announce) => store.update(id, patch, announce),
    deregister: (id, event) => store.deregister(id, event),
    getById: async (id) => merge(await store.getById(id)),
    getByEndpoint: async (ep) => merge(await store.getByEndpoint(ep)),
    list: async (q) => {
      const page = await store.list(q);
      return { ...page, items: page.items.map((r) => merge(r)!) };
    },
    touch: (presence, awakeWindowMs) => store.touch(presence, awakeWindowMs),
    claimExpired: (now, max) => store.claimExpired(now, max),
    nextExpiry: () => store.nextExpiry(),
  };
}

function sameAddressSession(ref: SessionRef, peer: Peer): boolean {
  return (
    ref.kind === 'address' &&
    ref.address === peer.address &&
    ref.port === peer.port &&
    ref.secure === securedTransport(peer)
  );
}
