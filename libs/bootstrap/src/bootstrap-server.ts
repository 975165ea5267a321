// LwM2M TS 1.2 Core 6.1 (Bootstrap Interface) over CoAP (TS 1.2 Transport 6.1): the Bootstrap-Server.
// A client's Bootstrap-Request (POST /bs?ep=&pct=) is answered 2.04 Changed, or 4.00 Bad Request when no
// configuration names the endpoint; then this server drives the sequence of plan.ts towards the client
// (Bootstrap-Read, -Delete, -Discover, -Write, Bootstrap-Finish POST /bs, answered 2.04 or 4.06 / 5.00).
// Bootstrap-Pack-Request (1.2, GET /bspack?ep=) gets the whole configuration in one SenML CBOR body.
// Sessions live in a shared store under a lease: a node that takes a device's next Bootstrap-Request after
// the previous node died continues at the step it reached, with the same keys.
import { randomBytes, randomUUID } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import {
  CoapCode,
  type CoapEndpoint,
  type CoapResponse,
  encodeUint,
  formatCode,
  type IncomingRequest,
  OptionNumber,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import { SourceRateLimiter, sourceKey, type RateOptions } from '@lwm2m/dtls';
import {
  ContentFormat,
  defaultObjectModelRegistry,
  getCompositeCodec,
  getNodeCodec,
  Lwm2mPath,
  type ObjectModelRegistry,
} from '@lwm2m/lwm2m';
import { type CredentialStore, type EventBus, toJsonValues, x509EndpointIdentities } from '@lwm2m/server';
import { parseBootstrapQuery } from './bootstrap-request';
import { type BootstrapConfig, carriesSecrets, DEFAULT_CONFIG } from './config';
import {
  type BootstrapStep,
  chooseInstances,
  credentialOf,
  generatedKeys,
  issuedCertificates,
  issuesCertificates,
  packNodes,
  planSteps,
  stepName,
} from './plan';
import type { BootstrapConfigStore, BootstrapSession, BootstrapSessionStore } from './ports';
import type { X509Issuer } from './x509-issue';

export interface BootstrapLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

export interface BootstrapServerOptions {
  configs: BootstrapConfigStore;
  sessions: BootstrapSessionStore;
  /** The LwM2M server's credentials: the PSK written to a client is stored here for its endpoint. */
  credentials: CredentialStore;
  events: EventBus;
  /** This node's name in session leases. */
  nodeId: string;
  model?: ObjectModelRegistry;
  now?: () => number;
  logger?: BootstrapLogger;
  /** How long the client may take to answer one operation, ms (default 10 000). */
  requestTimeoutMs?: number;
  /**
   * A session's lease, ms (default 5 000): renewed at every step and, while the client takes its time, every
   * third of it; a node that can't renew it stops driving the session at once. Past it (a node killed),
   * another node continues the session on the client's next Bootstrap-Request.
   */
  leaseMs?: number;
  /** Bootstrap-Requests per source address (IPv4, IPv6 /64): default 1/s sustained, burst 5. */
  rate?: RateOptions;
  /** Sessions this node drives at once (default 1000); beyond, 5.03. */
  maxSessions?: number;
  /** Bytes of a generated PSK (default 16). */
  generatedKeyBytes?: number;
  /**
   * The LwM2M server's public key (SubjectPublicKeyInfo DER; the gateway's DTLS_KEY_FILE), written as /0/x/4 of
   * RPK accounts whose configuration names none.
   */
  lwm2mServerPublicKey?: Buffer;
  /** The LwM2M server's certificate (DER; the gateway's DTLS_CERT_FILE), written as /0/x/4 of X.509 accounts naming none. */
  lwm2mServerCertificate?: Buffer;
  /**
   * The CA that issues client certificates for X.509 accounts that name none (the gateway's DTLS_CA_FILE
   * certificate with DTLS_CA_KEY_FILE). Without it such a configuration is refused at the Bootstrap-Request.
   */
  x509Issuer?: X509Issuer;
}

export interface BootstrapCounters {
  requests: number;
  started: number;
  resumed: number;
  finished: number;
  failed: number;
  /** Failed sessions by the kind of step that failed: read, delete, discover, write, credentials, finish, start. */
  failedByStep: Record<string, number>;
  /** Refused: 4.29 (per-source rate), 4.00 unknown endpoint, bad request, or security rules; 5.03 busy. */
  rateLimited: number;
  unknownEndpoint: number;
  badRequest: number;
  insecure: number;
  busy: number;
  packs: number;
}

/** Content-Formats the writes may use (the client's pct when it is one of them, else TLV). */
const WRITE_FORMATS: readonly number[] = [
  ContentFormat.TLV,
  ContentFormat.SENML_CBOR,
  ContentFormat.SENML_JSON,
  ContentFormat.LWM2M_CBOR,
];
const PACK_FORMATS: readonly number[] = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON];

const silent: BootstrapLogger = { debug: () => undefined, warn: () => undefined };

/** Why a Bootstrap-Request is refused: the 4.00 diagnostic (never says whether a configuration exists). */
class Refusal extends Error {}

export class BootstrapServer {
  readonly counters: BootstrapCounters = {
    requests: 0,
    started: 0,
    resumed: 0,
    finished: 0,
    failed: 0,
    failedByStep: {},
    rateLimited: 0,
    unknownEndpoint: 0,
    badRequest: 0,
    insecure: 0,
    busy: 0,
    packs: 0,
  };
  private readonly opts: BootstrapServerOptions;
  private readonly log: BootstrapLogger;
  private readonly now: () => number;
  private readonly model: ObjectModelRegistry;
  private readonly limiter: SourceRateLimiter;
  private readonly leaseMs: number;
  /** Sessions this node drives, by endpoint. */
  private readonly running = new Map<string, Promise<void>>();
  private closed = false;

  constructor(opts: BootstrapServerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silent;
    this.now = opts.now ?? Date.now;
    this.model = opts.model ?? defaultObjectModelRegistry();
    this.limiter = new SourceRateLimiter(opts.rate ?? { perSecond: 1, burst: 5 }, this.now);
    this.leaseMs = opts.leaseMs ?? 5_000;
  }

  /** Serves /bs and /bspack on `coap` (one call per transport: NoSec and DTLS). */
  attach(coap: CoapEndpoint): void {
    coap.setHandler((req) => this.handle(req, coap));
    coap.setRequestBodyLimit(() => 0);
  }

  async handle(req: IncomingRequest, coap: CoapEndpoint): Promise<OutgoingResponse> {
    try {
      if (req.path.length === 1 && req.path[0] === 'bs' && req.code === CoapCode.POST)
        return await this.bootstrapRequest(req, coap);
      if (req.path.length === 1 && req.path[0] === 'bspack' && req.code === CoapCode.GET)
        return await this.packRequest(req);
      return { code: CoapCode.NOT_FOUND, payload: 'the Bootstrap-Server serves POST /bs and GET /bspack' };
    } catch (err) {
      this.log.warn('bootstrap: request failed', { peer: req.peerKey, error: String(err) });
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    }
  }

  /** Active sessions on this node. */
  get activeSessions(): number {
    return this.running.size;
  }

  /** Stops taking requests; the sessions in progress release their lease after their current step. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running.values()]);
  }

  // ------------------------------------------------------------ Bootstrap-Request

  private async bootstrapRequest(req: IncomingRequest, coap: CoapEndpoint): Promise<OutgoingResponse> {
    this.counters.requests++;
    if (this.closed) return { code: CoapCode.SERVICE_UNAVAILABLE };
    const admitted = await this.admit(req);
    if ('code' in admitted) return admitted;
    const { endpoint, config, usesDefault, contentFormat } = admitted;
    if (this.running.has(endpoint)) return { code: CoapCode.CHANGED }; // a retransmitted request: already on it
    if (this.running.size >= (this.opts.maxSessions ?? 1000)) {
      this.counters.busy++;
      return { code: CoapCode.SERVICE_UNAVAILABLE, options: [maxAge(5)] };
    }
    const now = this.now();
    const prev = await this.opts.sessions.get(endpoint);
    const lease = now + this.leaseMs;
    let session: BootstrapSession;
    // A running session whose node released it or went silent past its lease is continued where it stopped.
    const resumable =
      prev !== undefined &&
      prev.state === 'running' &&
      prev.usesDefault === usesDefault &&
      fitsInstances(config, prev) &&
      (prev.leaseUntil <= now || prev.node === this.opts.nodeId);
    if (resumable) {
      session = { ...prev, node: this.opts.nodeId, leaseUntil: lease, updatedAt: now };
    } else {
      const keys = generatedKeys(config, this.opts.generatedKeyBytes ?? 16, randomBytes);
      session = {
        id: randomUUID(),
        endpoint,
        state: 'running',
        node: this.opts.nodeId,
        leaseUntil: lease,
        step: 0,
        startedAt: now,
        updatedAt: now,
        contentFormat,
        usesDefault,
        keys,
        ...this.certificatesFor(config, endpoint, keys),
      };
    }
    const claim = await this.opts.sessions.claim(session, now);
    // Another node drives this client's bootstrap under a live lease: it goes on there.
    if (!claim.ok) return { code: CoapCode.CHANGED };
    if (resumable) this.counters.resumed++;
    else this.counters.started++;
    await this.publish({
      type: 'bootstrap-started',
      endpoint,
      sessionId: session.id,
      node: this.opts.nodeId,
      ...(resumable ? { resumedAt: this.stepAt(config, session) } : {}),
    });
    const peer: Peer = req.peer;
    // TS 1.2 Core 6.1.3: the 2.04 goes first; the server's operations follow it.
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(session, config, peer, coap))
      .finally(() => this.running.delete(endpoint));
    this.running.set(endpoint, run);
    return { code: CoapCode.CHANGED };
  }

  /**
   * Who may bootstrap as `ep`, and with which configuration. NoSec clients: only for a configuration that
   * names no bootstrap credential and writes no key (unless allowNoSec). DTLS clients: their authenticated
   * identity must be the configuration's bootstrapPsk (or an X.509 certificate naming the endpoint).
   */
  private async admit(
    req: IncomingRequest,
  ): Promise<
    | OutgoingResponse
    | { endpoint: string; config: BootstrapConfig; usesDefault: boolean; contentFormat: number }
  > {
    if (!this.limiter.take(sourceKey(req.peer.address))) {
      this.counters.rateLimited++;
      // RFC 8516: 4.29 with Max-Age saying when to come back.
      return { code: CoapCode.TOO_MANY_REQUESTS, options: [maxAge(5)] };
    }
    let endpoint: string;
    let pct: number | undefined;
    try {
      const p = parseBootstrapQuery(req.query);
      endpoint = p.endpoint;
      pct = p.preferredContentFormat;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counters.badRequest++;
      return { code: CoapCode.BAD_REQUEST, payload: err.message };
    }
    const own = await this.opts.configs.get(endpoint);
    const config = own ?? (await this.opts.configs.get(DEFAULT_CONFIG));
    if (config === undefined) {
      this.counters.unknownEndpoint++;
      // TS 1.1 Transport Table 6.1: 4.00 Bad Request, "Unknown Endpoint Client Name".
      return { code: CoapCode.BAD_REQUEST, payload: 'unknown Endpoint Client Name' };
    }
    try {
      await this.checkSecurity(req, endpoint, config, own === undefined);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.counters.insecure++;
      this.log.debug('bootstrap: request refused', { peer: req.peerKey, endpoint, reason: err.message });
      return { code: CoapCode.BAD_REQUEST, payload: 'unknown Endpoint Client Name' };
    }
    if (issuesCertificates(config) && this.opts.x509Issuer === undefined) {
      this.log.warn('bootstrap: an X.509 account needs a certificate issued, and no CA key is set', {
        endpoint,
      });
      return { code: CoapCode.INTERNAL_SERVER_ERROR, payload: 'no CA to issue the client certificate' };
    }
    const contentFormat =
      pct !== undefined && WRITE_FORMATS.includes(pct) && getNodeCodec(pct) ? pct : ContentFormat.TLV;
    return { endpoint, config: this.withServerKey(config), usesDefault: own === undefined, contentFormat };
  }

  /**
   * RPK accounts without a server public key get the LwM2M server's own (lwm2mServerPublicKey), X.509 ones
   * without a server certificate its certificate (lwm2mServerCertificate).
   */
  private withServerKey(config: BootstrapConfig): BootstrapConfig {
    const key = this.opts.lwm2mServerPublicKey;
    const cert = this.opts.lwm2mServerCertificate;
    if (key === undefined && cert === undefined) return config;
    return {
      ...config,
      servers: config.servers.map((s) =>
        key !== undefined && s.security === 'rpk' && s.rpk?.serverPublicKey === undefined
          ? { ...s, rpk: { ...s.rpk, serverPublicKey: key } }
          : cert !== undefined && s.security === 'x509' && s.x509?.serverCertificate === undefined
            ? { ...s, x509: { ...s.x509, serverCertificate: cert } }
            : s,
      ),
    };
  }

  /** Client certificates issued for a new session's X.509 accounts that name none (admit checked the issuer). */
  private certificatesFor(
    config: BootstrapConfig,
    endpoint: string,
    keys: Record<number, Buffer>,
  ): { certificates?: Record<number, string> } {
    const issuer = this.opts.x509Issuer;
    if (issuer === undefined || !issuesCertificates(config)) return {};
    return { certificates: issuedCertificates(config, endpoint, keys, issuer) };
  }

  private async checkSecurity(
    req: IncomingRequest,
    endpoint: string,
    config: BootstrapConfig,
    usesDefault: boolean,
  ): Promise<void> {
    const id = req.peer.identity;
    if (id === undefined) {
      if (config.bootstrapPsk !== undefined) throw new Refusal('this endpoint bootstraps over DTLS');
      if (config.bootstrapOscore !== undefined) throw new Refusal('this endpoint bootstraps over OSCORE');
      if (carriesSecrets(config) && config.allowNoSec !== true)
        throw new Refusal('the configuration holds a PSK and does not allow NoSec');
    } else if (id.type === 'psk') {
      const owner = await this.opts.configs.bootstrapPskByIdentity(id.identity);
      const ok =
        owner !== undefined &&
        (owner.endpoint === endpoint || (usesDefault && owner.endpoint === DEFAULT_CONFIG));
      if (!ok) throw new Refusal('the PSK identity is not this endpoint bootstrap credential');
    } else if (id.type === 'x509') {
      let names: string[] = [];
      try {
        names = x509EndpointIdentities(id.certificate);
      } catch {
        names = [];
      }
      if (!names.includes(endpoint)) throw new Refusal('the certificate does not name this endpoint');
    } else if (id.type === 'oscore') {
      // The kid's context is this endpoint's own bootstrapOscore (never the default configuration's: one
      // context shared by many clients would reuse nonces, RFC 8613 Appendix D.4), as the configuration is
      // now: a context cached before a replace or removal no longer admits.
      const own = config.bootstrapOscore;
      if (
        id.endpoint !== endpoint ||
        usesDefault ||
        own === undefined ||
        (id.kid !== undefined && !own.recipientId.equals(id.kid))
      )
        throw new Refusal('the OSCORE context is not this endpoint bootstrap credential');
    } else {
      throw new Refusal('raw public keys are not bound to bootstrap endpoints');
    }
    // The default configuration provisions new endpoints only: replacing a provisioned device's LwM2M
    // credential would hand its identity to whoever asked first.
    if (usesDefault && carriesSecrets(config) && (await this.opts.credentials.get(endpoint)) !== undefined)
      throw new Refusal('the endpoint has a credential; the default configuration does not replace it');
  }

  // ------------------------------------------------------------ the sequence

  private async run(session: BootstrapSession, config: BootstrapConfig, peer: Peer, coap: CoapEndpoint) {
    let step: BootstrapStep | undefined;
    const lease = this.keepLease(session);
    try {
      for (;;) {
        if (lease.lost()) return;
        if (this.closed) {
          // Handed over: the next Bootstrap-Request, on any node, continues at session.step.
          session.leaseUntil = 0;
          await this.opts.sessions.save(session);
          return;
        }
        const steps = planSteps(config, session);
        step = steps[session.step];
        if (step === undefined) break;
        const problem = await this.perform(step, session, config, peer, coap, lease.signal);
        // The lease went while the client answered: another node may drive the session now; its outcome
        // is that node's to record.
        if (lease.lost()) return;
        if (problem !== undefined) return await this.fail(session, stepName(step), problem);
        session.step++;
        session.updatedAt = this.now();
        session.leaseUntil = session.updatedAt + this.leaseMs;
        if (!(await this.opts.sessions.save(session))) {
          this.log.debug('bootstrap: session taken over by another node', { endpoint: session.endpoint });
          return;
        }
      }
      session.state = 'finished';
      session.leaseUntil = 0;
      await this.opts.sessions.save(session);
      this.counters.finished++;
      await this.publish({
        type: 'bootstrap-finished',
        endpoint: session.endpoint,
        sessionId: session.id,
        servers: config.servers.length,
      });
    } catch (err) {
      if (lease.lost()) return;
      await this.fail(session, step ? stepName(step) : 'start', String(err)).catch(() => undefined);
    } finally {
      lease.stop();
    }
  }

  /**
   * Renews `session`'s lease every third of leaseMs while the node waits for the client (a slow link, CoAP
   * retransmissions). When a renewal is refused (another node took the session over), fails, or comes too
   * late (the lease is past), the lease is lost: the operation in flight is aborted and the node stops
   * driving the session, so two nodes never send a client operations of one session at once.
   */
  private keepLease(session: BootstrapSession): { signal: AbortSignal; lost(): boolean; stop(): void } {
    const ctl = new AbortController();
    let renewing = false;
    const lose = (why: string) => {
      if (ctl.signal.aborted) return;
      this.log.debug('bootstrap: lease lost', { endpoint: session.endpoint, why });
      ctl.abort(new Error(`lease lost: ${why}`));
    };
    const every = Math.max(50, Math.floor(this.leaseMs / 3));
    const timer = setInterval(() => {
      // Finished, failed or handed over (lease 0): nothing to keep.
      if (session.state !== 'running' || session.leaseUntil === 0) return;
      // Two renewals missed: stop a tick before the lease ends, before another node may claim it.
      if (this.now() >= session.leaseUntil - every) return lose('not renewed in time');
      if (renewing) return;
      renewing = true;
      const until = this.now() + this.leaseMs;
      this.opts.sessions
        .save({ ...session, leaseUntil: until })
        .then((ok) => {
          if (!ok) return lose('taken over by another node');
          session.leaseUntil = Math.max(session.leaseUntil, until);
        })
        .catch((err: unknown) => lose(String(err)))
        .finally(() => (renewing = false));
    }, every);
    timer.unref();
    return {
      signal: ctl.signal,
      lost: () => ctl.signal.aborted,
      stop: () => clearInterval(timer),
    };
  }

  /** Runs one step; undefined on success, else why it failed (no key material). */
  private async perform(
    step: BootstrapStep,
    session: BootstrapSession,
    config: BootstrapConfig,
    peer: Peer,
    coap: CoapEndpoint,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const cf = session.contentFormat;
    const ask = (req: Parameters<BootstrapServer['ask']>[2]) => this.ask(coap, peer, req, signal);
    switch (step.kind) {
      case 'read': {
        // TS 1.1 Core 5.2.7.2 Bootstrap-Read: objects 1 and 2 only.
        const res = await ask({ code: CoapCode.GET, path: step.path, accept: cf });
        if (res.code !== CoapCode.CONTENT) return answered(res);
        const path = Lwm2mPath.parse(step.path);
        const codec = getNodeCodec(res.contentFormat ?? cf);
        if (!codec) return `the client answered in unsupported Content-Format ${res.contentFormat}`;
        try {
          session.read = {
            ...session.read,
            [step.path]: toJsonValues(codec.decode(res.payload, path, this.model), path),
          };
        } catch (err) {
          return `undecodable Bootstrap-Read answer: ${(err as Error).message}`;
        }
        return undefined;
      }
      case 'delete': {
        const res = await ask({ code: CoapCode.DELETE, path: step.path });
        return res.code === CoapCode.DELETED ? undefined : answered(res);
      }
      case 'discover': {
        const res = await ask({
          code: CoapCode.GET,
          path: step.path,
          accept: ContentFormat.LINK,
        });
        // A client without Bootstrap-Discover keeps its Bootstrap-Server account at /0/0, most often.
        const links =
          res.code === CoapCode.CONTENT ? res.payload.toString('utf8').slice(0, 16_384) : '</0/0>';
        if (res.code === CoapCode.CONTENT) session.discovered = links;
        session.instances = chooseInstances(config, links);
        return undefined;
      }
      case 'write': {
        const path = Lwm2mPath.parse(step.path);
        const codec = getNodeCodec(cf)!;
        const payload = codec.encode(step.node, path, this.model);
        const res = await ask({
          code: CoapCode.PUT,
          path: step.path,
          contentFormat: cf,
          payload,
        });
        return res.code === CoapCode.CHANGED ? undefined : answered(res);
      }
      case 'credentials':
        return this.storeCredential(config, session);
      case 'finish': {
        const res = await ask({ code: CoapCode.POST, path: 'bs' });
        // TS 1.2 Core 6.1.7.x: 4.06 Not Acceptable (inconsistent configuration) or 5.00 end the bootstrap failed.
        return res.code === CoapCode.CHANGED ? undefined : answered(res);
      }
    }
  }

  /**
   * The first secured account's credential becomes the endpoint's LwM2M credential (what the LwM2M server
   * accepts: the DTLS PSK or RPK lookup, the X.509 identity value, or the OSCORE context of the device's kid).
   */
  private async storeCredential(
    config: BootstrapConfig,
    session: BootstrapSession,
  ): Promise<string | undefined> {
    const credential = credentialOf(config, session.endpoint, session.keys, session.certificates);
    if (credential === undefined) return 'no PSK, public key, certificate or OSCORE context to store';
    try {
      await this.opts.credentials.put(session.endpoint, credential);
    } catch (err) {
      return `the credential was not stored: ${(err as Error).message}`;
    }
    return undefined;
  }

  private async ask(
    coap: CoapEndpoint,
    peer: Peer,
    req: { code: number; path: string; accept?: number; contentFormat?: number; payload?: Buffer },
    lease: AbortSignal,
  ): Promise<CoapResponse> {
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    return coap.request(
      peer,
      { ...req, path: req.path === '/' ? [] : req.path.split('/').filter((s) => s.length > 0) },
      { timeout, signal: AbortSignal.any([lease, AbortSignal.timeout(timeout)]) },
    );
  }

  private async fail(session: BootstrapSession, step: string, error: string): Promise<void> {
    session.state = 'failed';
    session.failedStep = step;
    session.error = error.slice(0, 200);
    session.leaseUntil = 0;
    await this.opts.sessions.save(session);
    this.counters.failed++;
    // The kind only ("write", not "write /0/1"): a bounded label set.
    const kind = step.split(' ')[0]!;
    this.counters.failedByStep[kind] = (this.counters.failedByStep[kind] ?? 0) + 1;
    this.log.debug('bootstrap: failed', { endpoint: session.endpoint, step, error: session.error });
    await this.publish({
      type: 'bootstrap-failed',
      endpoint: session.endpoint,
      sessionId: session.id,
      step,
      error: session.error,
    });
  }

  private stepAt(config: BootstrapConfig, session: BootstrapSession): string {
    const s = planSteps(config, session)[session.step];
    return s ? stepName(s) : 'finish';
  }

  // ------------------------------------------------------------ Bootstrap-Pack-Request (1.2)

  /**
   * TS 1.2 Core 6.1.8 / Transport 6.1: GET /bspack?ep= answered 2.05 with every instance the sequence would
   * write (SenML CBOR unless the client asks for SenML JSON); the credential is stored as for Finish.
   */
  private async packRequest(req: IncomingRequest): Promise<OutgoingResponse> {
    this.counters.requests++;
    const admitted = await this.admit(req);
    if ('code' in admitted) return admitted;
    const { endpoint, config, usesDefault } = admitted;
    const cf = req.accept ?? ContentFormat.SENML_CBOR;
    if (!PACK_FORMATS.includes(cf)) return { code: CoapCode.NOT_ACCEPTABLE };
    const now = this.now();
    const keys = generatedKeys(config, this.opts.generatedKeyBytes ?? 16, randomBytes);
    const session: BootstrapSession = {
      ...this.certificatesFor(config, endpoint, keys),
      id: randomUUID(),
      endpoint,
      state: 'running',
      node: this.opts.nodeId,
      leaseUntil: now + this.leaseMs,
      step: 0,
      startedAt: now,
      updatedAt: now,
      contentFormat: cf,
      usesDefault,
      keys,
      // The pack replaces the client's configuration; its Bootstrap-Server account keeps /0/0 (and /21/0
      // for its OSCORE context).
      instances: chooseInstances(config, config.bootstrapOscore ? '</0/0>,</21/0>' : '</0/0>'),
    };
    if (!(await this.opts.sessions.claim(session, now)).ok) return { code: CoapCode.SERVICE_UNAVAILABLE };
    this.counters.packs++;
    await this.publish({
      type: 'bootstrap-started',
      endpoint,
      sessionId: session.id,
      node: this.opts.nodeId,
    });
    const nodes = packNodes(config, session).map((node) => ({ path: new Lwm2mPath(node.id), node }));
    const payload = getCompositeCodec(cf)!.encodeComposite(nodes, this.model);
    if (carriesSecrets(config)) {
      const problem = await this.storeCredential(config, session);
      if (problem !== undefined) {
        await this.fail(session, 'credentials', problem);
        return { code: CoapCode.INTERNAL_SERVER_ERROR };
      }
    }
    session.state = 'finished';
    session.leaseUntil = 0;
    await this.opts.sessions.save(session);
    this.counters.finished++;
    await this.publish({
      type: 'bootstrap-finished',
      endpoint,
      sessionId: session.id,
      servers: config.servers.length,
    });
    return { code: CoapCode.CONTENT, contentFormat: cf, payload };
  }

  private async publish(event: Parameters<EventBus['publish']>[0]): Promise<void> {
    await this.opts.events
      .publish(event)
      .catch((err: unknown) => this.log.warn('bootstrap: event not published', { error: String(err) }));
  }
}

/** A session's chosen instance ids still cover the configuration (an operator may have changed it meanwhile). */
function fitsInstances(config: BootstrapConfig, session: BootstrapSession): boolean {
  const ids = session.instances;
  if (ids === undefined) return true;
  return (
    config.servers.every(
      (s) =>
        ids.security[s.shortServerId] !== undefined &&
        ids.server[s.shortServerId] !== undefined &&
        (s.security !== 'oscore' || ids.oscore?.[s.shortServerId] !== undefined),
    ) && ids.acl.length === (config.acls ?? []).length
  );
}

function maxAge(seconds: number) {
  return { number: OptionNumber.MAX_AGE, value: encodeUint(seconds) };
}

/** An unexpected answer as an error text: code and a short diagnostic payload. */
function answered(res: CoapResponse): string {
  const diag = res.payload.length > 0 && res.payload.length <= 128 ? `: ${res.payload.toString('utf8')}` : '';
  return `the client answered ${formatCode(res.code)}${diag}`;
}
