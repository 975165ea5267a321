// LwM2M TS 1.2 Core section 6 / Transport section 6.4: the LwM2M server composed from its parts: the
// registration interface (/rd), Send (/dp), device operations, observations and lifetime expiry, over one
// CoapEndpoint and the shared stores. Framework-free: the gateway app wires it to UDP, Redis and the bus.
import {
  CoapCode,
  type CoapEndpoint,
  type EchoGuard,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import { formatSessionRef } from '@lwm2m/transport';
import { defaultObjectModelRegistry, type ObjectModelRegistry } from '@lwm2m/lwm2m';
import type { DeviceCommand, DeviceCommandResult } from './commands';
import { type CommandDeps, deliverNotification, runDeviceCommand } from './command-handler';
import { DeviceClient } from './device-client';
import { describeIdentity, type SecurityPolicy } from './credential-binding';
import type { X509EndpointFrom } from './security';
import { ExpiryWorker } from './expiry';
import type {
  CredentialStore,
  EventBus,
  Observation,
  ObservationStore,
  RegistrationStore,
  ValueStore,
} from './ports';
import type { Registration } from './registration';
import type { Lwm2mEvent } from './events';
import {
  DEFAULT_REGISTRATION_LIMITS,
  RegistrationHandler,
  type RegistrationLimits,
  refuse,
} from './registration-handler';
import { DEFAULT_AWAKE_WINDOW_MS, type DeliveryLedger } from './queued-delivery';
import { SendHandler } from './send-handler';
import { DEFAULT_PRESENCE_FLUSH_MS, PresenceBuffer, presenceAware } from './presence';

export interface Lwm2mServerLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

export interface Lwm2mServerOptions {
  endpoint: CoapEndpoint;
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  model?: ObjectModelRegistry;
  now?: () => number;
  logger?: Lwm2mServerLogger;
  nodeId?: string;
  /** Device answer timeout when a command gives none, ms (default 10 000). */
  defaultTimeoutMs?: number;
  /** Expiry poll interval, ms (default 200). */
  expiryPollMs?: number;
  limits?: Partial<RegistrationLimits>;
  /** Install handleRequest as the endpoint's handler (default true). */
  attachHandler?: boolean;
  security?: Registration['security'];
  /** Security credentials: a secured peer may only register as the endpoint of its credential. */
  credentials?: CredentialStore;
  /** Bound of the local peer -> endpoint index used to attribute Send and uplinks (default 100 000). */
  maxPeers?: number;
  /** Queued requests (scheduler): fences and records their delivery attempts. */
  deliveries?: DeliveryLedger;
  /** A queue-mode client silent longer than this is asleep; its next uplink publishes 'awake' (default 93 s). */
  awakeWindowMs?: number;
  /** Observations one device may have; Observe beyond it answers 409 (default 64, MAX_OBSERVATIONS_PER_DEVICE). */
  maxObservationsPerDevice?: number;
  /** SECURITY_POLICY: NoSec for endpoints without a credential (allow-nosec, default) or for none. */
  securityPolicy?: SecurityPolicy;
  /** Which certificate field names the endpoint of an X.509 client (X509_ENDPOINT_FROM, default auto). */
  x509EndpointFrom?: X509EndpointFrom;
  /**
   * RFC 9175 section 2.4: NoSec peers prove their address with an Echo round trip before a Register or the
   * first block of an upload creates state (the EchoGuard decides when: off, auto above a rate, always).
   */
  echo?: EchoGuard;
  /** Largest Send (/dp) body reassembled from blocks, bytes (default 256 KiB); /rd takes limits.maxPayloadBytes. */
  maxSendBytes?: number;
  /**
   * Presence (last seen, address, node) is written at most once per device per this interval, ms (default
   * 1000, or a quarter of awakeWindowMs when that is shorter).
   */
  presenceFlushMs?: number;
}

/** What this node knows of a registration it serves: enough to record an uplink without reading the store. */
interface KnownPeer {
  endpoint: string;
  registrationId: string;
  queueMode: boolean;
  lastSeen: number;
}

export const DEFAULT_MAX_SEND_BYTES = 256 * 1024;

const silent: Lwm2mServerLogger = { debug: () => undefined, warn: () => undefined };

export class Lwm2mServer {
  readonly client: DeviceClient;
  readonly registration: RegistrationHandler;
  readonly send: SendHandler;
  readonly expiry: ExpiryWorker;
  private readonly opts: Lwm2mServerOptions;
  private readonly log: Lwm2mServerLogger;
  private readonly now: () => number;
  /** peerKey -> registrations this node took (Send and touch attribution). */
  private readonly peers = new Map<string, KnownPeer>();
  /** endpoint -> its peerKey in `peers` (a device that moved leaves no stale entry). */
  private readonly peerOfEndpoint = new Map<string, string>();
  /** Uplinks' presence, coalesced (one write per device per second). */
  readonly presence: PresenceBuffer;
  /** The registration store with this node's unwritten presence merged into what it reads. */
  private readonly registrations: RegistrationStore;
  private readonly maxPeers: number;
  /** This node's Observe requests still waiting for their device, by endpoint (the cap counts them). */
  private readonly observesInFlight = new Map<string, number>();
  /** Observe requests refused by the per-device cap (lwm2m_observations_refused_total). */
  observationsRefused = 0;

  constructor(opts: Lwm2mServerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silent;
    this.now = opts.now ?? Date.now;
    this.maxPeers = opts.maxPeers ?? 100_000;
    this.presence = new PresenceBuffer({
      store: opts.registrations,
      // The scheduler reads "awake" from the stored lastSeen: it may lag by a quarter of the window at most.
      flushMs:
        opts.presenceFlushMs ??
        Math.max(
          50,
          Math.min(DEFAULT_PRESENCE_FLUSH_MS, (opts.awakeWindowMs ?? DEFAULT_AWAKE_WINDOW_MS) / 4),
        ),
      onStale: (p) => {
        const key = formatSessionRef(p.session);
        const known = this.peers.get(key);
        if (known?.registrationId === p.registrationId) this.drop(key, known);
      },
      awakeWindowMs: opts.awakeWindowMs ?? DEFAULT_AWAKE_WINDOW_MS,
      // TS 1.2 Core 6.5: any message from a sleeping queue-mode client (Send included) opens its awake window,
      // whether it slept past the window or a request found it asleep earlier. Said once its sighting is stored.
      onWoke: (p, silentMs) => {
        void this.opts.events
          .publish({ type: 'awake', endpoint: p.endpoint, registrationId: p.registrationId, silentMs })
          .catch((err: unknown) => this.log.warn('lwm2m: awake not published', { error: String(err) }));
      },
      onError: (err) => this.log.warn('lwm2m: presence not written', { error: String(err) }),
    });
    this.registrations = presenceAware(opts.registrations, this.presence);
    const model = opts.model ?? defaultObjectModelRegistry();
    this.client = new DeviceClient({
      endpoint: opts.endpoint,
      model,
      defaultTimeoutMs: opts.defaultTimeoutMs,
    });
    this.registration = new RegistrationHandler({
      store: opts.registrations,
      events: opts.events,
      now: this.now,
      nodeId: opts.nodeId,
      limits: opts.limits,
      security: opts.security,
      credentials: opts.credentials,
      ...(opts.securityPolicy ? { securityPolicy: opts.securityPolicy } : {}),
      ...(opts.x509EndpointFrom ? { x509EndpointFrom: opts.x509EndpointFrom } : {}),
      ...(opts.echo ? { echo: opts.echo } : {}),
      hooks: {
        onRegistered: (reg, replaced, cancelled) => {
          if (replaced) this.forget(replaced, cancelled ?? []);
          this.remember(reg);
        },
        onUpdated: (reg) => this.remember(reg),
        onRemoved: (reg, cancelled) => this.forget(reg, cancelled),
      },
    });
    this.send = new SendHandler({
      values: opts.values,
      events: opts.events,
      client: this.client,
      now: this.now,
      binding: this.registration.binding,
    });
    this.expiry = new ExpiryWorker({
      store: opts.registrations,
      events: opts.events,
      now: this.now,
      pollIntervalMs: opts.expiryPollMs,
      onExpired: (reg, cancelled) => this.forget(reg, cancelled),
      onError: (err) => this.log.warn('lwm2m: expiry round failed', { error: String(err) }),
    });
    if (opts.attachHandler !== false) opts.endpoint.setHandler((req) => this.handleRequest(req));
    // RFC 7959 uploads: per-resource caps, and nothing buffered for resources this server takes no body at.
    const maxRd = { ...DEFAULT_REGISTRATION_LIMITS, ...opts.limits }.maxPayloadBytes;
    const maxDp = opts.maxSendBytes ?? DEFAULT_MAX_SEND_BYTES;
    opts.endpoint.setRequestBodyLimit((path) => (path[0] === 'rd' ? maxRd : path[0] === 'dp' ? maxDp : 0));
    const echo = opts.echo;
    if (echo !== undefined) {
      // RFC 9175 section 2.4 item 3: the first block of a NoSec upload waits for proof of the address.
      opts.endpoint.setBlock1Gate((req) => {
        if (req.peer.identity !== undefined) return undefined;
        const routable = echo.check(req);
        return routable.ok ? undefined : routable.response;
      });
    }
  }

  /** The CoapEndpoint handler: /rd (registration interface), /dp (Send), 4.04 for anything else. */
  async handleRequest(req: IncomingRequest): Promise<OutgoingResponse> {
    try {
      const top = req.path[0];
      if (top === 'rd') {
        const res = await this.registration.handle(req);
        if (res.code === CoapCode.FORBIDDEN) {
          // A credential used for another endpoint: worth an operator's look (counted in registration.binding).
          // NoSec refusals are only counted: anyone can send them, so a warning each would be a log flood.
          const log = req.peer.identity === undefined ? this.log.debug : this.log.warn;
          log.call(this.log, 'lwm2m: registration refused', {
            peer: req.peerKey,
            identity: describeIdentity(req.peer.identity),
            reason: String(res.payload ?? ''),
          });
        }
        return res;
      }
      if (top === 'dp') {
        // The datagram was recorded as an uplink already (touch); Send needs the registration itself.
        const reg = await this.registrationOfPeer(req.peerKey);
        return await this.send.handle(req, reg);
      }
      return refuse(CoapCode.NOT_FOUND, 'the LwM2M server serves /rd and /dp');
    } catch (err) {
      this.log.warn('lwm2m: request failed', { peer: req.peerKey, error: String(err) });
      return refuse(CoapCode.INTERNAL_SERVER_ERROR, 'internal error');
    }
  }

  /** Runs an operator's command (the CommandBus handler of the gateway). */
  async runCommand(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    const ledger = this.opts.deliveries;
    if (cmd.delivery === undefined || ledger === undefined) return this.runNow(cmd);
    // A queued request's attempt runs only if the ledger lets it begin (the scheduler may have fenced it off).
    if (!(await ledger.begin(cmd.id, cmd.delivery))) {
      return { id: cmd.id, ok: false, status: 409, error: 'stale delivery attempt: not run' };
    }
    const result = await this.runNow(cmd);
    await ledger
      .complete(cmd.id, cmd.delivery, result)
      .catch((err: unknown) => this.log.warn('lwm2m: delivery not recorded', { error: String(err) }));
    return result;
  }

  private runNow(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    if (cmd.op === 'deregister') return this.deregisterByOperator(cmd);
    return runDeviceCommand(cmd, this.commandDeps());
  }

  /**
   * An operator removes a registration: the record, its observations and values go, a 'deregistered'
   * event says so (reason 'operator'). The device is not told; a notification it sends later finds no
   * observation and gets RST, which ends the observation on its side (RFC 7641 section 3.6).
   */
  private async deregisterByOperator(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    const reg = await this.opts.registrations.getByEndpoint(cmd.endpoint);
    const event = (r: Registration): Lwm2mEvent => ({
      type: 'deregistered',
      endpoint: r.endpoint,
      registrationId: r.registrationId,
      reason: 'operator',
    });
    const removed = reg && (await this.opts.registrations.deregister(reg.registrationId, event(reg)));
    if (removed === undefined) {
      return { id: cmd.id, ok: false, status: 404, error: `endpoint ${cmd.endpoint} is not registered` };
    }
    this.forget(removed.registration, removed.cancelledObservations);
    if (removed.eventId !== undefined)
      this.opts.events.appended?.(event(removed.registration), removed.eventId);
    else await this.opts.events.publish(event(removed.registration));
    this.log.debug('lwm2m: registration removed by an operator', { endpoint: cmd.endpoint });
    return { id: cmd.id, ok: true, status: 204 };
  }

  private commandDeps(): CommandDeps {
    return {
      registrations: this.registrations,
      observations: this.opts.observations,
      values: this.opts.values,
      events: this.opts.events,
      client: this.client,
      now: this.now,
      onError: (err) => this.log.debug('lwm2m: observation', { error: String(err) }),
      maxObservationsPerDevice: this.opts.maxObservationsPerDevice,
      observesInFlight: this.observesInFlight,
      onObservationRefused: () => this.observationsRefused++,
    };
  }

  /**
   * Records an uplink from `peerKey` (any datagram): in memory, written to the store on the next presence
   * tick, which also tells whether it woke a sleeping queue-mode client (then 'awake' is published). A
   * queue-mode device silent past the awake window here is written at once. Returns the endpoint when the
   * peer belongs to a registration this node knows. Never reads the store.
   */
  touch(peerKey: string, peer: Peer): string | undefined {
    const known = this.peers.get(peerKey);
    if (known === undefined) return undefined;
    const now = this.now();
    const silentHere = now - known.lastSeen;
    known.lastSeen = Math.max(known.lastSeen, now);
    // The node that took the datagram serves the device now (a NAT rebinding or a takeover moves it).
    this.presence.see(known.endpoint, known.registrationId, now, peer, this.opts.nodeId);
    if (known.queueMode && silentHere > (this.opts.awakeWindowMs ?? DEFAULT_AWAKE_WINDOW_MS)) {
      // Likely a wake-up: the queued requests need not wait for the tick (a failed write is kept for it).
      void this.presence.flush();
    }
    return known.endpoint;
  }

  /**
   * Whether `peerKey` is the current address of a registration this node took (memory only, never the
   * store): e.g. a NoSec device that proved its address when it registered (/fw skips its Echo check).
   */
  knowsPeer(peerKey: string): boolean {
    return this.peers.has(peerKey);
  }

  /** Starts lifetime expiry and lets the endpoint take over observations other nodes started. */
  start(): void {
    this.expiry.start();
    this.presence.start();
    this.opts.endpoint.setAdoptResponse((token, peer, peerKey) =>
      this.adoptObservation(token, peer, peerKey),
    );
  }

  async stop(): Promise<void> {
    this.opts.endpoint.setAdoptResponse(undefined);
    await this.expiry.stop();
    await this.presence.stop();
  }

  /**
   * The endpoint's adoptResponse: a notification whose token this node never sent. In a cluster the
   * device's session may have moved here from the node that started the observation, and the shared
   * store knows it. Taken over only while its registration is current and the datagram comes from that
   * registration's peer; anything else keeps its RST (RFC 7641 section 3.6), and the device cancels.
   */
  private async adoptObservation(token: Buffer, peer: Peer, peerKey: string): Promise<boolean> {
    const obs = await this.opts.observations.getByToken(token.toString('hex'));
    if (obs === undefined) return false;
    const reg = await this.registrations.getByEndpoint(obs.endpoint);
    if (
      reg === undefined ||
      reg.registrationId !== obs.registrationId ||
      formatSessionRef(reg.session) !== peerKey
    ) {
      return false;
    }
    const deps = this.commandDeps();
    const resumed = this.client.resumeObservation(
      reg,
      obs,
      (n) => void deliverNotification(obs, n, deps, this.now).catch((err: unknown) => deps.onError?.(err)),
      { peer },
    );
    if (!resumed) return false;
    // The device is served from here now: attribute its Send and uplinks (registrationOfPeer).
    this.remember(reg);
    this.log.debug('lwm2m: observation taken over', { endpoint: obs.endpoint, observationId: obs.id });
    return true;
  }

  private async registrationOfPeer(peerKey: string): Promise<Registration | undefined> {
    const known = this.peers.get(peerKey);
    if (known === undefined) return undefined;
    const reg = await this.registrations.getByEndpoint(known.endpoint);
    if (reg === undefined || formatSessionRef(reg.session) !== peerKey) {
      if (this.peers.get(peerKey) === known) this.drop(peerKey, known);
      return undefined;
    }
    return reg;
  }

  private remember(reg: Registration): void {
    const key = formatSessionRef(reg.session);
    const previous = this.peerOfEndpoint.get(reg.endpoint);
    if (previous !== undefined && previous !== key) this.peers.delete(previous);
    this.peers.delete(key);
    this.peers.set(key, {
      endpoint: reg.endpoint,
      registrationId: reg.registrationId,
      queueMode: reg.queueMode,
      lastSeen: reg.lastSeen,
    });
    this.peerOfEndpoint.set(reg.endpoint, key);
    if (this.peers.size > this.maxPeers) {
      const [oldest, known] = this.peers.entries().next().value as [string, KnownPeer];
      this.drop(oldest, known);
    }
  }

  private forget(reg: Registration, cancelled: Observation[]): void {
    const key = formatSessionRef(reg.session);
    const known = this.peers.get(key);
    if (known?.endpoint === reg.endpoint) this.drop(key, known);
    for (const o of cancelled) this.client.forgetObservation(o.token);
  }

  private drop(peerKey: string, known: KnownPeer): void {
    this.peers.delete(peerKey);
    if (this.peerOfEndpoint.get(known.endpoint) === peerKey) this.peerOfEndpoint.delete(known.endpoint);
  }
}
