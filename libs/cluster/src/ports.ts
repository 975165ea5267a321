// What the cluster needs from shared state (Redis in the product, libs/registry; in-memory twins in tests).

/** A live gateway as the others see it. */
export interface NodeInfo {
  /** Numeric id, carried in every CID this node issues. */
  id: number;
  /** NODE_ID, the name in registrations and events. */
  name: string;
  /** Where its cluster link listens (host, CLUSTER_PORT). */
  linkHost: string;
  linkPort: number;
  /** DTLS sessions it serves, as of its last heartbeat. */
  sessions: number;
  startedAt: number;
  /** Last heartbeat, ms since epoch. */
  seenAt: number;
}

export interface MembershipStore {
  /**
   * Takes the lease of node `id` (undefined: the lowest free id from 1) for `ttlMs`. Resolves the id taken,
   * or undefined when `id` is held by a live node.
   */
  claim(info: Omit<NodeInfo, 'id' | 'seenAt'> & { id?: number }, ttlMs: number): Promise<number | undefined>;
  /** Extends the lease and updates the info; false when the lease was lost (another node holds the id). */
  renew(info: Omit<NodeInfo, 'seenAt'>, ttlMs: number, token: string): Promise<boolean>;
  /** The nodes whose lease is alive. */
  live(): Promise<NodeInfo[]>;
  /** Gives the lease up (graceful shutdown): others may take over its sessions at once. */
  release(id: number, token: string): Promise<void>;
  /** The token proving this process holds the lease it claimed (set by claim). */
  readonly token: string;
}

/** A DTLS session as kept in Redis: the sealed snapshot and its ownership. */
export interface StoredSession {
  /** Sealed DtlsSessionSnapshot (cluster-key AEAD). */
  sealed: Buffer;
  owner: number;
  /** Write sequence numbers below this may have been used by some owner. */
  seqEnd: number;
  /** Highest read sequence number an owner reported accepting (anti-replay after a takeover). */
  readTop: number;
  /** The device's address as last reported. */
  address?: string;
  port?: number;
  family?: 'IPv4' | 'IPv6';
}

export type TakeoverResult =
  | { kind: 'taken'; session: StoredSession; seqStart: number }
  | { kind: 'owned'; owner: number }
  | { kind: 'missing' };

export interface ClusterSessionStore {
  /** Stores a new session owned by `session.owner` (replacing any record under that CID). */
  put(cid: string, session: StoredSession, ttlMs: number): Promise<void>;
  /** The owner of a session, or undefined when none is stored. */
  owner(cid: string): Promise<number | undefined>;
  /**
   * Atomically: when the session's owner is `expectedOwner` (a node known dead, or us), makes `newOwner` the
   * owner and leases it the write sequences [seqEnd, seqEnd + block).
   */
  takeover(cid: string, expectedOwner: number, newOwner: number, block: number): Promise<TakeoverResult>;
  /** Extends the owner's sequence lease by `block`; undefined when `owner` no longer owns the session. */
  extend(cid: string, owner: number, block: number): Promise<number | undefined>;
  /** Batched: read high-water mark and address of sessions that saw traffic, and their TTL. */
  touch(
    updates: Array<{ cid: string; owner: number; readTop: number; address: string; port: number }>,
    ttlMs: number,
  ): Promise<void>;
  /** Removes the session when `owner` still owns it. */
  remove(cid: string, owner: number): Promise<void>;
}
