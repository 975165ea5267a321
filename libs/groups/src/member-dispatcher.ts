// How a group request reaches one member: the api's own device-command machinery (libs/scheduler
// submitCommand: the command bus now, or the device's durable queue when it sleeps, delivered on wake-up).
import { randomUUID } from 'node:crypto';
import type { DeviceCommand, DeviceCommandResult, RegistrationStore } from '@lwm2m/server';
import { type CommandSubmitter, QueueFullError, type QueuedRequests, submitCommand } from '@lwm2m/scheduler';
import { type GroupOperationSpec, type MemberResult, resultOf } from './group-request';

export type DispatchOutcome =
  | { kind: 'result'; result: DeviceCommandResult }
  | { kind: 'queued'; requestId: string }
  | { kind: 'failed'; status: number; error: string };

export interface MemberDispatcher {
  /** `ttlMs`: how long a queued command may wait for the device (what is left until the deadline). */
  dispatch(
    endpoint: string,
    spec: GroupOperationSpec,
    opts: { timeoutMs: number; ttlMs: number },
  ): Promise<DispatchOutcome>;
  /** The final result of a queued member's request; undefined while it waits or is being delivered. */
  queuedResult(endpoint: string, requestId: string, now: number): Promise<MemberResult | undefined>;
  /** Cancels a queued member's request (one being delivered finishes). */
  cancelQueued(requestId: string, endpoint: string): Promise<void>;
}

export interface CommandDispatcherDeps extends Omit<CommandSubmitter, 'registrations' | 'queue'> {
  registrations: Pick<RegistrationStore, 'getByEndpoint' | 'update'>;
  queue?: QueuedRequests;
}

export class CommandDispatcher implements MemberDispatcher {
  constructor(private readonly deps: CommandDispatcherDeps) {}

  async dispatch(
    endpoint: string,
    spec: GroupOperationSpec,
    opts: { timeoutMs: number; ttlMs: number },
  ): Promise<DispatchOutcome> {
    const reg = await this.deps.registrations.getByEndpoint(endpoint);
    if (!reg) return { kind: 'failed', status: 404, error: `no registration for endpoint "${endpoint}"` };
    const cmd: DeviceCommand = {
      id: randomUUID(),
      endpoint,
      ...(spec.op === 'observe'
        ? { op: 'observe', path: spec.path }
        : {
            op: spec.op,
            path: spec.path,
            ...(spec.values !== undefined ? { values: spec.values } : {}),
            ...(spec.replace !== undefined ? { replace: spec.replace } : {}),
            ...(spec.args !== undefined ? { args: spec.args } : {}),
          }),
      timeoutMs: opts.timeoutMs,
      createdAt: Date.now(),
    };
    try {
      const out = await submitCommand(
        { ...this.deps, registrations: this.deps.registrations },
        reg,
        cmd,
        opts.ttlMs,
      );
      return out.kind === 'queued' ? out : { kind: 'result', result: out.result };
    } catch (err) {
      if (err instanceof QueueFullError) return { kind: 'failed', status: 429, error: err.message };
      return { kind: 'failed', status: 503, error: 'the command bus is not available' };
    }
  }

  async queuedResult(endpoint: string, requestId: string, now: number): Promise<MemberResult | undefined> {
    const r = await this.deps.queue?.get(requestId);
    if (!r)
      return {
        endpoint,
        requestId,
        state: 'failed',
        status: 410,
        error: 'the queued request is gone',
        at: now,
      };
    switch (r.state) {
      case 'succeeded':
      case 'failed':
        return r.result
          ? { ...resultOf(endpoint, r.result, now), requestId }
          : { endpoint, requestId, state: 'failed', error: r.error ?? 'failed', at: now };
      case 'expired':
        return {
          endpoint,
          requestId,
          state: 'timed-out',
          error: r.error ?? 'the device did not wake in time',
          at: now,
        };
      case 'cancelled':
        return { endpoint, requestId, state: 'cancelled', at: now };
      default:
        return undefined;
    }
  }

  async cancelQueued(requestId: string, endpoint: string): Promise<void> {
    await this.deps.queue?.cancel(requestId, endpoint);
  }
}
