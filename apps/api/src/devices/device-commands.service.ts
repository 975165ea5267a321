// Runs one device-management operation: checks that the device is registered, puts a DeviceCommand on the
// command bus and turns a failed DeviceCommandResult into a problem (504 timeout, 404 unknown device,
// the device's CoAP error by its meaning).
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type {
  CommandBus,
  DeviceCommand,
  DeviceCommandResult,
  Registration,
  RegistrationStore,
} from '@lwm2m/server';
import { ProblemException, ProblemType, statusTitle } from '../problem/problem';
import {
  CommandDispatchError,
  QueueFullError,
  type QueuedRequests,
  submitCommand,
  type SubmitOutcome,
} from '@lwm2m/scheduler';
import {
  API_OPTIONS,
  COMMAND_BUS,
  REGISTRATION_STORE,
  REQUEST_QUEUE,
  type ResolvedApiOptions,
} from '../tokens';
import { parseContentFormat } from './content-format';

export type CommandSpec = Omit<
  DeviceCommand,
  'id' | 'endpoint' | 'timeoutMs' | 'createdAt' | 'contentFormat'
>;

export interface CommandQuery {
  timeout?: number;
  format?: string;
  /** Queue mode: the request's time-to-live, seconds. */
  ttl?: number;
}

@Injectable()
export class DeviceCommandsService {
  private readonly logger = new Logger('api');

  constructor(
    @Inject(COMMAND_BUS) private readonly bus: CommandBus,
    @Inject(REGISTRATION_STORE) private readonly registrations: RegistrationStore,
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
    @Inject(REQUEST_QUEUE) private readonly requests: { queue?: QueuedRequests },
  ) {}

  async requireDevice(endpoint: string): Promise<Registration> {
    const reg = await this.registrations.getByEndpoint(endpoint);
    if (!reg) throw unknownDevice(endpoint);
    return reg;
  }

  /** Resolves with a successful result; throws a ProblemException for every failure. */
  /** `known`: the registration the caller already read (the model checks need it), not read again. */
  async run(
    endpoint: string,
    spec: CommandSpec,
    query: CommandQuery = {},
    known?: Registration,
  ): Promise<DeviceCommandResult> {
    const reg = known ?? (await this.requireDevice(endpoint));
    const cmd: DeviceCommand = {
      ...spec,
      id: randomUUID(),
      endpoint,
      timeoutMs: query.timeout ?? this.options.defaultTimeoutMs,
      createdAt: Date.now(),
      ...(query.format !== undefined ? { contentFormat: parseContentFormat(query.format) } : {}),
    };
    // TS 1.2 Core 6.5: a sleeping queue-mode device gets the request when it wakes (202 + request id).
    let outcome: SubmitOutcome;
    try {
      outcome = await submitCommand(
        {
          bus: this.bus,
          registrations: this.registrations,
          ...(this.requests.queue ? { queue: this.requests.queue } : {}),
          warn: (m) => this.logger.warn(m),
        },
        reg,
        cmd,
        query.ttl !== undefined ? query.ttl * 1000 : undefined,
      );
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new ProblemException({
          type: ProblemType.BLANK,
          title: statusTitle(429),
          status: 429,
          detail: `${err.message}: wait for the device or cancel requests`,
          endpoint: cmd.endpoint,
        });
      }
      if (!(err instanceof CommandDispatchError)) throw err;
      this.logger.error(err.message);
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: statusTitle(503),
        status: 503,
        detail: 'the command bus is not available',
        requestId: cmd.id,
      });
    }
    if (outcome.kind === 'queued') return { id: cmd.id, ok: true, status: 202 };
    const result = outcome.result;
    if (!result.ok) throw resultProblem(cmd, result);
    return result;
  }
}

export function unknownDevice(endpoint: string): ProblemException {
  return new ProblemException({
    type: ProblemType.UNKNOWN_DEVICE,
    title: 'Device not registered',
    status: 404,
    detail: `no registration for endpoint "${endpoint}"`,
    endpoint,
  });
}

/** Observe refused by the per-device cap (MAX_OBSERVATIONS_PER_DEVICE): cancel one first. */
export const TOO_MANY_OBSERVATIONS = 'urn:lwm2m-cluster:problem:too-many-observations';

function resultProblem(cmd: DeviceCommand, r: DeviceCommandResult): ProblemException {
  const status = Number.isInteger(r.status) && r.status >= 400 && r.status <= 599 ? r.status : 502;
  const common = {
    requestId: cmd.id,
    endpoint: cmd.endpoint,
    ...(r.coapCode ? { coapCode: r.coapCode } : {}),
  };
  if (status === 504) {
    return new ProblemException({
      type: ProblemType.DEVICE_TIMEOUT,
      title: 'Device did not answer',
      status,
      detail: r.error ?? `no answer from "${cmd.endpoint}" within ${cmd.timeoutMs} ms`,
      ...common,
    });
  }
  if (r.observationLimit) {
    return new ProblemException({
      type: TOO_MANY_OBSERVATIONS,
      title: 'Too many observations',
      status: 409,
      detail:
        r.error ??
        `the device has ${r.observationLimit.active} observations, the cap is ${r.observationLimit.max}`,
      maxObservations: r.observationLimit.max,
      activeObservations: r.observationLimit.active,
      ...common,
    });
  }
  if (status === 404 && !r.coapCode) {
    return new ProblemException({ ...unknownDevice(cmd.endpoint).problem, requestId: cmd.id });
  }
  if (r.coapCode) {
    return new ProblemException({
      type: ProblemType.DEVICE_ERROR,
      // The title is the HTTP status's (RFC 9457 3.1.4); the device's CoAP code is its own member.
      title: statusTitle(status),
      status,
      detail:
        r.error ?? `the device refused ${cmd.op}${cmd.path ? ` on ${cmd.path}` : ''} with ${r.coapCode}`,
      ...common,
    });
  }
  return new ProblemException({
    type: ProblemType.BLANK,
    title: statusTitle(status),
    status,
    detail: r.error ?? `${cmd.op} failed`,
    ...common,
  });
}
