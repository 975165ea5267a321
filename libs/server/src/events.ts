// The event stream (Redis Streams in the product): what happened to devices, in order, seen once by each
// consumer on any node.
import type { Registration } from './registration';

/** A value as it crosses process boundaries (JSON): opaque as base64, time as seconds, bigint as string. */
export interface JsonPathValue {
  path: string;
  type: string;
  value: unknown;
  /** seconds since epoch (SenML t) when the device timestamped it */
  time?: number;
}

export type Lwm2mEvent =
  | {
      type: 'registered';
      endpoint: string;
      registration: Registration;
      replaced?: string;
      /** Observations the replaced registration had (the scheduler re-establishes them). */
      cancelledObservations?: LostObservation[];
    }
  | { type: 'updated'; endpoint: string; registration: Registration }
  /** reason: 'device' (De-register, TS 1.2 Core 6.2.3) or 'operator' (DELETE /api/v1/devices/{ep}). */
  | { type: 'deregistered'; endpoint: string; registrationId: string; reason?: 'device' | 'operator' }
  | { type: 'expired'; endpoint: string; registrationId: string; cancelledObservations?: LostObservation[] }
  /** A queue-mode client sent a datagram after being silent longer than its awake window (TS 1.2 Core 6.5). */
  | { type: 'awake'; endpoint: string; registrationId: string; silentMs: number }
  /** A queued request changed state (queued, delivering, and the final ones). */
  | {
      type: 'request';
      endpoint: string;
      requestId: string;
      op: string;
      state: QueuedRequestState;
      attempt?: number;
      result?: DeviceCommandResultSummary;
      error?: string;
    }
  /** An observation lost to a re-registration or expiry was established again without operator action. */
  | {
      type: 'reobserved';
      endpoint: string;
      observationId: string;
      previousObservationId: string;
      paths: string[];
    }
  | {
      type: 'notification';
      endpoint: string;
      observationId: string;
      paths: string[];
      /** What the notification carried (for a patch: only the changed resources). */
      values: JsonPathValue[];
      /**
       * Issue 19: 'patch' when it was merged over the last full state, 'full' when it replaced it. `changed`
       * is what it set (a patch: the changed resources; a full one: the whole state), `removed` what a patch
       * removed. The merged object is on GET .../observations/{id} and on SSE with ?merged=true.
       */
      mode?: 'full' | 'patch';
      changed?: JsonPathValue[];
      removed?: string[];
      /** Added by the api on request (SSE ?merged=true): the merged state of the observed paths. */
      merged?: JsonPathValue[];
      contentFormat?: number;
    }
  | { type: 'send'; endpoint: string; values: JsonPathValue[]; contentFormat?: number }
  | { type: 'response'; endpoint: string; requestId: string; result: DeviceCommandResultSummary }
  /**
   * A firmware campaign (libs/campaigns) changed: a device's run (`endpoint`, `state`, `from`) or, with an
   * empty `endpoint`, the campaign itself (`campaignState`, `phase`, `reason`, `ended`).
   */
  | {
      type: 'campaign';
      endpoint: string;
      campaignId: string;
      state?: string;
      from?: string;
      attempt?: number;
      resultCode?: number;
      error?: string;
      campaignState?: string;
      phase?: string;
      reason?: string;
      ended?: boolean;
    }
  /** LwM2M TS 1.2 Core 6.1: a Bootstrap-Request was accepted and the sequence began (or was taken over). */
  | { type: 'bootstrap-started'; endpoint: string; sessionId: string; node?: string; resumedAt?: string }
  /** The client answered Bootstrap-Finish with 2.04: it now registers with the servers written. */
  | { type: 'bootstrap-finished'; endpoint: string; sessionId: string; servers: number }
  /** The sequence stopped at `step` (e.g. "write /0/1", "finish"); `error` never holds key material. */
  | { type: 'bootstrap-failed'; endpoint: string; sessionId: string; step: string; error: string };

/** What the event stream keeps of an observation a registration lost. */
export interface LostObservation {
  id: string;
  paths: string[];
  composite: boolean;
  contentFormat?: number;
  /** A "patch" observation stays one when it is re-established (issue 19). */
  notifications?: 'patch';
}

/** Life of a request queued for a sleeping device; the last four are final. */
export type QueuedRequestState = 'queued' | 'delivering' | 'succeeded' | 'failed' | 'expired' | 'cancelled';

export interface DeviceCommandResultSummary {
  ok: boolean;
  status: number;
  coapCode?: string;
}

/** An event as read back from the stream, with its stream id (resume point for SSE Last-Event-ID). */
export type StoredEvent = Lwm2mEvent & { id: string; at: number };

/** Every Lwm2mEvent type, in one list (SSE documentation, webhook filters). */
export const LWM2M_EVENT_TYPES = [
  'registered',
  'updated',
  'deregistered',
  'expired',
  'awake',
  'notification',
  'send',
  'response',
  'request',
  'reobserved',
  'bootstrap-started',
  'bootstrap-finished',
  'bootstrap-failed',
  'campaign',
] as const satisfies ReadonlyArray<Lwm2mEvent['type']>;

/** The events of a registration's life, logged at the default level by the node that publishes them. */
export const LIFECYCLE_EVENTS: ReadonlySet<Lwm2mEvent['type']> = new Set([
  'registered',
  'updated',
  'deregistered',
  'expired',
]);

/** One log line (key=value pairs) for a lifecycle event; never any credential. */
export function describeLifecycleEvent(e: Lwm2mEvent): string {
  const ep = `ep=${JSON.stringify(e.endpoint)}`;
  switch (e.type) {
    case 'registered':
    case 'updated': {
      const r = e.registration;
      const replaced = e.type === 'registered' && e.replaced ? ` replaced=${e.replaced}` : '';
      return (
        `${e.type} ${ep} id=${r.registrationId} security=${r.security} lwm2m=${r.lwm2mVersion} ` +
        `lt=${r.lifetime}s queue=${r.queueMode} from=${r.address.address}:${r.address.port}${replaced}`
      );
    }
    case 'deregistered':
      return `deregistered ${ep} id=${e.registrationId}`;
    case 'expired':
      return `expired ${ep} id=${e.registrationId} observations_lost=${e.cancelledObservations?.length ?? 0}`;
    default:
      return `${e.type} ${ep}`;
  }
}
