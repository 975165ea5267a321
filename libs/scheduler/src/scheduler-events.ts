// What the scheduler does with each event of the registry's stream, whatever carries its work (BullMQ jobs in
// apps/scheduler, timers in the InProcessScheduler of memory mode):
//   registered          -> re-establish the observations the endpoint lost (to this re-registration, or kept
//                          from an earlier expiry), then flush its queue (the Register opened its awake window)
//   updated, awake      -> flush the device's queue when it has one (TS 1.2 Core 6.5: the device is reachable)
//   expired             -> keep its lost observations for its next registration (REOBSERVE_TTL_S)
//   request (queued)    -> flush now if the device is awake; schedule the wake-up check
//   NOTIFY_EVENT_TYPES  -> one webhook delivery per subscriber
// Pending requests of an expired or replaced registration stay queued for the next registration of the same
// endpoint, until their time-to-live.
import type { DeviceOperation, EventBus, LostObservation, StoredEvent } from '@lwm2m/server';
import type { SchedulerConfig } from './config';
import type { EventBatchState, RequestStore } from './request-store';

/** The work the rules ask for; each is an idempotent signal. */
export interface SchedulerSignals {
  /** Deliver what the device's queue holds, while it is awake. */
  flush(endpoint: string): Promise<void>;
  /** Check after WAKEUP_AFTER_MS whether the device needs a wake-up (only with a wake-up channel). */
  wakeLater(endpoint: string, requestId: string): Promise<void>;
  /** Post `event` to subscriber number `subscriber` of NOTIFY_WEBHOOK_URLS, with retries. */
  notify(subscriber: number, event: StoredEvent): Promise<void>;
}

export interface SchedulerEventDeps {
  requests: RequestStore;
  events: EventBus;
  config: SchedulerConfig;
  signals: SchedulerSignals;
  now?: () => number;
}

/** The store's part of a batch of events, read in one step (RequestStore.forEvents). */
async function batchState(events: StoredEvent[], requests: RequestStore): Promise<EventBatchState> {
  const registered: string[] = [];
  const checked: string[] = [];
  for (const e of events) {
    if (e.type === 'registered') registered.push(e.endpoint);
    if (e.type === 'registered' || e.type === 'updated' || e.type === 'awake') checked.push(e.endpoint);
  }
  return requests.forEvents(registered, checked);
}

/**
 * A batch of events as read from the stream: the store is asked once for all of them, then each event is
 * handled in order. Returns the events that failed (they stay pending and are handled again later).
 */
export async function handleSchedulerEvents(
  events: StoredEvent[],
  deps: SchedulerEventDeps,
): Promise<Array<{ event: StoredEvent; error: unknown }>> {
  const state = await batchState(events, deps.requests);
  const failed: Array<{ event: StoredEvent; error: unknown }> = [];
  for (const e of events) {
    try {
      await handleSchedulerEvent(e, deps, state);
    } catch (error) {
      failed.push({ event: e, error });
    }
  }
  return failed;
}

/** `state`: the batch's store state (handleSchedulerEvents); read for this one event when not given. */
export async function handleSchedulerEvent(
  e: StoredEvent,
  deps: SchedulerEventDeps,
  state?: EventBatchState,
): Promise<void> {
  const { requests, config, signals } = deps;
  switch (e.type) {
    case 'registered': {
      const s = state ?? (await batchState([e], requests));
      // Taken once: a second Register of the same endpoint in the batch finds none left.
      const taken = s.lost.get(e.endpoint) ?? [];
      s.lost.delete(e.endpoint);
      const lost = [...(e.cancelledObservations ?? []), ...taken];
      for (const o of lost) await reobserve(e.endpoint, o, deps);
      // Re-observations just queued are pending too (a flush of a queue found empty is a no-op).
      if (s.pending.has(e.endpoint) || lost.length > 0) await signals.flush(e.endpoint);
      break;
    }
    case 'updated':
    case 'awake':
      // A request queued after the batch's state was read has its own 'request' event, which flushes.
      if ((state ?? (await batchState([e], requests))).pending.has(e.endpoint))
        await signals.flush(e.endpoint);
      break;
    case 'expired':
      await requests.keepLostObservations(
        e.endpoint,
        e.cancelledObservations ?? [],
        Math.ceil(config.reobserveTtlMs / 1000),
      );
      break;
    case 'request':
      if (e.state === 'queued') {
        await signals.flush(e.endpoint);
        if (config.wakeUp) await signals.wakeLater(e.endpoint, e.requestId);
      }
      break;
    default:
      break;
  }
  if (config.notify.urls.length > 0 && config.notify.eventTypes.includes(e.type)) {
    for (let i = 0; i < config.notify.urls.length; i++) await signals.notify(i, e);
  }
}

/** A lost observation becomes a queued request of the device (ordered, retried, with a TTL). */
async function reobserve(endpoint: string, o: LostObservation, deps: SchedulerEventDeps): Promise<void> {
  const now = (deps.now ?? Date.now)();
  const op: DeviceOperation = o.composite ? 'observe-composite' : 'observe';
  const id = `reobs-${o.id}`;
  const added = await deps.requests.enqueue({
    id,
    endpoint,
    command: {
      id,
      endpoint,
      op,
      ...(o.composite ? { paths: o.paths } : { path: o.paths[0]! }),
      ...(o.contentFormat !== undefined ? { contentFormat: o.contentFormat } : {}),
      ...(o.notifications !== undefined ? { notifications: o.notifications } : {}),
      timeoutMs: deps.config.deliveryTimeoutMs,
    },
    origin: 'reobserve',
    previousObservationId: o.id,
    acceptedAt: now,
    expiresAt: now + deps.config.reobserveTtlMs,
  });
  if (added === 'added') {
    await deps.events.publish({ type: 'request', endpoint, requestId: id, op, state: 'queued' });
  }
}
