// A group request: one operation fanned out to every member of a group, with a deadline and a rate limit,
// and one result per device. Mirrors draft-ietf-core-groupcomm-proxy at fleet level: each result names the
// device's endpoint as Reply-From names the origin server, and the deadline plays Multicast-Timeout's part
// (after it, nothing more is collected: devices still pending are timed out).
import type { DeviceCommandResult, JsonPathValue } from '@lwm2m/server';

export type GroupOperation = 'read' | 'write' | 'execute' | 'observe';
export const GROUP_OPERATIONS: readonly GroupOperation[] = ['read', 'write', 'execute', 'observe'];

/** What every member is asked (the DeviceCommand without its per-device fields). */
export interface GroupOperationSpec {
  op: GroupOperation;
  path: string;
  values?: JsonPathValue[];
  replace?: boolean;
  args?: string;
}

/**
 * A member's state: `pending` (not yet sent), `dispatching` (sent, waiting for the device), `queued`
 * (a sleeping queue-mode device: waits in its queue until it wakes), then one final state.
 */
export type MemberState =
  'pending' | 'dispatching' | 'queued' | 'succeeded' | 'failed' | 'timed-out' | 'cancelled';

export const MEMBER_STATES: readonly MemberState[] = [
  'pending',
  'dispatching',
  'queued',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
];
export const FINAL_MEMBER_STATES: ReadonlySet<MemberState> = new Set([
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
]);

/** One device's result, as Reply-From pairs a response with its origin server: `endpoint` names it. */
export interface MemberResult {
  endpoint: string;
  state: MemberState;
  /** The queued request's id while the device sleeps (GET /api/v1/requests/{id}). */
  requestId?: string;
  status?: number;
  coapCode?: string;
  contentFormat?: number;
  values?: JsonPathValue[];
  observationId?: string;
  /** A multicast group's server answered something other than LwM2M values: its payload, as text. */
  payload?: string;
  /** 'base64' when `payload` was not UTF-8 text. */
  payloadEncoding?: 'base64';
  /** A multicast server's response's Observe number (RFC 7641): its registration answer's or notification's. */
  observe?: number;
  /** A multicast observation: the server's notifications after its registration answer, kept so far. */
  notifications?: number;
  error?: string;
  /** ms since epoch of the last change. */
  at: number;
}

export type GroupRequestState = 'running' | 'cancelling' | 'completed' | 'cancelled';
export const GROUP_REQUEST_STATES: readonly GroupRequestState[] = [
  'running',
  'cancelling',
  'completed',
  'cancelled',
];

export interface RateLimit {
  /** Devices dispatched per second at most. */
  perSecond: number;
  /** Devices waiting for an answer at the same time at most (a queued device does not count). */
  maxInFlight: number;
}

export interface GroupRequest {
  id: string;
  group: string;
  spec: GroupOperationSpec;
  state: GroupRequestState;
  createdAt: number;
  createdBy: string;
  /** ms since epoch: after it nothing more is dispatched or collected (Multicast-Timeout's role). */
  deadline: number;
  /** Each device's answer timeout, ms (capped by what is left until the deadline). */
  timeoutMs: number;
  rate: RateLimit;
  /**
   * A multicast group's request (draft-ietf-core-groupcomm-proxy): sent once to this group address, with no
   * members known in advance; each server that answers adds one result, named by its address (Reply-From).
   */
  multicast?: { address: string; port: number };
  total: number;
  counts: Record<MemberState, number>;
  finishedAt?: number;
}

export function emptyCounts(): Record<MemberState, number> {
  return Object.fromEntries(MEMBER_STATES.map((s) => [s, 0])) as Record<MemberState, number>;
}

/** A member's result from a device's answer. */
export function resultOf(endpoint: string, r: DeviceCommandResult, at: number): MemberResult {
  return {
    endpoint,
    state: r.ok ? 'succeeded' : r.status === 504 && r.coapCode === undefined ? 'timed-out' : 'failed',
    status: r.status,
    ...(r.coapCode !== undefined ? { coapCode: r.coapCode } : {}),
    ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
    ...(r.values !== undefined ? { values: r.values } : {}),
    ...(r.observationId !== undefined ? { observationId: r.observationId } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    at,
  };
}
