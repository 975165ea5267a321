// Redis side of draft-tiloca-core-observe-multicast-notifications: the group observations (so T, the
// Observe number and the counter survive a restart of the group-observer), the published topics, and
// a pub/sub leg that carries multicast notifications inside a cluster whose pod network has no IP
// multicast (each gateway subscribes instead of joining GRP_ADDR:GRP_PORT).
//
// Keys (slot {grpobs}):
//   <p>{grpobs}:observations   hash  resource -> GroupObservationRecord JSON
//   <p>{grpobs}:topics         hash  topic name -> TopicRecord JSON
//   <p>{grpobs}:mc:<addr>:<port>  pub/sub channel standing in for the multicast group
//   <p>{grpobs}:oscore-seq:<ctx>  string  end of the last Group OSCORE sender sequence lease (RFC 8613 B.1.1)
import { duplicateConnection } from './connections';
import type { Peer } from '@lwm2m/coap';
import type {
  GroupObservationRecord,
  GroupObservationStore,
  MulticastMembership,
  MulticastReceiver,
  MulticastSender,
} from '@lwm2m/group-observe';
import type { RedisClient } from './redis-client';
import { DEFAULT_KEY_PREFIX } from './keys';

export interface GroupObserveKeys {
  observations: string;
  topics: string;
  channel(group: Peer): string;
  sequence(contextKey: string): string;
}

export function groupObserveKeys(prefix: string = DEFAULT_KEY_PREFIX): GroupObserveKeys {
  if (/[{}]/.test(prefix)) throw new Error(`key prefix must not contain braces: ${prefix}`);
  return {
    observations: `${prefix}{grpobs}:observations`,
    topics: `${prefix}{grpobs}:topics`,
    channel: (group) => `${prefix}{grpobs}:mc:${group.address}:${group.port}`,
    sequence: (contextKey) => `${prefix}{grpobs}:oscore-seq:${contextKey}`,
  };
}

export class RedisGroupObservationStore implements GroupObservationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: GroupObserveKeys = groupObserveKeys(),
  ) {}

  async list(): Promise<GroupObservationRecord[]> {
    const all = await this.redis.hgetall(this.keys.observations);
    return Object.values(all).map((json) => JSON.parse(json) as GroupObservationRecord);
  }

  async save(record: GroupObservationRecord): Promise<void> {
    await this.redis.hset(this.keys.observations, record.resource, JSON.stringify(record));
  }

  async delete(resource: string): Promise<void> {
    await this.redis.hdel(this.keys.observations, resource);
  }
}

/** A published topic: its value as the operator sent it and the representation served over CoAP. */
export interface TopicRecord {
  name: string;
  value: unknown;
  contentFormat: number;
  /** The CoAP payload, base64. */
  payload: string;
  updatedAt: number;
}

export class RedisTopicStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: GroupObserveKeys = groupObserveKeys(),
  ) {}

  async list(): Promise<TopicRecord[]> {
    const all = await this.redis.hgetall(this.keys.topics);
    return Object.values(all).map((json) => JSON.parse(json) as TopicRecord);
  }

  async save(topic: TopicRecord): Promise<void> {
    await this.redis.hset(this.keys.topics, topic.name, JSON.stringify(topic));
  }
}

/** Envelope: source address length (1 byte), address (UTF-8), source port (2 bytes), the datagram. */
function wrap(source: Peer, data: Buffer): Buffer {
  const addr = Buffer.from(source.address, 'utf8');
  const head = Buffer.alloc(3 + addr.length);
  head[0] = addr.length;
  addr.copy(head, 1);
  head.writeUInt16BE(source.port, 1 + addr.length);
  return Buffer.concat([head, data]);
}

function unwrap(msg: Buffer): { source: Peer; data: Buffer } | undefined {
  if (msg.length < 3 || msg.length < 3 + msg[0]) return undefined;
  const n = msg[0];
  return {
    source: { address: msg.subarray(1, 1 + n).toString('utf8'), port: msg.readUInt16BE(1 + n) },
    data: msg.subarray(3 + n),
  };
}

/**
 * The pub/sub leg: `sender(SRV)` publishes each datagram "sent to the group" on the group's channel
 * with SRV_ADDR:SRV_PORT as its source; `join` subscribes (one dedicated subscriber connection).
 */
export class RedisMulticastLeg implements MulticastReceiver {
  private sub?: RedisClient;
  private readonly listeners = new Map<string, Set<(data: Buffer, source: Peer) => void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: GroupObserveKeys = groupObserveKeys(),
  ) {}

  sender(source: Peer): MulticastSender {
    return {
      send: async (data, group) => {
        await this.redis.publish(this.keys.channel(group), wrap(source, data));
      },
    };
  }

  async join(group: Peer, onDatagram: (data: Buffer, source: Peer) => void): Promise<MulticastMembership> {
    const channel = this.keys.channel(group);
    if (!this.sub) {
      this.sub = duplicateConnection(this.redis);
      this.sub.on('messageBuffer', (ch: Buffer, msg: Buffer) => {
        const set = this.listeners.get(ch.toString());
        const m = set && unwrap(msg);
        if (!m) return;
        for (const l of set) l(m.data, m.source);
      });
    }
    let set = this.listeners.get(channel);
    if (!set) {
      this.listeners.set(channel, (set = new Set()));
      await this.sub.subscribe(channel);
    }
    const listener = (data: Buffer, source: Peer): void => onDatagram(data, source);
    set.add(listener);
    return {
      leave: async () => {
        const s = this.listeners.get(channel);
        if (!s?.delete(listener) || s.size > 0) return;
        this.listeners.delete(channel);
        await this.sub?.unsubscribe(channel).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
