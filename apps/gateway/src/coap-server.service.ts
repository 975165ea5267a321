import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  CoapCode,
  CoapEndpoint,
  EchoGuard,
  type IncomingRequest,
  type OutgoingResponse,
  serializeLinkFormat,
} from '@lwm2m/coap';
import { addressKey, type DtlsServer, InMemorySessionCache, isDtlsPeer } from '@lwm2m/dtls';
import {
  cidGenerator,
  ClusterMembership,
  ClusterTransport,
  type ClusterKeys,
  deriveClusterKeys,
  MIN_CLUSTER_CID_LENGTH,
  SealedSessionCache,
  SessionKeeper,
} from '@lwm2m/cluster';
import { rateLimitedWarnings } from '@lwm2m/config';
import {
  type DeviceCommand,
  describeLifecycleEvent,
  type EventBus,
  InMemoryModelStore,
  LIFECYCLE_EVENTS,
  Lwm2mServer,
  SharedObjectModels,
} from '@lwm2m/server';
import type { GatewayMetricsSources, Lwm2mSecurityCounters } from '@lwm2m/metrics';
import { type RedisCommandBus, settleWithin } from '@lwm2m/registry';
import { UdpTransport } from '@lwm2m/udp';
import { createCoapsServer } from './coaps';
import type { GatewayConfig } from './config';
import { GatewayTransport } from './gateway-transport';
import { GATEWAY_CONFIG, GATEWAY_PORTS, type GatewayPorts } from './tokens';
import { TouchingTransport } from './touching-transport';

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

/**
 * Adapts the framework-free LwM2M server to the Nest lifecycle: binds UDP, runs the server on the shared
 * stores, takes device commands from the bus, and closes everything on shutdown.
 */
@Injectable()
export class CoapServerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('gateway');
  /** Per-datagram warnings (a flood, a contention loop): one line per kind per 10 s, with the count. */
  readonly warnings = rateLimitedWarnings((line) => this.logger.warn(line));
  private udp?: UdpTransport;
  private coapsUdp?: UdpTransport;
  private linkUdp?: UdpTransport;
  /** CoAP over DTLS on COAPS_PORT (its sessions and counters). */
  dtls?: DtlsServer;
  private stopServing?: () => Promise<void>;
  private stopServingNode?: () => Promise<void>;
  /** Cluster mode: this node's lease, the link and the shared sessions. */
  membership?: ClusterMembership;
  clusterTransport?: ClusterTransport;
  keeper?: SessionKeeper;
  private drained = false;
  /** Observe notifications devices sent (coap_notifications_total). */
  notifications = 0;
  /** Events this node published, by type (lwm2m_events_total). */
  readonly events: Record<string, number> = {};
  endpoint?: CoapEndpoint;
  server?: Lwm2mServer;
  private mounted?: (req: IncomingRequest) => Promise<OutgoingResponse> | OutgoingResponse | undefined;
  /**
   * RFC 9175 Echo of NoSec peers. Its key comes from CLUSTER_KEY in a cluster, so a client's repeated
   * request may land on any node; otherwise a random per-process key (a restart only costs one more 4.01).
   */
  readonly echo: EchoGuard;
  /** The keys derived from CLUSTER_KEY (link HMAC, sessions at rest, Echo), once. */
  private readonly clusterKeys?: ClusterKeys;
  /** Object models: built in, MODELS_DIR, and those uploaded through any api (re-read when they change). */
  readonly models: SharedObjectModels;
  private modelsTimer?: NodeJS.Timeout;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_PORTS) private readonly ports: GatewayPorts,
  ) {
    this.clusterKeys = config.CLUSTER_KEY !== undefined ? deriveClusterKeys(config.CLUSTER_KEY) : undefined;
    this.echo = new EchoGuard({
      key: this.clusterKeys?.echo ?? randomBytes(32),
      mode: config.COAP_ECHO,
      threshold: config.COAP_ECHO_THRESHOLD,
    });
    // A DDF file that does not parse stops the start here, naming the file.
    this.models = new SharedObjectModels({
      store: ports.models ?? new InMemoryModelStore(),
      ...(config.MODELS_DIR ? { dirs: config.MODELS_DIR } : {}),
      warn: (m) => this.logger.warn(m),
    });
  }

  async onModuleInit(): Promise<void> {
    const host = this.config.COAP_HOST;
    // The public sockets serve their sources fairly; the cluster link (one source per node) does not.
    const bind = (port: number, fair = true) =>
      UdpTransport.bind({
        type: host.includes(':') ? 'udp6' : 'udp4',
        address: host,
        port,
        recvBufferSize: this.config.UDP_RECV_BUFFER_BYTES ?? DEFAULT_UDP_RECV_BUFFER_BYTES,
        ...(fair && this.config.UDP_RECV_PER_SOURCE > 0
          ? { fairness: { perSource: this.config.UDP_RECV_PER_SOURCE } }
          : {}),
        logger: { warn: (m, c) => this.warnings.warn(m, c) },
      });
    // NoSec CoAP (5683) is optional: a deployment that requires DTLS sets COAP_NOSEC=false.
    if (this.config.COAP_NOSEC) this.udp = await bind(this.config.COAP_PORT);
    this.coapsUdp = await bind(this.config.COAPS_PORT);
    const dtlsLog = {
      debug: (m: string, c?: Record<string, unknown>) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
      warn: (m: string, c?: Record<string, unknown>) => this.warnings.warn(m, c),
    };
    await this.refreshModels();
    // Notifications and Sends are decoded with models uploaded meanwhile; a command checks before it runs.
    this.modelsTimer = setInterval(() => void this.refreshModels(), MODELS_REFRESH_MS).unref();
    const clustered = await this.startCluster(bind, dtlsLog);
    this.dtls = createCoapsServer({
      transport: clustered ?? this.coapsUdp,
      credentials: this.ports.credentials,
      config: this.config,
      logger: dtlsLog,
      // CIDs name this node (the cluster link routes by it); a lone node with short CIDs keeps random ones.
      ...(this.membership && this.config.DTLS_CID_LENGTH >= MIN_CLUSTER_CID_LENGTH
        ? { cidGenerator: cidGenerator(this.membership.id) }
        : {}),
      // A device resuming by session id may land on any node: the cache is shared (sealed) in cluster mode.
      sessionCache:
        this.membership && this.ports.cluster?.resumption
          ? new SealedSessionCache(this.ports.cluster.resumption, this.clusterKeys!.atRest)
          : new InMemorySessionCache(),
    });
    if (this.membership && this.ports.cluster) {
      const dtls = this.dtls;
      this.keeper = new SessionKeeper({
        dtls,
        store: this.ports.cluster.sessions,
        membership: this.membership,
        keys: this.clusterKeys!,
        logger: dtlsLog,
      });
      this.keeper.start();
      const keeper = this.keeper;
      // Every authenticated record: its replay mark and address reach the store within a second.
      dtls.onDatagram((_data, peer) => {
        if (isDtlsPeer(peer)) keeper.markActive(peer.session.key);
      });
    }
    const keeper = this.keeper;
    // One endpoint over both: one LwM2M server (one DeviceClient, one expiry worker) for 5683 and 5684.
    const both = new GatewayTransport(
      this.udp,
      this.dtls,
      keeper ? async (cid) => (await keeper.route(cid)).kind === 'local' : undefined,
    );
    // Presence is recorded in memory here and written by the server's presence tick (errors logged there).
    const transport = new TouchingTransport(both, (peer) => this.server?.touch(both.peerKey(peer), peer));
    const log = {
      debug: (m: string, c?: Record<string, unknown>) => this.logger.debug(`${m} ${JSON.stringify(c ?? {})}`),
      warn: (m: string, c?: Record<string, unknown>) => this.warnings.warn(m, c),
    };
    this.endpoint = new CoapEndpoint({ transport, logger: log });
    this.prioritizeKnownSources();
    this.server = new Lwm2mServer({
      endpoint: this.endpoint,
      registrations: this.ports.registrations,
      observations: this.ports.observations,
      values: this.ports.values,
      events: this.countingEvents(this.ports.events),
      nodeId: this.membership?.name ?? this.config.NODE_ID,
      logger: log,
      attachHandler: false,
      credentials: this.ports.credentials,
      awakeWindowMs: this.config.AWAKE_WINDOW_MS,
      maxObservationsPerDevice: this.config.MAX_OBSERVATIONS_PER_DEVICE,
      ...(this.ports.deliveries ? { deliveries: this.ports.deliveries } : {}),
      securityPolicy: this.config.SECURITY_POLICY,
      x509EndpointFrom: this.config.X509_ENDPOINT_FROM,
      maxSendBytes: this.config.SEND_MAX_BYTES,
      echo: this.echo,
      model: this.models.models,
    });
    const server = this.server;
    // A model uploaded on any api just before this command is known when it runs (one GET of the revision).
    const run = async (cmd: DeviceCommand) => {
      await this.refreshModels();
      return server.runCommand(cmd);
    };
    this.endpoint.setHandler(
      (req) => this.mounted?.(req) ?? this.discovery(req) ?? server.handleRequest(req),
    );
    server.start();
    this.stopServing = await this.ports.commands.serve(run);
    const bus = this.ports.commands as { serveNode?: RedisCommandBus['serveNode'] };
    if (this.membership && bus.serveNode) {
      // Commands for devices whose DTLS session this node owns (libs/registry clusterCommandRouter).
      this.stopServingNode = await bus.serveNode(this.membership.id, run);
    }
    if (this.udp) {
      const { address, port } = this.udp.address();
      this.logger.log(`LwM2M server (CoAP NoSec) listening on udp ${address}:${port}`);
    }
    const coaps = this.coapsUdp.address();
    this.logger.log(`LwM2M server (CoAP over DTLS) listening on udp ${coaps.address}:${coaps.port}`);
  }

  /**
   * Cluster mode (CLUSTER_KEY): claims this node's lease and puts the cluster transport (CID pinning, the
   * authenticated link) between the public DTLS socket and the DTLS server.
   * With CLUSTER_LINK false (`npm start` without CLUSTER_KEY) the same machinery runs as a one-node cluster:
   * the lease, sessions sealed in Redis with their sequence leases, and no link socket. A restarted process
   * claims the lease of its node id once the dead one's has lapsed, then takes its own sessions back from
   * Redis on their first record (or the first request to the device), writing above the old lease's end.
   */
  private async startCluster(
    bind: (port: number, fair?: boolean) => Promise<UdpTransport>,
    log: { warn(m: string, c?: Record<string, unknown>): void },
  ): Promise<ClusterTransport | undefined> {
    const key = this.config.CLUSTER_KEY;
    if (key === undefined) return undefined;
    if (this.ports.cluster === undefined) throw new Error('cluster mode needs the shared cluster stores');
    const linked = this.config.CLUSTER_LINK !== false;
    if (linked && this.config.DTLS_CID_LENGTH < MIN_CLUSTER_CID_LENGTH)
      throw new Error(`cluster mode needs DTLS_CID_LENGTH >= ${MIN_CLUSTER_CID_LENGTH}`);
    const link = linked ? await bind(this.config.CLUSTER_PORT, false) : undefined;
    this.linkUdp = link;
    this.membership = new ClusterMembership({
      store: this.ports.cluster.membership,
      name: this.config.NODE_ID,
      linkHost: this.config.CLUSTER_ADVERTISE_HOST,
      // A lone node has no link: port 0 tells any other node there is nothing to forward to.
      linkPort: link?.address().port ?? 0,
      ttlMs: this.config.CLUSTER_LEASE_MS,
      heartbeatMs: Math.max(100, Math.floor(this.config.CLUSTER_LEASE_MS / 3)),
      sessions: () => this.dtls?.counters.sessions ?? 0,
      onLost: () => {
        // Another process holds our node id: serving on would fight it for the same sessions.
        this.logger.error('cluster: lost this node lease to another process; exiting');
        process.exit(1);
      },
      onError: (err) => this.logger.warn(`cluster: heartbeat failed: ${String(err)}`),
    });
    await this.membership.start();
    this.clusterTransport = new ClusterTransport({
      public: this.coapsUdp!,
      ...(link ? { link } : {}),
      membership: this.membership,
      linkKey: this.clusterKeys!.link,
      cidLength: this.config.DTLS_CID_LENGTH,
      hasSession: (cid) => this.dtls?.session(`cid:${cid}`) !== undefined,
      route: (cid) => this.keeper!.route(cid),
      logger: log,
    });
    this.logger.log(
      link
        ? `cluster node ${this.membership.id} (${this.membership.name}), link udp ${this.config.CLUSTER_ADVERTISE_HOST}:${link.address().port}`
        : `single node ${this.membership.id} (${this.membership.name}): DTLS sessions kept sealed in Redis, no cluster link`,
    );
    return this.clusterTransport;
  }

  /** The cluster link socket (CLUSTER_PORT), in cluster mode. */
  clusterAddress(): { address: string; port: number } | undefined {
    return this.linkUdp?.address();
  }

  /** The NoSec CoAP socket (COAP_PORT). */
  address(): { address: string; port: number } {
    if (!this.udp) throw new Error('CoAP NoSec endpoint not started (or disabled by COAP_NOSEC=false)');
    return this.udp.address();
  }

  /** The CoAP over DTLS socket (COAPS_PORT). */
  secureAddress(): { address: string; port: number } {
    if (!this.coapsUdp) throw new Error('CoAP over DTLS endpoint not started');
    return this.coapsUdp.address();
  }

  /** RFC 6690 section 4: resource discovery; LwM2M clients find the registration interface here. */
  private discovery(req: IncomingRequest): OutgoingResponse | undefined {
    if (req.code !== CoapCode.GET || req.path.join('/') !== '.well-known/core') return undefined;
    return {
      code: CoapCode.CONTENT,
      contentFormat: 40,
      payload: serializeLinkFormat([
        { target: '/rd', attributes: [{ name: 'rt', value: 'core.rd', quoted: true }] },
      ]),
    };
  }

  /** Re-reads uploaded models when their revision moved; Redis being away only delays that. */
  private async refreshModels(): Promise<void> {
    try {
      await this.models.refresh();
    } catch (err) {
      this.warnings.warn('object models not refreshed', { error: String(err) });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.modelsTimer);
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
    await this.endpoint?.close();
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

  /**
   * The event bus, counting what is published through it (coap_notifications_total, lwm2m_events_total) and
   * logging the registration lifecycle: an operator sees devices come and go at the default log level.
   */
  private countingEvents(bus: EventBus): EventBus {
    return {
      publish: (e) => {
        this.events[e.type] = (this.events[e.type] ?? 0) + 1;
        if (e.type === 'notification') this.notifications++;
        else if (LIFECYCLE_EVENTS.has(e.type)) this.logger.log(describeLifecycleEvent(e));
        return bus.publish(e);
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
    this.udp?.prioritizeSources((_data, peer) => endpoint.awaitsAnswerFrom(peer));
    this.coapsUdp?.prioritizeSources(
      (data, peer) => data[0] === TLS12_CID || dtls.session(addressKey(peer)) !== undefined,
    );
  }

  /** Datagrams the public sockets' fair receive queues dropped, by reason (udp_receive_dropped_total). */
  receiveDrops(): { source: number; total: number } {
    const a = this.udp?.receiveDrops ?? { source: 0, total: 0 };
    const b = this.coapsUdp?.receiveDrops ?? { source: 0, total: 0 };
    return { source: a.source + b.source, total: a.total + b.total };
  }

  /** What the gateway's metrics read at each scrape (libs/metrics registerGatewayMetrics). */
  metricSources(): GatewayMetricsSources {
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
    };
  }

  /**
   * Serves more resources on this node's CoAP endpoint, tried before discovery and the LwM2M interfaces
   * (the single-node start mounts the group-observer's /ps here). `handler` answers undefined for the rest.
   */
  mount(handler: (req: IncomingRequest) => Promise<OutgoingResponse> | OutgoingResponse | undefined): void {
    this.mounted = handler;
  }

  /** The NoSec UDP socket (undefined with COAP_NOSEC=false): multicast notifications leave from it. */
  get nosecTransport(): UdpTransport | undefined {
    return this.udp;
  }

  /** Cluster mode: true while this node holds its lease (readiness). */
  get serving(): boolean {
    return this.membership === undefined || !this.drained;
  }
}
