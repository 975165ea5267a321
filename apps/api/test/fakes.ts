// Test ports: the in-memory implementations of libs/server, with the device side of the command bus
// scripted by each test and the subscriptions of the event bus recorded.
import {
  type CommandBus,
  type DeviceCommand,
  type DeviceCommandResult,
  InMemoryCommandBus,
  InMemoryCredentialStore,
  InMemoryEventBus,
  InMemoryObservationStore,
  InMemoryRegistrationStore,
  InMemoryValueStore,
  type Lwm2mEvent,
  type Registration,
  type StoredEvent,
} from '@lwm2m/server';
import type { ApiPorts } from '../src/tokens';

export function registration(endpoint: string, over: Partial<Registration> = {}): Registration {
  const t = Date.UTC(2025, 0, 1, 12, 0, 0);
  return {
    registrationId: `reg-${endpoint}`,
    endpoint,
    lwm2mVersion: '1.1',
    lifetime: 300,
    binding: 'U',
    queueMode: false,
    address: { address: '192.0.2.1', port: 56830 },
    session: { kind: 'address', address: '192.0.2.1', port: 56830, secure: false },
    rootPath: '/',
    objectLinks: [
      { path: '/1/0', attributes: {} },
      { path: '/3/0', attributes: {} },
      { path: '/3303', attributes: { ver: '1.1' } },
    ],
    supportedContentFormats: [110, 112],
    registeredAt: t,
    lastUpdate: t,
    lastSeen: t + 1000,
    expiresAt: t + 300_000,
    security: 'nosec',
    ...over,
  };
}

type Handler = (cmd: DeviceCommand) => Promise<DeviceCommandResult> | DeviceCommandResult;

/**
 * The in-memory command bus with one serving "gateway" whose answers the test scripts; it records every
 * command the gateway side received. `fail` makes execute itself throw (the bus is down).
 */
export class ScriptedCommandBus implements CommandBus {
  readonly commands: DeviceCommand[] = [];
  handler: Handler = (cmd) => ({ id: cmd.id, ok: true, status: 200 });
  fail?: Error;
  private readonly bus = new InMemoryCommandBus();

  constructor() {
    void this.bus.serve(async (cmd) => {
      this.commands.push(cmd);
      return this.handler(cmd);
    });
  }

  execute(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    return this.fail ? Promise.reject(this.fail) : this.bus.execute(cmd);
  }

  serve(handler: (cmd: DeviceCommand) => Promise<DeviceCommandResult>): Promise<() => Promise<void>> {
    return this.bus.serve(handler);
  }

  get last(): DeviceCommand {
    return this.commands[this.commands.length - 1];
  }
}

/** The in-memory event bus, remembering published ids and each subscription's abort signal. */
export class RecordingEventBus extends InMemoryEventBus {
  readonly ids: string[] = [];
  readonly signals: AbortSignal[] = [];

  override async publish(event: Lwm2mEvent): Promise<string> {
    const id = await super.publish(event);
    this.ids.push(id);
    return id;
  }

  override subscribe(opts: {
    afterId?: string;
    endpoint?: string;
    signal: AbortSignal;
  }): AsyncIterable<StoredEvent> {
    this.signals.push(opts.signal);
    return super.subscribe(opts);
  }
}

export interface TestPorts extends ApiPorts {
  commands: ScriptedCommandBus;
  registrations: InMemoryRegistrationStore;
  observations: InMemoryObservationStore;
  values: InMemoryValueStore;
  events: RecordingEventBus;
  credentials: InMemoryCredentialStore;
}

export function fakePorts(): TestPorts {
  const observations = new InMemoryObservationStore();
  const values = new InMemoryValueStore();
  return {
    commands: new ScriptedCommandBus(),
    registrations: new InMemoryRegistrationStore(observations, values),
    observations,
    values,
    events: new RecordingEventBus(),
    credentials: new InMemoryCredentialStore(),
  };
}
