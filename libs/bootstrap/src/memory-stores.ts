// In-memory twins of the bootstrap stores (unit tests, memory mode); same contract as the Redis ones.
import type { BootstrapConfig, BootstrapOscore } from './config';
import type { BootstrapConfigStore, BootstrapSession, BootstrapSessionStore } from './ports';

export class InMemoryBootstrapConfigStore implements BootstrapConfigStore {
  private readonly configs = new Map<string, BootstrapConfig>();

  async put(endpoint: string, config: BootstrapConfig): Promise<void> {
    const id = config.bootstrapPsk?.identity;
    const kid = config.bootstrapOscore?.recipientId;
    for (const [ep, c] of this.configs) {
      if (ep === endpoint) continue;
      if (id !== undefined && c.bootstrapPsk?.identity === id) throw new BootstrapIdentityConflictError();
      if (kid !== undefined && c.bootstrapOscore?.recipientId.equals(kid) === true)
        throw new BootstrapIdentityConflictError();
    }
    this.configs.set(endpoint, clone(config));
  }

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    const c = this.configs.get(endpoint);
    return c && clone(c);
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.configs.delete(endpoint);
  }

  async bootstrapPskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined> {
    for (const [endpoint, c] of this.configs) {
      if (c.bootstrapPsk?.identity === identity) return { endpoint, key: Buffer.from(c.bootstrapPsk.key) };
    }
    return undefined;
  }

  async bootstrapOscoreByKid(
    kid: Buffer,
  ): Promise<{ endpoint: string; oscore: BootstrapOscore } | undefined> {
    for (const [endpoint, c] of this.configs) {
      if (c.bootstrapOscore?.recipientId.equals(kid) === true)
        return { endpoint, oscore: clone(c.bootstrapOscore) };
    }
    return undefined;
  }
}

/**
 * Two configurations can't share a bootstrap PSK identity or bootstrap OSCORE kid (the DTLS or OSCORE lookup
 * must name one endpoint).
 */
export class BootstrapIdentityConflictError extends Error {
  constructor() {
    super('this bootstrapPsk identity or bootstrapOscore recipientId belongs to another endpoint');
    this.name = 'BootstrapIdentityConflictError';
  }
}

export class InMemoryBootstrapSessionStore implements BootstrapSessionStore {
  private readonly sessions = new Map<string, BootstrapSession>();

  async get(endpoint: string): Promise<BootstrapSession | undefined> {
    const s = this.sessions.get(endpoint);
    return s && clone(s);
  }

  async claim(
    session: BootstrapSession,
    now: number,
  ): Promise<{ ok: true } | { ok: false; holder: BootstrapSession }> {
    const cur = this.sessions.get(session.endpoint);
    if (cur !== undefined && holds(cur, session, now)) return { ok: false, holder: clone(cur) };
    this.sessions.set(session.endpoint, clone(session));
    return { ok: true };
  }

  async save(session: BootstrapSession): Promise<boolean> {
    const cur = this.sessions.get(session.endpoint);
    if (cur === undefined || cur.id !== session.id || cur.node !== session.node) return false;
    this.sessions.set(session.endpoint, clone(session));
    return true;
  }
}

/** Whether `cur` keeps `next` from being claimed: another node runs it under a live lease. */
export function holds(cur: BootstrapSession, next: BootstrapSession, now: number): boolean {
  return cur.state === 'running' && cur.node !== next.node && cur.leaseUntil > now;
}

/** A deep copy that keeps Buffers Buffers (structuredClone makes them Uint8Arrays). */
function clone<T>(v: T): T {
  if (Buffer.isBuffer(v)) return Buffer.from(v) as T;
  if (Array.isArray(v)) return v.map(clone) as T;
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = clone(x);
    return out as T;
  }
  return v;
}
