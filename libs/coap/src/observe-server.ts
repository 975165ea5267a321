// RFC 7641 sections 3.1, 4.1 and 4.2: the server's list of observers, keyed by (endpoint, token).
import type { IncomingRequest } from './exchange';

/** RFC 7641 section 4.4: Observe values are 24-bit. */
export const OBSERVE_SEQ_MODULO = 0x1000000;
/** RFC 7641 section 4.5: a notification is sent as CON at least every 24 hours. */
export const DEFAULT_CON_NOTIFICATION_INTERVAL_MS = 24 * 3600 * 1000;

export interface Observer {
  /** "<peerKey>#<token hex>" */
  key: string;
  peerKey: string;
  token: Buffer;
  /** Uri-Path joined by "/", without a leading slash: the resource observed. */
  resource: string;
  /** The registering request, re-run through the handler to produce a notification. */
  request: IncomingRequest;
  /** The next Observe value to send. */
  seq: number;
  lastConAt: number;
  /** Block2 SZX negotiated on registration (RFC 7959 section 2.3), if any. */
  szx?: number;
}

export function observerKey(peerKey: string, token: Buffer): string {
  return `${peerKey}#${token.toString('hex')}`;
}

export function resourceKey(path: readonly string[]): string {
  return path.join('/');
}

export class ObserverRegistry {
  private readonly byResource = new Map<string, Map<string, Observer>>();
  private readonly byKey = new Map<string, Observer>();

  constructor(private readonly maxObservers: number) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Observer | undefined {
    return this.byKey.get(key);
  }

  /**
   * Adds or replaces the entry for (peerKey, token) (RFC 7641 section 4.1: a matching entry is
   * replaced, not duplicated). Returns false when the registry is full (the GET is then served
   * without registration, also section 4.1).
   */
  add(obs: Observer): boolean {
    const existing = this.byKey.get(obs.key);
    if (existing !== undefined) {
      this.remove(obs.key);
      obs.seq = existing.seq;
    } else if (this.byKey.size >= this.maxObservers) {
      return false;
    }
    this.byKey.set(obs.key, obs);
    let m = this.byResource.get(obs.resource);
    if (m === undefined) this.byResource.set(obs.resource, (m = new Map()));
    m.set(obs.key, obs);
    return true;
  }

  remove(key: string): Observer | undefined {
    const obs = this.byKey.get(key);
    if (obs === undefined) return undefined;
    this.byKey.delete(key);
    const m = this.byResource.get(obs.resource);
    m?.delete(key);
    if (m?.size === 0) this.byResource.delete(obs.resource);
    return obs;
  }

  forResource(resource: string): Observer[] {
    return [...(this.byResource.get(resource)?.values() ?? [])];
  }

  all(): Observer[] {
    return [...this.byKey.values()];
  }

  /** Takes the current Observe value and advances it modulo 2^24 (RFC 7641 section 4.4). */
  nextSeq(obs: Observer): number {
    const v = obs.seq;
    obs.seq = (obs.seq + 1) % OBSERVE_SEQ_MODULO;
    return v;
  }

  clear(): void {
    this.byKey.clear();
    this.byResource.clear();
  }
}
