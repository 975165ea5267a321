// What the Bootstrap-Server needs from shared state: configurations (by endpoint, and a default) and the
// sessions of bootstraps in progress, so that any gateway can continue a bootstrap another one began.
// libs/registry implements both on Redis (secrets sealed with SECRETS_KEY); ./memory-stores serves tests.
import type { JsonPathValue } from '@lwm2m/server';
import type { BootstrapConfig, BootstrapOscore } from './config';

export interface BootstrapConfigStore {
  /**
   * Sets the configuration of `endpoint` (DEFAULT_CONFIG for the default). Throws
   * BootstrapIdentityConflictError on a bootstrapPsk identity or bootstrapOscore kid another endpoint holds.
   */
  put(endpoint: string, config: BootstrapConfig): Promise<void>;
  /** With its keys (the Bootstrap-Server writes them); the REST layer strips them with configInfo. */
  get(endpoint: string): Promise<BootstrapConfig | undefined>;
  remove(endpoint: string): Promise<boolean>;
  /** The DTLS PSK lookup of the bootstrap port: the endpoint and key of a bootstrapPsk identity. */
  bootstrapPskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined>;
  /** The OSCORE lookup of the bootstrap NoSec port: the configuration whose bootstrapOscore has this kid (recipientId). */
  bootstrapOscoreByKid(kid: Buffer): Promise<{ endpoint: string; oscore: BootstrapOscore } | undefined>;
}

export type BootstrapState = 'running' | 'finished' | 'failed';

/** One bootstrap of one client, as any node reads it to continue. */
export interface BootstrapSession {
  id: string;
  endpoint: string;
  state: BootstrapState;
  /** The node driving it, and until when its claim holds (ms since epoch); 0 = released. */
  node: string;
  leaseUntil: number;
  /** Index of the next step of the plan (plan.ts); the steps before it were answered with success. */
  step: number;
  startedAt: number;
  updatedAt: number;
  /** The Content-Format of the writes (the client's pct when it is supported, else TLV). */
  contentFormat: number;
  /** Whether the configuration applied is the default one. */
  usesDefault: boolean;
  /**
   * PSKs, OSCORE Master Secrets, RPK or X.509 private keys generated for this bootstrap, by Short Server ID.
   * Secret: sealed at rest, never in events.
   */
  keys: Record<number, Buffer>;
  /** Client certificates issued for this bootstrap's X.509 accounts (base64 DER; public), by Short Server ID. */
  certificates?: Record<number, string>;
  /**
   * Instance ids chosen after Bootstrap-Discover: Security, Server and OSCORE (21, OSCORE accounts) by Short
   * Server ID, ACLs in order.
   */
  instances?: {
    security: Record<number, number>;
    server: Record<number, number>;
    oscore?: Record<number, number>;
    acl: number[];
  };
  /** Bootstrap-Discover's answer (link format) and the Bootstrap-Read results (objects 1 and 2). */
  discovered?: string;
  read?: Record<string, JsonPathValue[]>;
  failedStep?: string;
  error?: string;
}

export interface BootstrapSessionStore {
  get(endpoint: string): Promise<BootstrapSession | undefined>;
  /**
   * Stores `session` unless another node holds a running session of the endpoint under a live lease (then
   * returns that one and stores nothing). Atomic across nodes.
   */
  claim(
    session: BootstrapSession,
    now: number,
  ): Promise<{ ok: true } | { ok: false; holder: BootstrapSession }>;
  /** Saves progress while `session.node` still owns session.id; false when another node took it over. */
  save(session: BootstrapSession): Promise<boolean>;
}
