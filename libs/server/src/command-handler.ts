// LwM2M TS 1.2 Core sections 6.3 / 6.4: an operator's DeviceCommand run against the registered device, with
// observations kept in the ObservationStore (by token, so any node can match a notification) and their
// notifications landing in the ValueStore and on the EventBus.
import { randomBytes } from 'node:crypto';
import type { DeviceCommand, DeviceCommandResult } from './commands';
import type { DecodedNotification, DeviceClient, OperationResult } from './device-client';
import { badRequest } from './device-client';
import type { EventBus, Observation, ObservationStore, RegistrationStore, ValueStore } from './ports';
import type { Registration } from './registration';
import type { Lwm2mEvent } from './events';
import { mergedOf, notificationUpdate } from './notification-merge';

export interface CommandDeps {
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  client: DeviceClient;
  now?: () => number;
  /** Publish a 'response' event per command (default true). */
  publishResponses?: boolean;
  newObservationId?: () => string;
  onError?(err: unknown): void;
  /** Observations one device may have (default DEFAULT_MAX_OBSERVATIONS_PER_DEVICE); beyond it 409. */
  maxObservationsPerDevice?: number;
  /** Observe requests of this node still waiting for the device, by endpoint (counted against the cap). */
  observesInFlight?: Map<string, number>;
  /** Called for every Observe refused by the cap. */
  onObservationRefused?(endpoint: string): void;
}

/**
 * Default cap of observations per device. Each one holds state on the device (RFC 7641 section 4.1: one
 * entry per token) and here (a Redis record and two index entries, a notification stream); 64 covers a
 * device's every observable resource a dashboard watches, and stops one operator script from piling up
 * thousands (the issue saw 2,000 accepted on one device).
 */
export const DEFAULT_MAX_OBSERVATIONS_PER_DEVICE = 64;

const newId = (): string => randomBytes(12).toString('base64url');

function paths(cmd: DeviceCommand): string[] {
  if (cmd.paths !== undefined && cmd.paths.length > 0) return cmd.paths;
  return cmd.path !== undefined ? [cmd.path] : [];
}

/** Runs one command; never throws for device or input trouble (those are results). */
export async function runDeviceCommand(cmd: DeviceCommand, deps: CommandDeps): Promise<DeviceCommandResult> {
  const now = deps.now ?? Date.now;
  const reg = await deps.registrations.getByEndpoint(cmd.endpoint);
  let result: OperationResult;
  if (reg === undefined) {
    result = { ok: false, status: 404, error: `endpoint ${cmd.endpoint} is not registered` };
  } else {
    result = await dispatch(cmd, reg, deps, now);
    if (reg.queueMode && !result.ok && result.status === 504 && result.coapCode === undefined) {
      // TS 1.2 Core 6.5: a queue-mode device that does not answer sleeps; later requests wait in its queue
      // (202) until it speaks again instead of each waiting out the timeout.
      await deps.registrations
        .update(reg.registrationId, { asleepAt: now() })
        .catch((err: unknown) => deps.onError?.(err));
    }
    // An observation's first 2.05 was stored as its base (startObservation), a reused one's came from the store.
    const observing = cmd.op === 'observe' || cmd.op === 'observe-composite';
    if (!observing && result.ok && result.values !== undefined && result.values.length > 0) {
      await deps.values.put(reg.endpoint, result.values, now());
    }
  }
  const full: DeviceCommandResult = { id: cmd.id, ...result };
  if (deps.publishResponses !== false && reg !== undefined) {
    const summary = {
      ok: full.ok,
      status: full.status,
      ...(full.coapCode ? { coapCode: full.coapCode } : {}),
    };
    await deps.events.publish({
      type: 'response',
      endpoint: cmd.endpoint,
      requestId: cmd.id,
      result: summary,
    });
  }
  return full;
}

async function dispatch(
  cmd: DeviceCommand,
  reg: Registration,
  deps: CommandDeps,
  now: () => number,
): Promise<OperationResult> {
  const opts = {
    timeoutMs: cmd.timeoutMs,
    ...(cmd.contentFormat !== undefined ? { contentFormat: cmd.contentFormat } : {}),
  };
  const c = deps.client;
  const path = cmd.path;
  const needPath = (): OperationResult => badRequest(`${cmd.op} needs a path`);
  switch (cmd.op) {
    case 'read':
      return path === undefined ? needPath() : c.read(reg, path, opts);
    case 'write':
      if (path === undefined) return needPath();
      return c.write(reg, path, cmd.values ?? [], { ...opts, replace: cmd.replace ?? true });
    case 'execute':
      return path === undefined ? needPath() : c.execute(reg, path, cmd.args, opts);
    case 'create':
      return path === undefined ? needPath() : c.create(reg, path, cmd.values ?? [], opts);
    case 'delete':
      return path === undefined ? needPath() : c.delete(reg, path, opts);
    case 'discover':
      return c.discover(reg, path ?? '/', opts);
    case 'write-attributes':
      return path === undefined ? needPath() : c.writeAttributes(reg, path, cmd.attributes ?? {}, opts);
    case 'read-composite':
      return c.readComposite(reg, paths(cmd), opts);
    case 'write-composite':
      return c.writeComposite(reg, cmd.values ?? [], opts);
    case 'observe':
    case 'observe-composite':
      return observe(cmd, reg, deps, now, opts);
    case 'cancel-observation':
      return cancel(cmd, deps);
    default:
      return badRequest(`unknown operation ${String(cmd.op).slice(0, 32)}`);
  }
}

async function observe(
  cmd: DeviceCommand,
  reg: Registration,
  deps: CommandDeps,
  now: () => number,
  opts: { timeoutMs: number; contentFormat?: number },
): Promise<OperationResult> {
  const composite = cmd.op === 'observe-composite' || (cmd.paths !== undefined && cmd.paths.length > 1);
  const ps = paths(cmd);
  if (ps.length === 0) return badRequest('observe needs a path');
  // Counted where the observation is made, whichever app asks: the stored ones (every node's) plus this
  // node's in flight. Reserving and reading the others in flight before the store is read means two
  // parallel requests can only both count each other (refusing early), never both miss each other.
  const max = deps.maxObservationsPerDevice ?? DEFAULT_MAX_OBSERVATIONS_PER_DEVICE;
  const inFlight = deps.observesInFlight ?? new Map<string, number>();
  const starting = inFlight.get(reg.endpoint) ?? 0;
  inFlight.set(reg.endpoint, starting + 1);
  try {
    const existing = await deps.observations.listByEndpoint(reg.endpoint);
    // One observation per path (set): a second Observe of the same target would make the device notify twice
    // (RFC 7641 section 3.1 keys an observation by token, so the device cannot tell they are the same).
    const same = existing.find(
      (o) => o.registrationId === reg.registrationId && sameTarget(o, composite, ps),
    );
    if (same !== undefined) return await reuseObservation(same, deps);
    const active = existing.length + starting;
    if (active >= max) {
      deps.onObservationRefused?.(reg.endpoint);
      return {
        ok: false,
        status: 409,
        error: `${reg.endpoint} has ${active} observations (cap ${max}): cancel one first`,
        observationLimit: { max, active },
      };
    }
    return await startObservation(reg, deps, now, opts, composite, ps, cmd.notifications);
  } finally {
    const left = (inFlight.get(reg.endpoint) ?? 1) - 1;
    if (left > 0) inFlight.set(reg.endpoint, left);
    else inFlight.delete(reg.endpoint);
  }
}

function sameTarget(o: Observation, composite: boolean, ps: string[]): boolean {
  if (o.composite !== composite || o.paths.length !== ps.length) return false;
  const want = new Set(ps);
  return o.paths.every((p) => want.has(p));
}

/** The existing observation's id, with the latest values known for its paths (no round trip to the device). */
async function reuseObservation(obs: Observation, deps: CommandDeps): Promise<OperationResult> {
  const latest = await deps.values.get(obs.endpoint);
  const values = mergedOf(latest, obs.paths).map(({ receivedAt: _r, changedAt: _c, ...v }) => v);
  return {
    ok: true,
    status: 200,
    observationId: obs.id,
    reused: true,
    values,
    ...(obs.contentFormat !== undefined ? { contentFormat: obs.contentFormat } : {}),
  };
}

async function startObservation(
  reg: Registration,
  deps: CommandDeps,
  now: () => number,
  opts: { timeoutMs: number; contentFormat?: number },
  composite: boolean,
  ps: string[],
  notifications?: 'patch',
): Promise<OperationResult> {
  const id = (deps.newObservationId ?? newId)();
  // Set once the store holds the observation; notifications before that wait in `pending`.
  const state: { obs?: Observation } = {};
  const pending: DecodedNotification[] = [];
  const onNotification = (n: DecodedNotification): void => {
    if (state.obs === undefined) pending.push(n);
    else void deliverNotification(state.obs, n, deps, now).catch((err: unknown) => deps.onError?.(err));
  };
  const { result, token, observe } = composite
    ? await deps.client.observeComposite(reg, ps, onNotification, opts)
    : await deps.client.observe(reg, ps[0], onNotification, opts);
  if (token === undefined) {
    if (result.ok && result.values !== undefined && result.values.length > 0)
      await deps.values.put(reg.endpoint, result.values, now());
    return result;
  }
  const obs: Observation = {
    id,
    endpoint: reg.endpoint,
    registrationId: reg.registrationId,
    token,
    paths: ps,
    composite,
    createdAt: now(),
    ...(result.contentFormat !== undefined ? { contentFormat: result.contentFormat } : {}),
    ...(notifications !== undefined ? { notifications } : {}),
  };
  await deps.observations.add(obs);
  // The first 2.05 is the full state: the base the patches after it are merged over (issue 19).
  const firstValues = result.values ?? [];
  await deps.values.notify(
    reg.endpoint,
    notificationUpdate(obs, { values: firstValues, ...(observe !== undefined ? { observe } : {}) }, true),
    now(),
  );
  state.obs = obs;
  for (const n of pending.splice(0)) await deliverNotification(obs, n, deps, now);
  return { ...result, observationId: id };
}

/**
 * Where a stored observation's notification goes, whichever node receives it (the one that started it or
 * one that took it over): the ValueStore and a 'notification' event.
 */
export async function deliverNotification(
  obs: Observation,
  n: DecodedNotification,
  deps: CommandDeps,
  now: () => number,
): Promise<void> {
  if (!n.ok) {
    // RFC 7641 3.2: an error notification ends the observation.
    if (!/^2\./.test(n.coapCode)) {
      await deps.observations.remove(obs.id);
      await deps.values.forgetObservation?.(obs.endpoint, obs.id);
    }
    deps.onError?.(new Error(`observation ${obs.id}: ${n.error ?? n.coapCode}`));
    return;
  }
  const update = notificationUpdate(obs, n);
  const event: Lwm2mEvent = {
    type: 'notification',
    endpoint: obs.endpoint,
    observationId: obs.id,
    paths: obs.paths,
    values: n.values,
    mode: update.mode,
    changed: n.values,
    ...(update.removed.length > 0 ? { removed: update.removed } : {}),
    ...(n.contentFormat !== undefined ? { contentFormat: n.contentFormat } : {}),
  };
  // Merged (or reset) and the event appended in one call (issue 12: one Redis call per notification); a
  // notification older than the last applied one (RFC 7641 section 3.4, e.g. seen by another node) is dropped.
  const { applied, eventId } = await deps.values.notify(obs.endpoint, update, now(), event);
  if (!applied) return;
  if (eventId !== undefined) deps.events.appended?.(event, eventId);
  else await deps.events.publish(event);
}

async function cancel(cmd: DeviceCommand, deps: CommandDeps): Promise<OperationResult> {
  if (cmd.observationId === undefined) return badRequest('cancel-observation needs an observationId');
  const obs = await deps.observations.getById(cmd.observationId);
  if (obs === undefined || obs.endpoint !== cmd.endpoint) {
    return { ok: false, status: 404, error: `no observation ${cmd.observationId.slice(0, 64)}` };
  }
  await deps.observations.remove(obs.id);
  await deps.values.forgetObservation?.(obs.endpoint, obs.id);
  await deps.client.cancelObservation(obs.token, { proactive: true, timeoutMs: cmd.timeoutMs });
  return { ok: true, status: 204, observationId: obs.id };
}
