// Runs a device command now, or queues it for a sleeping queue-mode device (TS 1.2 Core 6.5): the one rule
// the api's single-device operations and the fleet group operations (libs/groups) share.
import type {
  CommandBus,
  DeviceCommand,
  DeviceCommandResult,
  Registration,
  RegistrationStore,
} from '@lwm2m/server';
import type { QueuedRequests } from './queued-requests';

export interface CommandSubmitter {
  bus: CommandBus;
  registrations: Pick<RegistrationStore, 'update'>;
  /** Absent: queue mode is off, every command runs at once. */
  queue?: QueuedRequests;
  warn?: (message: string) => void;
}

export type SubmitOutcome =
  | { kind: 'result'; result: DeviceCommandResult }
  /** Accepted into the device's queue: delivered when it wakes (GET /api/v1/requests/{id}). */
  | { kind: 'queued'; requestId: string };

/** The command bus could not take the command (not a device's answer: the device was never asked). */
export class CommandDispatchError extends Error {
  constructor(
    readonly command: DeviceCommand,
    readonly reason: unknown,
  ) {
    super(`command ${command.id} (${command.op}) could not be dispatched: ${String(reason)}`);
  }
}

/**
 * `ttlMs`: how long a queued command may wait (default the queue's). Throws QueueFullError when the device's
 * queue is full, CommandDispatchError when the command bus cannot take it.
 */
export async function submitCommand(
  s: CommandSubmitter,
  reg: Registration,
  cmd: DeviceCommand,
  ttlMs?: number,
): Promise<SubmitOutcome> {
  const local = cmd.op === 'cancel-observation' || cmd.op === 'deregister'; // the device is not asked
  if (s.queue && !local && (await s.queue.shouldQueue(reg))) {
    await s.queue.accept(cmd, ttlMs);
    return { kind: 'queued', requestId: cmd.id };
  }
  let result: DeviceCommandResult;
  try {
    result = await s.bus.execute(cmd);
  } catch (err) {
    throw new CommandDispatchError(cmd, err);
  }
  if (!result.ok && result.status === 504 && result.coapCode === undefined && reg.queueMode) {
    // The gateway marks a queue-mode device that did not answer as asleep; the bus may time out here
    // first, so the caller marks it too (the next request must already see it: queued).
    await s.registrations
      .update(reg.registrationId, { asleepAt: Date.now() })
      .catch((err: unknown) => s.warn?.(`${reg.endpoint}: asleep mark not stored: ${String(err)}`));
  }
  return { kind: 'result', result };
}
