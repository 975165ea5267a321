// The queued requests of every device, behind one interface: RedisRequestStore for the product (durable,
// shared by every replica), InMemoryRequestStore for memory mode and unit tests. Both pass the contract suite
// in libs/scheduler/test/contracts.
import type { DeliveryLedger, DeviceCommandResult, LostObservation } from '@lwm2m/server';
import type { QueuedCommand, QueuedRequest, QueuedRequestState, RequestOrigin } from './request';

export interface NewRequest {
  id: string;
  endpoint: string;
  command: QueuedCommand;
  origin: RequestOrigin;
  previousObservationId?: string;
  acceptedAt: number;
  expiresAt: number;
}

export type ClaimResult =
  | { kind: 'empty'; expired: string[] }
  | { kind: 'wait'; expired: string[]; id: string; notBefore: number }
  | { kind: 'deliver'; expired: string[]; id: string; command: QueuedCommand; attempt: number }
  | {
      kind: 'inflight';
      expired: string[];
      id: string;
      token: string;
      /** A gateway began this attempt. */
      begun: boolean;
      /** The gateway recorded the device's answer to this attempt. */
      completed: boolean;
      startedAt: number;
    };

export interface SettleArgs {
  id: string;
  endpoint: string;
  token: string;
  state: QueuedRequestState;
  now: number;
  error?: string;
  result?: DeviceCommandResult;
  notBefore?: number;
  countsAsAttempt?: boolean;
  /** The fence: succeed only if no gateway began the attempt. */
  onlyIfNotBegun?: boolean;
}

/**
 * Per-device FIFO queues of requests, each transition atomic. It is also the gateway's DeliveryLedger:
 * begin() fences an attempt, complete() records the device's answer.
 */
/** RequestStore.forEvents: lost observations by endpoint (taken), and the endpoints with pending requests. */
export interface EventBatchState {
  lost: Map<string, LostObservation[]>;
  pending: Set<string>;
}

export interface RequestStore extends DeliveryLedger {
  /** Unfinished requests per device, at most. */
  readonly maxQueueLength: number;
  /** 'added', 'exists' (same id already stored: idempotent) or 'full' (the device's queue is at its limit). */
  enqueue(req: NewRequest): Promise<'added' | 'exists' | 'full'>;
  /**
   * Looks at the head of a device's queue: expires heads past their TTL, skips finished ones, and claims the
   * next request (state delivering, attempt `token`) unless one is in flight or backing off.
   */
  claim(endpoint: string, now: number, token: string): Promise<ClaimResult>;
  /** What a gateway recorded of attempt `token`: whether it began it, and the device's answer. */
  recorded(id: string, token: string): Promise<{ begun: boolean; result?: DeviceCommandResult }>;
  /** 1 settled, 0 the attempt is not current any more, -1 the fence lost (a gateway began it). */
  settle(a: SettleArgs): Promise<number>;
  /** Cancels a queued request: whether this call cancelled it, and its state after; undefined when unknown. */
  cancel(
    id: string,
    now: number,
    endpoint?: string,
  ): Promise<{ cancelled: boolean; state: QueuedRequestState } | undefined>;
  /** Expires queued requests past their TTL (wherever they are in their queue); returns them. */
  sweepExpired(now: number, max?: number): Promise<Array<{ id: string; endpoint: string }>>;
  get(id: string): Promise<QueuedRequest | undefined>;
  /** The device's unfinished requests, in delivery order. */
  listPending(endpoint: string): Promise<QueuedRequest[]>;
  hasPending(endpoint: string): Promise<boolean>;
  /** Endpoints with unfinished requests (start-up reconcile). */
  endpointsWithPending(): Promise<string[]>;
  /** Keeps observations a registration lost to expiry until the endpoint registers again (or ttlSeconds). */
  keepLostObservations(endpoint: string, lost: LostObservation[], ttlSeconds: number): Promise<void>;
  /** Returns and forgets them. */
  takeLostObservations(endpoint: string): Promise<LostObservation[]>;
  /**
   * What a batch of events asks of the store, in one step (one Redis call, not one per event): takes the
   * lost observations of the endpoints in `registered` (takeLostObservations) and tells which of `endpoints`
   * have unfinished requests (hasPending).
   */
  forEvents(registered: string[], endpoints: string[]): Promise<EventBatchState>;
}
