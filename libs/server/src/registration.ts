// LwM2M TS 1.2 Core section 6.2 (Client Registration Interface) / Transport 6.4: what the server keeps
// about one registered client. Plain data: it is stored in Redis as JSON and returned by the REST API.

import type { SessionRef } from '@lwm2m/transport';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

export interface PeerAddress {
  address: string;
  port: number;
}

export interface ObjectLinkInfo {
  /** "/3/0", "/3" or "/" (root link with rt/ct). */
  path: string;
  /** Link attributes as sent (ver, ssid, ct, ...). */
  attributes: Record<string, string>;
}

export interface Registration {
  /** Server-assigned id: the Location-Path of the Register response (/rd/{registrationId}). */
  registrationId: string;
  /** Endpoint Client Name ("ep"). */
  endpoint: string;
  lwm2mVersion: Lwm2mVersion;
  /** Seconds ("lt", default 86400). */
  lifetime: number;
  /** Binding mode ("b"): U, T, S, N and (1.0) Q combinations. */
  binding: string;
  /** Queue mode: 1.0 "UQ" binding, 1.1+ the "Q" parameter. */
  queueMode: boolean;
  smsNumber?: string;
  /** Where the device is reached: the source of its latest registration message or uplink. */
  address: PeerAddress;
  /** The peer's session: its address (NoSec, or DTLS without CID) or its DTLS Connection ID. */
  session: SessionRef;
  /** Alternate root path from the `</path>;rt="oma.lwm2m"` link, "/" when none. */
  rootPath: string;
  objectLinks: ObjectLinkInfo[];
  /** Content-Formats the client declared in the root link's ct attribute (1.1+). */
  supportedContentFormats: number[];
  /** ms since epoch */
  registeredAt: number;
  lastUpdate: number;
  lastSeen: number;
  /**
   * Queue mode: when a request to the device went unanswered (ms since epoch). Later than lastSeen means the
   * device sleeps: requests are queued until its next message (TS 1.2 Core 6.5).
   */
  asleepAt?: number;
  /** ms since epoch when the lifetime runs out without an Update. */
  expiresAt: number;
  /** Which gateway node took the latest datagram (cluster mode). */
  gatewayNode?: string;
  /** How the client authenticated ('nosec' on UDP 5683). */
  security: 'nosec' | 'psk' | 'rpk' | 'x509' | 'oscore';
  /** Any other query parameter of the Register request. */
  extraAttributes?: Record<string, string>;
}

/**
 * Where and when a device was last heard from: kept apart from its registration, in a small record of its
 * own, because every datagram changes it (the registration record changes only on Register and Update).
 */
export interface Presence {
  endpoint: string;
  /** The registration the sighting belongs to: a presence never outlives it or moves to a new one. */
  registrationId: string;
  lastSeen: number;
  address: PeerAddress;
  session: SessionRef;
  gatewayNode?: string;
}

/** What recording a sighting found (RegistrationStore.touch). */
export interface PresenceResult {
  /** False: the registration is gone or replaced, nothing was written. */
  registered: boolean;
  /** Set when the sighting woke a sleeping queue-mode client: how long it had been silent, ms. */
  wokeAfterMs?: number;
}

/**
 * TS 1.2 Core 6.5, for the store's touch: a queue-mode client heard from at `at` after it was last seen at
 * `lastSeen` was asleep when it had been silent past the awake window or a request found it asleep since.
 */
export function wokeBy(
  reg: Pick<Registration, 'queueMode' | 'lastSeen' | 'asleepAt'>,
  at: number,
  awakeWindowMs: number,
): number | undefined {
  if (!reg.queueMode || at <= reg.lastSeen) return undefined;
  const markedAsleep = reg.asleepAt !== undefined && reg.asleepAt >= reg.lastSeen && at > reg.asleepAt;
  return markedAsleep || at - reg.lastSeen > awakeWindowMs ? at - reg.lastSeen : undefined;
}

/**
 * The registration as readers see it: the presence's fields when it is of this registration and newer than
 * the record's own lastSeen (an Update writes address and lastSeen into the record, so an older sighting
 * from before it never wins).
 */
export function withPresence(reg: Registration, presence: Presence | undefined): Registration {
  if (presence === undefined || presence.registrationId !== reg.registrationId) return reg;
  if (presence.lastSeen <= reg.lastSeen) return reg;
  return {
    ...reg,
    lastSeen: presence.lastSeen,
    address: { address: presence.address.address, port: presence.address.port },
    session: presence.session,
    ...(presence.gatewayNode !== undefined ? { gatewayNode: presence.gatewayNode } : {}),
  };
}
