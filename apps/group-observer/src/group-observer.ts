// The group-observer as a mountable unit: topics published over REST, observed over CoAP at /ps/{name},
// each change sent as one multicast notification (draft-tiloca-core-observe-multicast-notifications-04).
// It runs on any CoapEndpoint: its own (standalone main) or the gateway's, so that in the single-node
// start /ps/{name} is served on the LwM2M server's CoAP port.
import {
  CoapCode,
  type CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import {
  configureGroupObserveNumbers,
  type GroupObservationStore,
  GroupObserveServer,
  GroupOscoreServer,
  InMemoryGroupObservationStore,
  transportMulticastSender,
  type GroupObservationInfo,
  type GroupObserveLogger,
  type Representation,
} from '@lwm2m/group-observe';
import { encodeCbor } from '@lwm2m/lwm2m';
import { GroupSecurityContext, leasedSequence } from '@lwm2m/oscore';
import {
  groupObserveKeys,
  RedisGroupObservationStore,
  RedisMulticastLeg,
  RedisSequenceLeaseStore,
  RedisTopicStore,
  type TopicRecord,
} from '@lwm2m/registry';
import type { UdpTransport } from '@lwm2m/udp';
import type { RedisClient } from '@lwm2m/registry';
import type { GroupObserverMetricsSources } from '@lwm2m/metrics';
import type { GroupObserverConfig } from './config';

/** The CoAP path prefix of topics. */
export const TOPIC_PREFIX = 'ps';
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Content formats a topic value may be published in (RFC 7252 12.3 / IANA). */
export const TOPIC_CONTENT_FORMATS = { TEXT: 0, OCTETS: 42, JSON: 50, CBOR: 60 } as const;

export class TopicError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface TopicView {
  name: string;
  uri: string;
  value: unknown;
  contentFormat: number;
  updatedAt: number;
  traditionalObservers: number;
  groupObservation: null | {
    token: string;
    group: { address: string; port: number };
    server: { address: string; port: number };
    observers: number;
    observe: number;
    lastNotification: { sent: boolean; code: string; contentFormat?: number; payload: string };
    lastSentAt: number;
  };
}

export interface MountGroupObserverOptions {
  /** The CoAP endpoint /ps/{name} is served on (the gateway's in the single-node start). */
  endpoint: CoapEndpoint;
  /** Its UDP transport: multicast notifications leave from the same socket (SRV_ADDR:SRV_PORT, section 2.3). */
  udp: UdpTransport;
  /** Where topics and group observations live; without it (memory mode) in this process's memory. */
  redis?: RedisClient;
  config: GroupObserverConfig;
  keyPrefix?: string;
  logger?: GroupObserveLogger;
}

export interface GroupObserver {
  /** Request handler: a response for /ps/... and /.well-known/core/mc-sender, undefined otherwise. */
  handle(req: IncomingRequest): Promise<OutgoingResponse> | undefined;
  publish(name: string, value: unknown, contentFormat?: number): Promise<TopicView>;
  list(): TopicView[];
  get(name: string): TopicView | undefined;
  readonly server: GroupObserveServer;
  /** GROUP_OSCORE=on: the protection layer (its `rekey()` takes the Group Manager's next context). */
  readonly groupOscore?: GroupOscoreServer;
  close(): Promise<void>;
}

function encodeValue(value: unknown, cf: number): Buffer {
  switch (cf) {
    case TOPIC_CONTENT_FORMATS.TEXT:
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new TopicError(400, 'text/plain (0) takes a string, number or boolean value');
      }
      return Buffer.from(String(value), 'utf8');
    case TOPIC_CONTENT_FORMATS.JSON:
      return Buffer.from(JSON.stringify(value), 'utf8');
    case TOPIC_CONTENT_FORMATS.CBOR:
      return encodeCbor(value);
    case TOPIC_CONTENT_FORMATS.OCTETS:
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
        throw new TopicError(400, 'application/octet-stream (42) takes a base64 string');
      }
      return Buffer.from(value, 'base64');
    default:
      throw new TopicError(400, `contentFormat must be one of 0, 42, 50, 60, got ${String(cf)}`);
  }
}

function serverAddress(config: GroupObserverConfig, bound: Peer): string {
  if (config.SRV_ADDR) return config.SRV_ADDR;
  return bound.address === '0.0.0.0' || bound.address === '::' ? config.MULTICAST_INTERFACE : bound.address;
}

/** The published topics, as kept (RedisTopicStore, or InMemoryTopicStore in memory mode). */
export interface TopicStore {
  list(): Promise<TopicRecord[]>;
  save(topic: TopicRecord): Promise<void>;
}

export class InMemoryTopicStore implements TopicStore {
  private readonly topics = new Map<string, TopicRecord>();

  async list(): Promise<TopicRecord[]> {
    return [...this.topics.values()].map((t) => structuredClone(t));
  }

  async save(topic: TopicRecord): Promise<void> {
    this.topics.set(topic.name, structuredClone(topic));
  }
}

/**
 * Section 6: the server's Group OSCORE context from the configured keying material. Its sender sequence
 * is leased from Redis (RFC 8613 B.1.1), so a restart never reuses a (Sender ID, Partial IV) nonce.
 */
async function groupOscoreServer(
  config: GroupObserverConfig,
  redis: RedisClient | undefined,
  keys: ReturnType<typeof groupObserveKeys>,
  logger: GroupObserveLogger | undefined,
): Promise<GroupOscoreServer | undefined> {
  const g = config.GROUP_OSCORE;
  if (!g) return undefined;
  if (!redis) throw new Error('GROUP_OSCORE=on needs Redis (REDIS_URL) for its sender sequence leases');
  const sequence = await leasedSequence({
    store: new RedisSequenceLeaseStore(redis, keys.sequence),
    contextKey: `${g.group.gid}:${g.senderId}`,
    onError: (err) => logger?.warn('group-oscore: sequence lease failed', { error: String(err) }),
  });
  const privateKey = Buffer.from(g.privateKey, 'hex');
  const self = g.group.members.find((m) => m.senderId === g.senderId)!;
  const context = GroupSecurityContext.fromConfig(
    g.group,
    {
      senderId: Buffer.from(g.senderId, 'hex'),
      privateKey,
      publicKey: Buffer.from(self.publicKey, 'hex'),
      credential: Buffer.from(self.credential, 'hex'),
    },
    { sequence },
  );
  return new GroupOscoreServer({ context, ...(g.join ? { join: g.join } : {}) });
}

/**
 * Builds the group-observer on an existing endpoint, restores topics and group observations from
 * Redis (same T, Observe numbers and counters as before the restart) and returns its handler.
 */
export async function mountGroupObserver(opts: MountGroupObserverOptions): Promise<GroupObserver> {
  const { endpoint, udp, redis, config } = opts;
  configureGroupObserveNumbers({
    ...(config.GROUP_OBSERVE_MRFD_OPTION !== undefined
      ? { mrfdOption: config.GROUP_OBSERVE_MRFD_OPTION }
      : {}),
    ...(config.GROUP_OBSERVE_CONTENT_FORMAT !== undefined
      ? { informativeContentFormat: config.GROUP_OBSERVE_CONTENT_FORMAT }
      : {}),
  });
  const keys = groupObserveKeys(opts.keyPrefix);
  const topicStore: TopicStore = redis ? new RedisTopicStore(redis, keys) : new InMemoryTopicStore();
  const observationStore: GroupObservationStore = redis
    ? new RedisGroupObservationStore(redis, keys)
    : new InMemoryGroupObservationStore();
  const topics = new Map<string, TopicRecord>();
  for (const t of await topicStore.list()) topics.set(t.name, t);
  const bound = udp.address();
  const srv = { address: serverAddress(config, bound), port: bound.port };
  let leg: RedisMulticastLeg | undefined;
  if (config.GROUP_OBSERVE_LEG === 'redis') {
    if (!redis) throw new Error('GROUP_OBSERVE_LEG=redis needs Redis (REDIS_URL)');
    leg = new RedisMulticastLeg(redis, keys);
  } else {
    udp.enableMulticastSend({
      interface: config.MULTICAST_INTERFACE,
      ttl: config.MULTICAST_TTL,
      loopback: true,
    });
  }
  const representation = (path: readonly string[]): Representation | undefined => {
    if (path.length !== 2 || path[0] !== TOPIC_PREFIX) return undefined;
    const t = topics.get(path[1]);
    return t && { payload: Buffer.from(t.payload, 'base64'), contentFormat: t.contentFormat };
  };
  const groupOscore = await groupOscoreServer(config, redis, keys, opts.logger);
  const server = new GroupObserveServer({
    endpoint,
    ...(groupOscore ? { protection: groupOscore } : {}),
    sender: leg ? leg.sender(srv) : transportMulticastSender(udp),
    group: { address: config.MULTICAST_GROUP_ADDR, port: config.MULTICAST_GROUP_PORT },
    server: srv,
    resources: representation,
    isGroupResource: (path) => path[0] === TOPIC_PREFIX,
    threshold: config.GROUP_OBSERVE_THRESHOLD,
    minIntervalMs: config.MULTICAST_MIN_INTERVAL_MS,
    maxPayload: config.MULTICAST_MAX_PAYLOAD,
    roughCounting: {
      desiredConfirmations: config.GROUP_OBSERVE_FEEDBACK_M,
      maxConfirmationWaitMs: config.GROUP_OBSERVE_CONFIRMATION_WAIT_MS,
      dampener: config.GROUP_OBSERVE_DAMPENER,
      cancelThreshold: config.GROUP_OBSERVE_CANCEL_THRESHOLD,
    },
    store: observationStore,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  await server.restore();

  const view = (t: TopicRecord): TopicView => {
    const g: GroupObservationInfo | undefined = server.get(`${TOPIC_PREFIX}/${t.name}`);
    return {
      name: t.name,
      uri: `/${TOPIC_PREFIX}/${t.name}`,
      value: t.value,
      contentFormat: t.contentFormat,
      updatedAt: t.updatedAt,
      traditionalObservers: endpoint.listObservers([TOPIC_PREFIX, t.name]).length,
      groupObservation: g
        ? {
            token: g.token,
            group: g.group,
            server: g.server,
            observers: g.counter,
            observe: g.observe,
            lastNotification: {
              sent: g.lastNotification.sent,
              code: `${g.lastNotification.code >> 5}.${String(g.lastNotification.code & 31).padStart(2, '0')}`,
              ...(g.lastNotification.contentFormat !== undefined
                ? { contentFormat: g.lastNotification.contentFormat }
                : {}),
              payload: g.lastNotification.payload.toString('base64'),
            },
            lastSentAt: g.lastSentAt,
          }
        : null,
    };
  };

  return {
    server,
    ...(groupOscore ? { groupOscore } : {}),
    handle(req) {
      const res = server.handle(req);
      if (res !== undefined || req.path[0] !== TOPIC_PREFIX) return res;
      return Promise.resolve({ code: CoapCode.NOT_FOUND });
    },
    async publish(name, value, contentFormat) {
      if (!TOPIC_NAME.test(name)) throw new TopicError(400, 'topic names are 1..64 of [A-Za-z0-9._-]');
      const cf =
        contentFormat ??
        (typeof value === 'string' ? TOPIC_CONTENT_FORMATS.TEXT : TOPIC_CONTENT_FORMATS.JSON);
      const payload = encodeValue(value, cf);
      const record: TopicRecord = {
        name,
        value,
        contentFormat: cf,
        payload: payload.toString('base64'),
        updatedAt: Date.now(),
      };
      await topicStore.save(record);
      topics.set(name, record);
      await server.publish([TOPIC_PREFIX, name], { payload, contentFormat: cf });
      return view(record);
    },
    list: () => [...topics.values()].map(view),
    get(name) {
      const t = topics.get(name);
      return t && view(t);
    },
    async close() {
      server.close();
      await leg?.close();
    },
  };
}

/** What the group_observe* metrics read at each scrape (libs/metrics registerGroupObserverMetrics). */
export function groupObserverMetricSources(observer: GroupObserver): GroupObserverMetricsSources {
  return {
    groupObserve: () => observer.server.stats,
    groupObservations: () => {
      const groups = observer.server.list();
      return { count: groups.length, observers: groups.reduce((n, g) => n + g.counter, 0) };
    },
    topics: () => observer.list().length,
  };
}
