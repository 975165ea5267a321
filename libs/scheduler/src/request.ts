// A request an operator (or the scheduler itself) queued for a device: what the REST api and the event
// stream show of it.
import type { DeviceCommand, DeviceCommandResult, QueuedRequestState } from '@lwm2m/server';

export type { QueuedRequestState };

export const FINAL_STATES: readonly QueuedRequestState[] = ['succeeded', 'failed', 'expired', 'cancelled'];

export function isFinal(state: QueuedRequestState): boolean {
  return FINAL_STATES.includes(state);
}

/** Who asked: an operator through the api, or the scheduler re-establishing a lost observation. */
export type RequestOrigin = 'operator' | 'reobserve';

/** The stored command: a DeviceCommand without the per-attempt fields. */
export type QueuedCommand = Omit<DeviceCommand, 'timeoutMs' | 'createdAt' | 'delivery'> & {
  /** Device answer timeout per attempt, ms. */
  timeoutMs: number;
};

export interface QueuedRequest {
  id: string;
  endpoint: string;
  command: QueuedCommand;
  origin: RequestOrigin;
  /** For origin 'reobserve': the observation it replaces. */
  previousObservationId?: string;
  state: QueuedRequestState;
  /** Delivery attempts started so far. */
  attempts: number;
  /** ms since epoch */
  acceptedAt: number;
  expiresAt: number;
  updatedAt: number;
  /** Earliest next attempt after a retryable failure (backoff). */
  notBefore?: number;
  /** The device's answer (final states after a delivery). */
  result?: DeviceCommandResult;
  /** Why it failed, expired or was retried last. */
  error?: string;
}
