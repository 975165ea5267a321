// How the campaign engine reaches devices: through the command bus (the gateway holding the device runs the
// command), asking first whether a queue-mode device is awake (TS 1.2 Core 6.5, the scheduler's rule), so a
// sleeping device is started when it wakes instead of holding a slot of the rollout while it sleeps.
import {
  type CommandBus,
  type DeviceCommand,
  type DeviceCommandResult,
  isAwake,
  type RegistrationStore,
} from '@lwm2m/server';
import { randomUUID } from 'node:crypto';

export type Reachability = 'reachable' | 'asleep' | 'unregistered';

export type CampaignCommand = Pick<
  DeviceCommand,
  'op' | 'path' | 'paths' | 'values' | 'args' | 'observationId' | 'imageId' | 'contentFormat'
>;

export interface CampaignDevices {
  reachability(endpoint: string): Promise<Reachability>;
  run(endpoint: string, cmd: CampaignCommand): Promise<DeviceCommandResult>;
  /** Queues a command for a sleeping device (delivered when it wakes); absent: no queue (memory, tests). */
  queue?(
    endpoint: string,
    cmd: CampaignCommand,
  ): Promise<{ ok: boolean; requestId?: string; error?: string }>;
}

export class CommandBusDevices implements CampaignDevices {
  constructor(
    private readonly opts: {
      registrations: RegistrationStore;
      commands: CommandBus;
      awakeWindowMs: number;
      timeoutMs: number;
      /**
       * The durable queue of requests for sleeping devices (libs/scheduler QueuedRequests.accept): a reset
       * of an interrupted device that sleeps waits there until it wakes.
       */
      enqueue?: (cmd: DeviceCommand) => Promise<unknown>;
      now?: () => number;
    },
  ) {}

  async queue(
    endpoint: string,
    cmd: CampaignCommand,
  ): Promise<{ ok: boolean; requestId?: string; error?: string }> {
    if (!this.opts.enqueue) return { ok: false, error: 'no request queue' };
    const id = randomUUID();
    try {
      await this.opts.enqueue({
        ...cmd,
        id,
        endpoint,
        timeoutMs: this.opts.timeoutMs,
        createdAt: Date.now(),
      });
      return { ok: true, requestId: id };
    } catch (err) {
      return { ok: false, error: String(err) };
    }
  }

  async reachability(endpoint: string): Promise<Reachability> {
    const reg = await this.opts.registrations.getByEndpoint(endpoint);
    if (!reg) return 'unregistered';
    return isAwake(reg, (this.opts.now ?? Date.now)(), this.opts.awakeWindowMs) ? 'reachable' : 'asleep';
  }

  async run(endpoint: string, cmd: CampaignCommand): Promise<DeviceCommandResult> {
    const id = randomUUID();
    try {
      return await this.opts.commands.execute({
        ...cmd,
        id,
        endpoint,
        timeoutMs: this.opts.timeoutMs,
        createdAt: Date.now(),
      });
    } catch (err) {
      return { id, ok: false, status: 503, error: `command bus: ${String(err)}` };
    }
  }
}
