// The gateway's whole datagram pipeline, framework-free: UDP (the fair receive queue) -> cluster transport
// (CID pinning, the link) -> DTLS (PSK/RPK/X.509) -> secure routing (GatewayTransport) -> CoAP endpoint (Echo,
// discovery) -> LwM2M server on the shared stores. apps/gateway wraps it in the Nest lifecycle; the single
// node, the benches and the tests build the same stack.
import { randomBytes } from 'node:crypto';
import {
  CoapCode,
  CoapEndpoint,
  EchoGuard,
  type IncomingRequest,
  type OutgoingResponse,
  serializeLinkFormat,
} from '@lwm2m/coap';
import { type DtlsServer, InMemorySessionCache, isDtlsPeer } from '@lwm2m/dtls';
import {
  cidGenerator,
  ClusterMembership,
  ClusterTransport,
  type ClusterKeys,
  deriveClusterKeys,
  MIN_CLUSTER_CID_LENGTH,
  MIN_WORKER_CID_LENGTH,
  SealedSessionCache,
  SessionKeeper,
} from '@lwm2m/cluster';
import { rateLimitedWarnings, settleWithin } from '@lwm2m/config';
import {
  type DeviceCommand,
  type DeviceCommandResult,
  describeLifecycleEvent,
  type EventBus,
  InMemoryModelStore,
  LIFECYCLE_EVENTS,
  type Lwm2mEvent,
  Lwm2mServer,
  SharedObjectModels,
} from '@lwm2m/server';
import type { GatewayMetricsSources, Lwm2mSecurityCounters } from '@lwm2m/metrics';
import type { RedisCommandBus } from '@lwm2m/registry';
import { addressRef, cidRef, type DatagramTransport, type Peer } from '@lwm2m/transport';
import { UdpTransport } from '@lwm2m/udp';
import { createCoapsServer } from './coaps';
import type { GatewayConfig } from './config';
import { GatewayFirmware } from './firmware';
import { GatewayTransport } from './gateway-transport';
import { createGatewayOscoreSeam, OscoreContexts } from './oscore';
import { InMemorySequenceLeaseStore, type OscoreSeam } from '@lwm2m/oscore';
import type { GatewayLogger, GatewayStores } from './ports';

/** Cluster mode: how long a stopping gateway still serves what is in flight after its hand-over. */
const SHUTDOWN_LINGER_MS = 500;
/**
 * The hand-over waits on Redis at most this long: with Redis gone, nothing can be written back anyway (the
 * sessions stay as last stored and the lease lapses by itself), and a SIGTERM must still stop the process.
 */
const DRAIN_BOUND_MS = 1000;
/** How often a gateway looks for models uploaded meanwhile (between commands, which look first anyway). */
const MODELS_REFRESH_MS = 5000;
/**
 * SO_RCVBUF of the public sockets unless UDP_RECV_BUFFER_BYTES says otherwise (best effort: Linux caps it at
 * net.core.rmem_max): room for a registration storm. The fair receive queue (libs/udp) keeps a flood in
 * that buffer from queueing ahead of real devices.
 */
export const DEFAULT_UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** DTLS 1.2 record content type tls12_cid (RFC 9146 section 4): a record naming a session by its CID. */
const TLS12_CID = 25;

type Address = { address: string; port: number };

/**
 * A public datagram transport the caller built (a worker thread's MessagePort-backed transport, a test's
 * MemoryTransport) instead of a UDP socket the stack binds. The fair receive queue's hooks are used when it
 * has them.
 */
export type PublicTransport = DatagramTransport & {
  address(): Address;
  prioritizeSources?(known: (data: Buffer, peer: Peer) => boolean): void;
  readonly receiveDrops?: { source: number; total: number };
};

export interface GatewayStackOptions {
  logger?: GatewayLogger;
  /**
   * Public transports to use instead of binding COAP_PORT / COAPS_PORT / CLUSTER_PORT. `coap` is used only
   * with COAP_NOSEC, `link` only in a linked cluster.
   */
  transports?: { coap?: PublicTransport; coaps?: PublicTransport; link?: PublicTransport };
  /** Another process took this node's lease. Default: log and exit (serving on would fight it). */
  onLeaseLost?: () => void;
  /**
   * A worker thread of a gateway process (GATEWAY_WORKERS > 1, workers.ts): the node's lease is the main
   * thread's (this stack only observes the membership), and its CIDs name node `nodeId` and worker `index`,
   * so the main thread hands each record of a session to the worker that holds it.
   */
  worker?: { index: number; nodeId: number };
  /**
   * Take commands from the command bus (default true). A worker does not: the main thread takes them and
   * hands each to the worker holding the device's session (runCommand).
   */
  serveCommands?: boolean;
}

/** The counters the stack keeps, read at scrape time (libs/metrics registerGatewayMetrics). */
export type GatewayCounters = GatewayMetricsSources;

/** Builds a gateway stack; nothing is bound or started before start(). */
export function createGatewayStack(
  config: GatewayConfig,
  stores: GatewayStores,
  options: GatewayStackOptions = {},
): GatewayStack {
  return new GatewayStack(config, stores, options);
}

export class GatewayStack {
  private readonly logger: GatewayLogger;
  /** Per-datagram warnings (a flood, a contention loop): one line per kind per 10 s, with the count. */
  readonly warnings: ReturnType<typeof rateLimitedWarnings>;
  private readonly log: {
    debug(m: string, c?: Record<string, unknown>): void;
    warn(m: string, c?: Record<string, unknown>): void;
  };
  private udp?: PublicTransport;
  private coapsUdp?: PublicTransport;
  private linkUdp?: PublicTransport;
  /** CoAP over DTLS on COAPS_PORT (its sessions and counters). */
  dtls?: DtlsServer;
  private stopServing?: () => Promise<void>;
  private stopServingNode?: () => Promise<void>;
  /** Cluster mode: this node's lease, the link and the shared sessions. */
  membership?: ClusterMembership;
  clusterTransport?: ClusterTransport;
  keeper?: SessionKeeper;
  private drained = false;
  private closed = false;
  /** Observe notifications devices sent (coap_notifications_total). */
  notifications = 0;
  /** Events this node published, by type (lwm2m_events_total). */
  readonly events: Record<string, number> = {};
  endpoint?: CoapEndpoint;
  server?: Lwm2mServer;
  /** LwM2M over OSCORE (RFC 8613): the devices' contexts and the CoAP seam that uses them. */
  oscoreContexts?: OscoreContexts;
  oscore?: OscoreSeam;
  /** Object 5 Pull and Push (stores.firmware). */
  firmware?: GatewayFirmware;
  private mounted?: (req: IncomingRequest) => Promise<OutgoingResponse> | OutgoingResponse | undefined;
  /**
   * RFC 9175 Echo of NoSec peers. Its key comes from CLUSTER_KEY in a cluster, so a client's repeated
   * request may land on any node; otherwise a random per-process key (a restart only costs one more 4.01).
   */
  readonly echo: EchoGuard;
  /** The Echo key, also /fw's (FIRMWARE_NOSEC_ECHO): one Echo value format, one key per cluster. */
  private readonly echoKey: Buffer;
  /** The keys derived from CLUSTER_KEY (link HMAC, sessions at rest, Echo), once. */
  private readonly clusterKeys?: ClusterKeys;
  /** Object models: built in, MODELS_DIR, and those uploaded through any api (re-read when they change). */
  readonly models: SharedObjectModels;
  private modelsTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: GatewayConfig,
    private readonly stores: GatewayStores,
    private readonly options: GatewayStackOptions = {},
  ) {
    this.logger = options.logger ?? { log: () => undefined, warn: () => undefined, error: () => undefined };
    const logger = this.logger;
    this.warnings = rateLimitedWarnings((line) => logger.warn(line));
    this.log = {
      debug: (m, c) => logger.debug?.(`${m} ${JSON.stringify(c ?? {})}`),
      warn: (m, c) => this.warnings.warn(m, c),
    };
    this.clusterKeys = config.CLUSTER_KEY !== undefined ? deriveClusterKeys(config.CLUSTER_KEY) : undefined;
    this.echoKey = this.clusterKeys?.echo ?? randomBytes(32);
    this.echo = new EchoGuard({
      key: this.echoKey,
      mode: config.COAP_ECHO,
      threshold: config.COAP_ECHO_THRESHOLD,
    });
    // A DDF file that does not parse stops the start here, naming the file.
    this.models = new SharedObjectModels({
      store: stores.models ?? new InMemoryModelStore(),
      ...(config.MODELS_DIR ? { dirs: config.MODELS_DIR } : {}),
      warn: (m) => logger.warn(m),
    });
  }

  /** Binds (or takes) the public transports, joins the cluster, and serves devices and commands. */
  async start(): Promise<void> {
    const { config, stores } = this;
    // NoSec CoAP (5683) is optional: a deployment that requires DTLS sets COAP_NOSEC=false.
    if (config.COAP_NOSEC) this.udp = this.options.transports?.coap ?? (await this.bind(config.COAP_PORT));
    this.coapsUdp = this.options.transports?.coaps ?? (await this.bind(config.COAPS_PORT));
    await this.refreshModels();
    // Notifications and Sends are decoded with models uploaded meanwhile; a command checks before it runs.
    this.modelsTimer = setInterval(() => void this.refreshModels(), MODELS_REFRESH_MS).unref();
    const clustered = await this.startCluster();
    this.dtls = createCoapsServer({
      transport: clustered ?? this.coapsUdp,
      credentials: stores.credentials,
      config,
      logger: this.log,
      ...this.cidOption(),
      // A device resuming by session id may land on any node: the cache is shared (sealed) in cluster mode.
      sessionCache:
        this.membership && stores.cluster?.resumption
          ? new SealedSessionCache(stores.cluster.resumption, this.clusterKeys!.atRest)
          : new InMemorySessionCache(),
    });
    if (this.membership && stores.cluster) {
      const keeper = new SessionKeeper({
        dtls: this.dtls,
        store: stores.cluster.sessions,
        membership: this.membership,
        keys: this.clusterKeys!,
        logger: this.log,
      });
      this.keeper = keeper;
      keeper.start();
      // Every authenticated record: its replay mark and address reach the store within a second.
      this.dtls.onDatagram((_data, peer) => {
        if (isDtlsPeer(peer)) keeper.markActive(peer.session);
      });
    }
    const keeper = this.keeper;
    // One endpoint over both: one LwM2M server (one DeviceClient, one expiry worker) for 5683 and 5684.
    const transport = new GatewayTransport(
      this.udp,
      this.dtls,
      keeper ? async (cid) => (await keeper.route(cid)).kind === 'local' : undefined,
    );
    this.oscoreContexts = new OscoreContexts({
      credentials: stores.credentials,
      sequences: stores.oscoreSequences ?? new InMemorySequenceLeaseStore(),
      warn: (m, c) => this.log.warn(m, c),
    });
    this.oscore = createGatewayOscoreSeam(this.oscoreContexts);
    const endpoint = new CoapEndpoint({ transport, logger: this.log, seam: this.oscore });
    this.endpoint = endpoint;
    this.prioritizeKnownSources();
    const server = new Lwm2mServer({
      endpoint,
      registrations: stores.registrations,
      observations: stores.observations,
      values: stores.values,
      events: this.countingEvents(stores.events),
      nodeId: this.membership?.name ?? config.NODE_ID,
      logger: this.log,
      attachHandler: false,
      credentials: stores.credentials,
      awakeWindowMs: config.AWAKE_WINDOW_MS,
      maxObservationsPerDevice: config.MAX_OBSERVATIONS_PER_DEVICE,
      ...(stores.deliveries ? { deliveries: stores.deliveries } : {}),
      securityPolicy: config.SECURITY_POLICY,
      x509EndpointFrom: config.X509_ENDPOINT_FROM,
      maxSendBytes: config.SEND_MAX_BYTES,
      echo: this.echo,
      model: this.models.models,
    });
    this.server = server;
    // Presence: every datagram is an uplink, recorded in memory by the key the endpoint computed for it.
    endpoint.setUplinkListener((peer, peerKey) => server.touch(peerKey, peer));
    const fw = stores.firmware;
    // Object 5: /fw/<id> served block by block from the image store; pushes run where the session is.
    this.firmware = fw
      ? new GatewayFirmware({
          images: fw.images,
          pushes: fw.pushes,
          endpoint,
          registrations: stores.registrations,
          client: server.client,
          log: this.log,
          ...(fw.config?.FIRMWARE_NOSEC_ECHO !== false
            ? {
                // The same Echo values as Register's (one key), but always required and a verified
                // address kept 60 s (RFC 9175 section 2.4: the pull's duration, not longer).
                echo: new EchoGuard({ key: this.echoKey, mode: 'always', verifiedTtlMs: 60_000 }),
                registeredPeer: (peerKey: string) => server.knowsPeer(peerKey),
              }
            : {}),
        })
      : undefined;
    const firmware = this.firmware;
    endpoint.setHandler(
      (req) => this.mounted?.(req) ?? discovery(req) ?? firmware?.handle(req) ?? server.handleRequest(req),
    );
    server.start();
    const run = (cmd: DeviceCommand) => this.runCommand(cmd);
    if (this.options.serveCommands !== false) this.stopServing = await stores.commands.serve(run);
    const bus = stores.commands as { serveNode?: RedisCommandBus['serveNode'] };
    if (this.membership && bus.serveNode && this.options.serveCommands !== false) {
      // Commands for devices whose DTLS session this node owns (libs/registry clusterCommandRouter).
      this.stopServingNode = await bus.serveNode(this.membership.id, run);
    }
    const { coap, coaps } = this.addresses();
    if (coap) this.logger.log(`LwM2M server (CoAP NoSec) listening on udp ${coap.address}:${coap.port}`);
    this.logger.log(`LwM2M server (CoAP over DTLS) listening on udp ${coaps.address}:${coaps.port}`);
  }

  /** Runs a device command on this stack (the command bus, or a worker's main thread, hands it over). */
  async runCommand(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    if (!this.server) throw new Error('gateway stack not started');
    // A model uploaded on any api just before this command is known when it runs (one GET of the revision).
    await this.refreshModels();
    // An OSCORE device's context is in memory before the command protects its request (after a restart).
    if (cmd.endpoint !== undefined) await this.oscoreContexts?.prepare(cmd.endpoint).catch(() => undefined);
    if (cmd.op === 'firmware-push' || cmd.op === 'firmware-push-abort') {
      if (this.firmware === undefined)
        return { id: cmd.id, ok: false, status: 501, error: 'this gateway has no firmware image store' };
      return cmd.op === 'firmware-push' ? this.firmware.startPush(cmd) : this.firmware.abortPush(cmd);
    }
    return this.server.runCommand(cmd);
  }

  /**
   * The CIDs this stack issues. In a cluster they name this node (the link routes by it); in a worker they
   * also name the worker (the main thread routes by it); a lone node with short CIDs keeps random ones.
   */
  private cidOption(): { cidGenerator?: (length: number) => Buffer } {
    const { config, membership } = this;
    const worker = this.options.worker;
    if (worker && config.DTLS_CID_LENGTH >= MIN_WORKER_CID_LENGTH)
      return { cidGenerator: cidGenerator(membership?.id ?? worker.nodeId, worker.index) };
    if (membership && config.DTLS_CID_LENGTH >= MIN_CLUSTER_CID_LENGTH)
      return { cidGenerator: cidGenerator(membership.id) };
    return {};
  }

  /** The public sockets serve their sources fairly; the cluster link (one source per node) does not. */
  private bind(port: number, fair = true): Promise<UdpTransport> {
    const host = this.config.COAP_HOST;
    return UdpTransport.bind({
      type: host.includes(':') ? 'udp6' : 'udp4',
      address: host,
      port,
      recvBufferSize: this.config.UDP_RECV_BUFFER_BYTES ?? DEFAULT_UDP_RECV_BUFFER_BYTES,
      ...(fair && this.config.UDP_RECV_PER_SOURCE > 0
        ? { fairness: { perSource: this.config.UDP_RECV_PER_SOURCE } }
        : {}),
      logger: { warn: (m, c) => this.warnings.warn(m, c) },
    });
  }

  /**
   * Cluster mode (CLUSTER_KEY): claims this node's lease and puts the cluster transport (CID pinning, the
   * authenticated link) between the public DTLS socket and the DTLS server.
   * With CLUSTER_LINK false (`npm start` without CLUSTER_KEY) the same machinery runs as a one-node cluster:
   * the lease, sessions sealed in Redis with their sequence leases, and no link socket. A restarted process
   * claims the lease of its node id once the dead one's has lapsed, then takes its own sessions back from
   * Redis on their first record (or the first request to the device), writing above the old lease's end.
   */
  private async startCluster(): Promise<ClusterTransport | undefined> {
    const { config, stores } = this;
    if (config.CLUSTER_KEY === undefined) return undefined;
    if (stores.cluster === undefined) throw new Error('cluster mode needs the shared cluster stores');
    const linked = config.CLUSTER_LINK !== false;
    if (linked && config.DTLS_CID_LENGTH < MIN_CLUSTER_CID_LENGTH)
      throw new Error(`cluster mode needs DTLS_CID_LENGTH >= ${MIN_CLUSTER_CID_LENGTH}`);
    const link = linked
      ? (this.options.transports?.link ?? (await this.bind(config.CLUSTER_PORT, false)))
      : undefined;
    this.linkUdp = link;
    this.membership = new ClusterMembership({
      store: stores.cluster.membership,
      name: config.NODE_ID,
      // A worker keeps the view only: the main thread holds the node's lease under this id (workers.ts).
      ...(this.options.worker ? { id: this.options.worker.nodeId, observer: true } : {}),
      linkHost: config.CLUSTER_ADVERTISE_HOST,
      // A lone node has no link: port 0 tells any other node there is nothing to forward to.
      linkPort: link?.address().port ?? 0,
      ttlMs: config.CLUSTER_LEASE_MS,
      heartbeatMs: Math.max(100, Math.floor(config.CLUSTER_LEASE_MS / 3)),
      sessions: () => this.dtls?.counters.sessions ?? 0,
      onLost:
        this.options.onLeaseLost ??
        (() => {
          this.logger.error('cluster: lost this node lease to another process; exiting');
          process.exit(1);
        }),
      onError: (err) => this.logger.warn(`cluster: heartbeat failed: ${String(err)}`),
    });
    await this.membership.start();
    this.clusterTransport = new ClusterTransport({
      public: this.coapsUdp!,
      ...(link ? { link } : {}),
      membership: this.membership,
      linkKey: this.clusterKeys!.link,
      cidLength: config.DTLS_CID_LENGTH,
      hasSession: (cid) => this.dtls?.session(cidRef(cid)) !== undefined,
      route: (cid) => this.keeper!.route(cid),
      logger: this.log,
    });
    this.logger.log(
      link
        ? `cluster node ${this.membership.id} (${this.membership.name}), link udp ${config.CLUSTER_ADVERTISE_HOST}:${link.address().port}`
        : `single node ${this.membership.id} (${this.membership.name}): DTLS sessions kept sealed in Redis, no cluster link`,
    );
    return this.clusterTransport;
  }

  /** The public sockets (COAP_PORT absent with COAP_NOSEC=false) and, in a linked cluster, the link. */
  addresses(): { coap?: Address; coaps: Address; link?: Address } {
    if (!this.coapsUdp) throw new Error('gateway stack not started');
    return {
      ...(this.udp ? { coap: pick(this.udp.address()) } : {}),
      coaps: pick(this.coapsUdp.address()),
      ...(this.linkUdp ? { link: pick(this.linkUdp.address()) } : {}),
    };
  }

  /**
   * Graceful stop: commands stop, the sessions are handed over (cluster), in-flight work finishes, then the
   * sockets close. Each step that waits on Redis is bounded.
   */
  /** Re-reads uploaded models when their revision moved; Redis being away only delays that. */
  private async refreshModels(): Promise<void> {
    try {
      await this.models.refresh();
    } catch (err) {
      this.warnings.warn('object models not refreshed', { error: String(err) });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.modelsTimer);
    this.firmware?.close();
    // Each consumer's stop is bounded on its own (Redis may be gone): side by side, not one after the other.
    await Promise.all([this.stopServing?.(), this.stopServingNode?.()]);
    await this.server?.stop();
    await this.drain();
    if (this.membership) {
      // Datagrams already taken finish their work (a notification's event reaches the stream) before the
      // sockets close; the load balancer sends no new ones once the pod is out of the Service. A lone node
      // has handed nothing over: it stops at once.
      if (this.linkUdp) await new Promise((r) => setTimeout(r, SHUTDOWN_LINGER_MS));
      // The sessions live on in Redis (the next process, or another node, resumes them): no close_notify,
      // which would end them on the devices too.
      await this.dtls?.close({ notifyPeers: false });
    }
    if (this.endpoint) await this.endpoint.close();
    else await Promise.all([this.udp?.close(), this.coapsUdp?.close(), this.linkUdp?.close()]);
  }

  /**
   * Cluster mode: hands this node's sessions over. Each is written back to the store and the lease goes now,
   * so once this node stops, the next datagram of each device lands on a node that takes its session over at
   * once: no handshake, no wait for the lease to lapse. Until then this node keeps serving the sessions it
   * holds (nothing in flight is lost), and forwards records of others to a live node, which takes them over.
   */
  async drain(): Promise<void> {
    if (!this.membership || this.drained) return;
    this.drained = true;
    const membership = this.membership;
    const handOver = (async () => {
      await this.keeper?.drain();
      await membership.stop({ release: true });
    })();
    await settleWithin(handOver, DRAIN_BOUND_MS);
  }

  /** Cluster mode: true while this node holds its lease (readiness). */
  get serving(): boolean {
    return this.membership === undefined || !this.drained;
  }

  /**
   * Serves more resources on this node's CoAP endpoint, tried before discovery and the LwM2M interfaces
   * (the single-node start mounts the group-observer's /ps here). `handler` answers undefined for the rest.
   */
  mount(handler: (req: IncomingRequest) => Promise<OutgoingResponse> | OutgoingResponse | undefined): void {
    this.mounted = handler;
  }

  /** The NoSec UDP socket when the stack bound it (multicast notifications leave from it). */
  get nosecUdp(): UdpTransport | undefined {
    return this.udp instanceof UdpTransport ? this.udp : undefined;
  }

  /**
   * The event bus, counting what is published through it (coap_notifications_total, lwm2m_events_total) and
   * logging the registration lifecycle: an operator sees devices come and go at the default log level.
   */
  private countingEvents(bus: EventBus): EventBus {
    const count = (e: Lwm2mEvent) => {
      this.events[e.type] = (this.events[e.type] ?? 0) + 1;
      if (e.type === 'notification') this.notifications++;
      else if (LIFECYCLE_EVENTS.has(e.type)) this.logger.log(describeLifecycleEvent(e));
    };
    return {
      publish: (e) => {
        count(e);
        return bus.publish(e);
      },
      // Appended by a store in its change's own script (one Redis call): counted the same.
      appended: (e, id) => {
        count(e);
        bus.appended?.(e, id);
      },
      subscribe: (o) => bus.subscribe(o),
      recent: (n, ep) => bus.recent(n, ep),
    };
  }

  /** Refused registrations, Echo checks and Block1 uploads (libs/metrics lwm2m-security.ts). */
  securityCounters(): Lwm2mSecurityCounters | undefined {
    if (this.server === undefined || this.endpoint === undefined) return undefined;
    return {
      binding: { ...this.server.registration.binding.counters },
      ...(this.echo.mode !== 'off' ? { echo: this.echo.counters } : {}),
      block1: this.endpoint.block1Status,
      observationsRefused: this.server.observationsRefused,
      ...(this.oscore ? { oscore: this.oscore.counters } : {}),
    };
  }

  /**
   * Known sources are served first by the fair receive queues: on 5684 a record naming a session by CID or
   * from the address of a session, on 5683 a peer whose answer the endpoint awaits (a device answering a
   * read). Asked once per burst of a source, not per datagram.
   */
  private prioritizeKnownSources(): void {
    const endpoint = this.endpoint!;
    const dtls = this.dtls!;
    this.udp?.prioritizeSources?.((_data, peer) => endpoint.awaitsAnswerFrom(peer));
    this.coapsUdp?.prioritizeSources?.(
      (data, peer) => data[0] === TLS12_CID || dtls.session(addressRef(peer, true)) !== undefined,
    );
  }

  /** Datagrams the public sockets' fair receive queues dropped, by reason (udp_receive_dropped_total). */
  receiveDrops(): { source: number; total: number } {
    const a = this.udp?.receiveDrops ?? { source: 0, total: 0 };
    const b = this.coapsUdp?.receiveDrops ?? { source: 0, total: 0 };
    return { source: a.source + b.source, total: a.total + b.total };
  }

  /** What the gateway's metrics read at each scrape (libs/metrics registerGatewayMetrics). */
  counters(): GatewayCounters {
    return {
      udpReceiveDrops: () => this.receiveDrops(),
      dtls: () => this.dtls?.counters,
      coap: () => this.endpoint?.stats,
      cluster: () =>
        this.clusterTransport && {
          cidForwarded: this.clusterTransport.counters.cidForwarded,
          sessionTakeovers: this.keeper?.counters.sessionTakeovers ?? 0,
          forwardedReceived: this.clusterTransport.counters.forwardedReceived,
          forwardRejected: this.clusterTransport.counters.linkRejected,
        },
      notifications: () => this.notifications,
      events: () => this.events,
      security: () => this.securityCounters(),
      firmware: () =>
        this.firmware && {
          ...this.firmware.resource.counters,
          ...this.firmware.counters,
          activePushes: this.firmware.activePushes,
        },
    };
  }
}

/** RFC 6690 section 4: resource discovery; LwM2M clients find the registration interface here. */
function discovery(req: IncomingRequest): OutgoingResponse | undefined {
  if (req.code !== CoapCode.GET || req.path.join('/') !== '.well-known/core') return undefined;
  return {
    code: CoapCode.CONTENT,
    contentFormat: 40,
    payload: serializeLinkFormat([
      { target: '/rd', attributes: [{ name: 'rt', value: 'core.rd', quoted: true }] },
    ]),
  };
}

function pick(a: Address): Address {
  return { address: a.address, port: a.port };
}
