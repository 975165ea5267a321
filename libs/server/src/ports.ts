// What the LwM2M server needs from shared state. libs/registry implements these on Redis; the in-memory
// implementations in ./memory serve unit tests. Both pass the contract suites in libs/server/test/contracts.
import type { DeviceCommand, DeviceCommandResult } from './commands';
import type { JsonPathValue, Lwm2mEvent, StoredEvent } from './events';
import type { Presence, PresenceResult, Registration } from './registration';
import type { Credential, CredentialInfo, OscoreCredential } from './security';

export interface ListQuery {
  limit: number;
  cursor?: string;
  /** Substring match on the endpoint name. */
  q?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** RegistrationStore.update's event: built from the updated registration; `appended` set by a store that appended it. */
export interface UpdateAnnouncement {
  event(updated: Registration): Lwm2mEvent;
  appended?: string;
}

export interface RegistrationStore {
  /**
   * Adds a registration. An existing registration of the same endpoint is replaced atomically and
   * returned, with the observations it had (removed): re-registration cancels observations.
   * `event` (the 'registered' event): a store may append it to the event stream in the same step, with
   * `replaced` set to the replaced registration's id, when no observation was cancelled; `eventId` says it
   * did (one Redis call instead of two). Without `eventId` the caller publishes the event.
   */
  register(
    reg: Registration,
    event?: Lwm2mEvent,
  ): Promise<{ replaced?: Registration; cancelledObservations: Observation[]; eventId?: string }>;
  /**
   * Applies an Update; undefined when the registration id is unknown (-> 4.04). `announce`: a store may
   * append announce.event(updated) to the event stream in the same step and set announce.appended to its
   * id; when it is left unset, the caller publishes the event.
   */
  update(
    registrationId: string,
    patch: Partial<
      Pick<
        Registration,
        | 'lifetime'
        | 'binding'
        | 'queueMode'
        | 'smsNumber'
        | 'objectLinks'
        | 'supportedContentFormats'
        | 'address'
        | 'session'
        | 'lastSeen'
        | 'asleepAt'
        | 'lastUpdate'
        | 'expiresAt'
        | 'gatewayNode'
      >
    >,
    announce?: UpdateAnnouncement,
  ): Promise<Registration | undefined>;
  /**
   * Removes it with its observations and values; undefined when unknown. `event`: a store may append it to
   * the event stream in the same step; `eventId` says it did, else the caller publishes it.
   */
  deregister(
    registrationId: string,
    event?: Lwm2mEvent,
  ): Promise<
    { registration: Registration; cancelledObservations: Observation[]; eventId?: string } | undefined
  >;
  getById(registrationId: string): Promise<Registration | undefined>;
  getByEndpoint(endpoint: string): Promise<Registration | undefined>;
  list(query: ListQuery): Promise<Page<Registration>>;
  /** How many endpoints are registered (the dashboard's fleet total); optional for other implementations. */
  count?(): Promise<number>;
  /**
   * Records sightings (uplinks) in the presence records, apart from the registrations, without changing a
   * lifetime; readers get them merged into the registration (withPresence). A sighting older than the stored
   * one changes nothing. Says per entry whether the registration is still there and whether the sighting
   * woke a sleeping queue-mode client (TS 1.2 Core 6.5: silent longer than `awakeWindowMs`, or marked
   * asleep by an unanswered request since it was last seen), judged against every node's sightings.
   * The LwM2M server calls it at most once per device per second (PresenceBuffer), many devices per call.
   */
  touch(presence: Presence[], awakeWindowMs: number): Promise<PresenceResult[]>;
  /**
   * Removes up to `max` registrations whose expiresAt <= now and returns them. Exactly once across the
   * cluster: two nodes calling it at the same time never get the same registration.
   */
  claimExpired(
    now: number,
    max: number,
  ): Promise<Array<{ registration: Registration; cancelledObservations: Observation[] }>>;
  /** The earliest expiresAt, to schedule the next claim (undefined when empty). */
  nextExpiry(): Promise<number | undefined>;
}

export interface Observation {
  id: string;
  endpoint: string;
  registrationId: string;
  /** CoAP token, hex: lets any node match a notification. */
  token: string;
  paths: string[];
  composite: boolean;
  contentFormat?: number;
  createdAt: number;
  /**
   * 'patch': the device's notifications carry only what changed (declared by the operator for devices that
   * send partial SenML or LwM2M CBOR); they are merged over the last full state. SenML-ETCH notifications
   * (RFC 8790) are merged whatever this says.
   */
  notifications?: 'patch';
}

export interface ObservationStore {
  add(obs: Observation): Promise<void>;
  getById(id: string): Promise<Observation | undefined>;
  getByToken(token: string): Promise<Observation | undefined>;
  listByEndpoint(endpoint: string): Promise<Observation[]>;
  remove(id: string): Promise<Observation | undefined>;
}

/**
 * One notification of an observation as the ValueStore applies it (issue 19): 'full' replaces everything
 * known under the observation's paths (resources it no longer mentions are gone); 'patch' sets `values` and
 * removes `removed` over the last full state, leaving the rest as it was.
 */
export interface NotificationUpdate {
  observationId: string;
  mode: 'full' | 'patch';
  /** The observation's paths (what a full notification describes entirely). */
  paths: string[];
  values: JsonPathValue[];
  /** Resource (instance) paths the patch removes (a SenML-ETCH record with a null value). */
  removed: string[];
  /** The notification's Observe number: one older than the last applied (RFC 7641 section 3.4) changes nothing. */
  observe?: number;
}

/** A latest value as stored: when it was last received, and when it last changed (a different value). */
export type StoredValue = JsonPathValue & { receivedAt: number; changedAt?: number };

/** Latest known values per device, from responses, notifications and Send. */
export interface ValueStore {
  /**
   * `event`: a store may append it to the event stream in the same step and return its id (one Redis call
   * instead of two); when it returns nothing, the caller publishes the event.
   */
  put(
    endpoint: string,
    values: JsonPathValue[],
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<string | void>;
  /**
   * Applies one notification (NotificationUpdate), atomically with the freshness check of its Observe number
   * against the last one applied for that observation, whichever node applied it; `event` as in put(), its
   * `changed`/`values` already set. `applied: false` when it was older (nothing written, no event).
   */
  notify(
    endpoint: string,
    update: NotificationUpdate,
    receivedAt: number,
    event?: Lwm2mEvent,
  ): Promise<{ applied: boolean; eventId?: string }>;
  get(endpoint: string): Promise<StoredValue[]>;
  /** Drops what notify() kept of an ended observation (its ordering state); the values stay. */
  forgetObservation?(endpoint: string, observationId: string): Promise<void>;
  clear(endpoint: string): Promise<void>;
}

export interface EventBus {
  publish(event: Lwm2mEvent): Promise<string>;
  /**
   * Told of an event a store appended to the stream itself, in the same step as its change (the eventId
   * of RegistrationStore.register and the like), for what watches publish() (counters, logs). Writes nothing.
   */
  appended?(event: Lwm2mEvent, id: string): void;
  /**
   * Events after `afterId` ('$' = only new ones), in order, until the signal aborts. Each subscriber sees
   * every event (fan-out, for SSE); `filter` narrows by endpoint.
   */
  subscribe(opts: { afterId?: string; endpoint?: string; signal: AbortSignal }): AsyncIterable<StoredEvent>;
  /** The last `count` events (newest last), for tests and the dashboard. */
  recent(count: number, endpoint?: string): Promise<StoredEvent[]>;
}

/**
 * api -> gateway: run a command on whichever node holds the device and wait for its result.
 * The api never needs to know which node that is.
 */
export interface CommandBus {
  /** api side: resolves with the result, or a 504 result after cmd.timeoutMs. */
  execute(cmd: DeviceCommand): Promise<DeviceCommandResult>;
  /** gateway side: start taking commands; returns a stop function. */
  serve(handler: (cmd: DeviceCommand) => Promise<DeviceCommandResult>): Promise<() => Promise<void>>;
}

/**
 * Security credentials by endpoint, and the reverse indexes the DTLS handshake and the registration
 * check use (LwM2M TS 1.2 Transport 5.2). A credential may be provisioned before the device ever
 * registers. PSK keys are kept as given; pskByIdentity is the only read that returns one.
 */
export interface CredentialStore {
  /**
   * Sets the endpoint's credential, replacing (and un-indexing) any previous one atomically; returns the
   * replaced one without secrets. Throws CredentialConflictError when another endpoint holds the same PSK
   * identity, public key or subject.
   */
  put(endpoint: string, credential: Credential): Promise<{ replaced?: CredentialInfo }>;
  /** Without secrets. */
  get(endpoint: string): Promise<CredentialInfo | undefined>;
  /** Removes the credential and its index entry; returns it without secrets, undefined when none. */
  remove(endpoint: string): Promise<CredentialInfo | undefined>;
  /** The DTLS server's PSK lookup (RFC 4279 section 2): the one read that returns key material. */
  pskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined>;
  /** The endpoint a raw public key (DER SubjectPublicKeyInfo, as normalizeRpk returns it) belongs to. */
  endpointByPublicKey(publicKey: Buffer): Promise<string | undefined>;
  /** The endpoint provisioned for an X.509 subject Common Name. */
  endpointBySubject(subject: string): Promise<string | undefined>;
  /** The endpoint whose OSCORE context has Recipient ID `kid` (the device's Sender ID). */
  endpointByOscoreKid(kid: Buffer): Promise<string | undefined>;
  /**
   * The OSCORE gateway's lookups (RFC 8613 section 8.2 step 2): the context of `kid`, or of `endpoint`,
   * with its Master Secret. The two reads besides pskByIdentity that return key material.
   */
  oscoreByKid(kid: Buffer): Promise<{ endpoint: string; oscore: OscoreCredential } | undefined>;
  oscoreOf(endpoint: string): Promise<OscoreCredential | undefined>;
}

/** What the audit trail records of an operator's action: who, when, on what, and how it ended. */
export interface AuditEntry {
  /** ms since epoch. */
  at: number;
  /** The API key's name (never the key); "anonymous" when the api runs without API_KEYS. */
  actor: string;
  /** e.g. write, execute, observe, cancel-observation, credential-put (the api's AuditAction). */
  action: string;
  /** The HTTP request as the operator sent it (method and path, without the query). */
  request: { method: string; path: string };
  endpoint?: string;
  /** LwM2M paths the action targets. */
  paths?: string[];
  outcome: AuditOutcome;
  /** Non-secret facts about the request (e.g. value types and sizes, never written values or keys). */
  details?: Record<string, string | number | boolean | string[]>;
}

export interface AuditOutcome {
  /** success (2xx), accepted (queued for a sleeping device, 202) or failure. */
  result: 'success' | 'accepted' | 'failure';
  /** The HTTP status of the answer. */
  status: number;
  /** The device's CoAP code, when it answered. */
  coapCode?: string;
  /** The problem's type and detail of a failure. */
  error?: string;
  /** The command or queued request id. */
  requestId?: string;
}

/** An entry as stored: its id orders entries ("<ms>-<seq>", a Redis stream id). */
export interface StoredAuditEntry extends AuditEntry {
  id: string;
}

export interface AuditQuery {
  limit: number;
  /** Continue after (older than) this entry id: a page's nextCursor. */
  cursor?: string;
  endpoint?: string;
  action?: string;
  actor?: string;
}

/**
 * The audit trail: bounded (the oldest entries are dropped beyond the configured size), newest first.
 * A filtered page may hold fewer than `limit` items while nextCursor is set: each call examines a bounded
 * number of entries, and the caller follows nextCursor.
 */
export interface AuditStore {
  /** Appends an entry; returns its id. */
  record(entry: AuditEntry): Promise<string>;
  list(query: AuditQuery): Promise<Page<StoredAuditEntry>>;
}

/** A stream id as audit cursors use it: "<ms>-<seq>". */
export const AUDIT_ID = /^\d{1,15}-\d{1,15}$/;

/** Orders two audit ids (negative when a is older). */
export function compareAuditIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** Whether an entry passes a query's filters. */
export function auditEntryMatches(
  e: Pick<AuditEntry, 'endpoint' | 'action' | 'actor'>,
  q: Pick<AuditQuery, 'endpoint' | 'action' | 'actor'>,
): boolean {
  return (
    (q.endpoint === undefined || e.endpoint === q.endpoint) &&
    (q.action === undefined || e.action === q.action) &&
    (q.actor === undefined || e.actor === q.actor)
  );
}

/** One stored object definition: the DDF XML of one object version (libs/lwm2m parseDdf reads it). */
export interface StoredModel {
  objectId: number;
  version: string;
  xml: string;
}

/**
 * Object models uploaded through the api (POST /api/v1/models), shared by every api and gateway. Keyed by
 * object id and version; `revision` changes with every put, so a node re-reads the set only when it moved.
 */
export interface ModelStore {
  /** Stores a model; false (nothing written) when one of this id and version exists and `replace` is false. */
  put(model: StoredModel, replace: boolean): Promise<boolean>;
  list(): Promise<StoredModel[]>;
  /** How many models are stored. */
  count(): Promise<number>;
  revision(): Promise<number>;
}
