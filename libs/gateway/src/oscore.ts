// LwM2M over OSCORE (RFC 8613; LwM2M TS 1.2 Transport 5.2.9 with object 21): the gateway's OSCORE seam,
// with the Security Contexts built from the credential store's {oscore} credentials. A context is looked up
// by the kid of a request (the device's Sender ID) once and kept in memory: no Redis read per datagram. It
// is re-read in the background when older than `refreshMs` (a replaced or removed credential takes effect
// then), a kid nobody holds is remembered as unknown for as long, and a flood of unknown kids costs at most
// one read per kid per `refreshMs`.
//
// Nonces: every context's Sender Sequence Numbers come from leases in the SequenceLeaseStore (Redis:
// INCRBY of the lease end), so a restart or another node never reuses one (section 7.5, Appendix B.1.1).
// Replay: a context loaded by this process starts with an unknown replay window, so the device's first
// request is answered with the protected 4.01 carrying Echo, and the Partial IV of the request that returns
// it sets the window (Appendix B.1.2): a request recorded before a restart can't be replayed after it.
import { createHash } from 'node:crypto';
import type { Peer } from '@lwm2m/coap';
import {
  AeadAlgorithms,
  type AeadAlgorithm,
  leasedSequence,
  OscoreSeam,
  RecipientReplay,
  type ResolvedContext,
  SecurityContext,
  type SequenceLeaseStore,
} from '@lwm2m/oscore';
import type { CredentialStore, OscoreCredential } from '@lwm2m/server';

export interface GatewayOscoreOptions {
  /**
   * Where contexts come from: the credential store (the LwM2M server), or the bootstrap configurations'
   * bootstrapOscore (the Bootstrap-Server's NoSec port).
   */
  credentials: Pick<CredentialStore, 'oscoreByKid' | 'oscoreOf'>;
  /** Prefix of the sequence lease series, so two sources' contexts of one endpoint never share one. */
  sequencePrefix?: string;
  sequences: SequenceLeaseStore;
  /** How long a context (or a kid's absence) is trusted before it is read again. Default 5 s. */
  refreshMs?: number;
  /** Sender Sequence Numbers reserved per lease (K of Appendix B.1.1). Default 1000. */
  leaseBlock?: number;
  warn?: (message: string, context?: Record<string, unknown>) => void;
  now?: () => number;
}

interface Entry extends ResolvedContext {
  owner: string;
  /** Hash of the credential (secret included): a changed credential gets a new context. */
  fingerprint: string;
  loadedAt: number;
}

const MAX_UNKNOWN = 10_000;

function aeadById(id: number | undefined): AeadAlgorithm {
  if (id === undefined) return AeadAlgorithms.AES_CCM_16_64_128;
  const found = Object.values(AeadAlgorithms).find((a) => a.id === id);
  if (found === undefined) throw new RangeError(`unknown OSCORE AEAD ${id}`);
  return found;
}

function fingerprint(endpoint: string, c: OscoreCredential): string {
  const h = createHash('sha256');
  for (const part of [
    endpoint,
    c.masterSecret,
    c.masterSalt ?? '',
    c.senderId,
    c.recipientId,
    c.idContext ?? '-',
    String(c.aead ?? ''),
    c.hkdf ?? '',
  ]) {
    const b = Buffer.isBuffer(part) ? part : Buffer.from(part, 'utf8');
    h.update(`${b.length}:`).update(b);
  }
  return h.digest('hex');
}

/** The in-memory contexts of OSCORE devices, by kid and by endpoint. */
export class OscoreContexts {
  private readonly byKid = new Map<string, Entry>();
  private readonly byEndpoint = new Map<string, Entry>();
  private readonly unknown = new Map<string, number>();
  private readonly loading = new Map<string, Promise<Entry | undefined>>();
  private readonly refreshMs: number;
  private readonly now: () => number;
  readonly counters = { loads: 0, loadErrors: 0, unknownKids: 0 };

  constructor(private readonly opts: GatewayOscoreOptions) {
    this.refreshMs = opts.refreshMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Section 8.2 step 2: the context of a kid, from memory; a promise on a miss (one store read). */
  lookup(kid: Buffer): Entry | undefined | Promise<Entry | undefined> {
    const k = kid.toString('hex');
    const hit = this.byKid.get(k);
    const now = this.now();
    if (hit !== undefined) {
      if (now - hit.loadedAt > this.refreshMs)
        void this.load(k, () => this.opts.credentials.oscoreByKid(kid));
      return hit;
    }
    const until = this.unknown.get(k);
    if (until !== undefined && until > now) {
      this.counters.unknownKids++;
      return undefined;
    }
    return this.load(k, () => this.opts.credentials.oscoreByKid(kid));
  }

  /** The context of a registered endpoint (our requests to it), from memory. */
  ofEndpoint(endpoint: string): SecurityContext | undefined {
    const e = this.byEndpoint.get(endpoint);
    if (e !== undefined && this.now() - e.loadedAt > this.refreshMs) void this.prepare(endpoint);
    return e?.context;
  }

  /** Loads an endpoint's context when it is not in memory (before a command to the device). */
  async prepare(endpoint: string): Promise<void> {
    const e = this.byEndpoint.get(endpoint);
    if (e !== undefined && this.now() - e.loadedAt <= this.refreshMs) return;
    // An endpoint without OSCORE costs one read per refresh period, not one per command.
    const until = this.unknown.get(`ep:${endpoint}`);
    if (e === undefined && until !== undefined && until > this.now()) return;
    await this.load(`ep:${endpoint}`, async () => {
      const oscore = await this.opts.credentials.oscoreOf(endpoint);
      return oscore === undefined ? undefined : { endpoint, oscore };
    });
  }

  private load(
    key: string,
    read: () => Promise<{ endpoint: string; oscore: OscoreCredential } | undefined>,
  ): Promise<Entry | undefined> {
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const p = (async () => {
      this.counters.loads++;
      try {
        const found = await read();
        return found === undefined ? this.forget(key) : await this.install(found.endpoint, found.oscore);
      } catch (err) {
        // A store outage: the cached context (if any) keeps serving; a miss answers 4.01 this time.
        this.counters.loadErrors++;
        this.opts.warn?.('oscore: context lookup failed', { error: String(err) });
        return key.startsWith('ep:') ? undefined : this.byKid.get(key);
      } finally {
        this.loading.delete(key);
      }
    })();
    this.loading.set(key, p);
    return p;
  }

  private forget(key: string): undefined {
    const e = key.startsWith('ep:') ? this.byEndpoint.get(key.slice(3)) : this.byKid.get(key);
    if (e !== undefined) this.drop(e);
    if (this.unknown.size >= MAX_UNKNOWN) this.unknown.clear();
    this.unknown.set(key, this.now() + this.refreshMs);
    return undefined;
  }

  private drop(e: Entry): void {
    const k = e.context.recipientId.toString('hex');
    if (this.byKid.get(k) === e) this.byKid.delete(k);
    if (this.byEndpoint.get(e.owner) === e) this.byEndpoint.delete(e.owner);
  }

  private async install(endpoint: string, c: OscoreCredential): Promise<Entry> {
    const fp = fingerprint(endpoint, c);
    const current = this.byEndpoint.get(endpoint);
    if (current !== undefined && current.fingerprint === fp) {
      current.loadedAt = this.now();
      return current;
    }
    const senderId = c.senderId.toString('hex');
    const sequence = await leasedSequence({
      store: this.opts.sequences,
      // One lease series per endpoint and Sender ID (and ID Context): a replaced key continues above.
      contextKey: `${this.opts.sequencePrefix ?? ''}${endpoint}:${senderId}:${c.idContext?.toString('hex') ?? ''}`,
      block: this.opts.leaseBlock ?? 1000,
      onError: (err) => this.opts.warn?.('oscore: sequence lease failed', { error: String(err) }),
    });
    const context = new SecurityContext(
      {
        masterSecret: c.masterSecret,
        senderId: c.senderId,
        recipientId: c.recipientId,
        ...(c.masterSalt !== undefined ? { masterSalt: c.masterSalt } : {}),
        ...(c.idContext !== undefined ? { idContext: c.idContext } : {}),
        aead: aeadById(c.aead),
        hkdf: c.hkdf ?? 'sha256',
      },
      // Appendix B.1.2: this process never saw the device's Partial IVs; Echo sets the window.
      { sequence, replay: RecipientReplay.unknown() },
    );
    // Another install may have raced this one: the newest wins, the old entry's indexes go.
    const raced = this.byEndpoint.get(endpoint);
    if (raced !== undefined && raced.fingerprint === fp) return raced;
    if (raced !== undefined) this.drop(raced);
    const previousOfKid = this.byKid.get(c.recipientId.toString('hex'));
    if (previousOfKid !== undefined) this.drop(previousOfKid);
    const entry: Entry = { context, owner: endpoint, fingerprint: fp, loadedAt: this.now() };
    this.byKid.set(c.recipientId.toString('hex'), entry);
    this.byEndpoint.set(endpoint, entry);
    this.unknown.delete(c.recipientId.toString('hex'));
    this.unknown.delete(`ep:${endpoint}`);
    return entry;
  }

  get size(): number {
    return this.byEndpoint.size;
  }
}

/** The gateway's seam: OSCORE requests verified with the contexts, NoSec ones passed up as before. */
export function createGatewayOscoreSeam(contexts: OscoreContexts): OscoreSeam {
  return new OscoreSeam({
    lookup: (kid) => contexts.lookup(kid),
    contextFor: ({ peer }) => {
      if (peer.identity?.type !== 'oscore') return undefined;
      const ctx = contexts.ofEndpoint(peer.identity.endpoint);
      if (ctx === undefined) {
        void contexts.prepare(peer.identity.endpoint);
        throw new Error(`no OSCORE context for "${peer.identity.endpoint.slice(0, 64)}" (loading it)`);
      }
      return ctx;
    },
    // The request's peer carries who it proved to be: the registration binds it as for a PSK identity.
    // OSCORE inside DTLS is verified, but the DTLS identity stays the one that binds (not supported yet).
    authenticated: (from: Peer, kid, resolved) =>
      from.identity !== undefined
        ? from
        : { ...from, identity: { type: 'oscore', kid: Buffer.from(kid), endpoint: resolved.owner! } },
    acceptUnprotected: true,
  });
}
