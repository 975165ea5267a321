// Many simulated LwM2M clients ("prefix-N") started at a steady rate: the load generator of the benchmarks.
import { EventEmitter } from 'node:events';
import type { DatagramTransport } from '@lwm2m/coap';
import { SimulatedDevice, type SimulatedDeviceOptions } from './simulated-device';

export interface DeviceFleetOptions extends Omit<SimulatedDeviceOptions, 'endpoint' | 'transport'> {
  /** Endpoint names are `${prefix}-${index}` unless `name` says otherwise. */
  prefix: string;
  name?: (index: number) => string;
  count: number;
  /** First index (default 1). */
  firstIndex?: number;
  /** Devices started per second (default 50); 0 or Infinity starts them all at once. */
  ratePerSecond?: number;
  /** One transport (socket) per device: each client has its own address, as real devices do. */
  createTransport: (index: number) => Promise<DatagramTransport>;
}

export interface FleetEvents {
  /** Before its start: the moment to attach listeners. */
  created: [SimulatedDevice];
  started: [SimulatedDevice];
  failed: [{ endpoint: string; error: string }];
}

export interface FleetStartResult {
  started: number;
  failed: number;
  elapsedMs: number;
}

export class DeviceFleet extends EventEmitter<FleetEvents> {
  readonly devices: SimulatedDevice[] = [];
  private stopping = false;

  constructor(private readonly opts: DeviceFleetOptions) {
    super();
  }

  /** Creates and starts the devices at the configured rate; resolves when every start has settled. */
  async start(): Promise<FleetStartResult> {
    const {
      count,
      prefix,
      name,
      createTransport,
      ratePerSecond = 50,
      firstIndex = 1,
      ...deviceOpts
    } = this.opts;
    const began = Date.now();
    const gap = ratePerSecond > 0 && Number.isFinite(ratePerSecond) ? 1000 / ratePerSecond : 0;
    let started = 0;
    let failed = 0;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < count && !this.stopping; i++) {
      const index = firstIndex + i;
      const endpoint = name?.(index) ?? `${prefix}-${index}`;
      const wait = began + i * gap - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(
        (async () => {
          try {
            const device = new SimulatedDevice({
              ...deviceOpts,
              endpoint,
              transport: await createTransport(index),
            });
            this.devices.push(device);
            this.emit('created', device);
            await device.start();
            started++;
            this.emit('started', device);
          } catch (err) {
            failed++;
            this.emit('failed', { endpoint, error: String(err) });
          }
        })(),
      );
    }
    await Promise.all(pending);
    return { started, failed, elapsedMs: Date.now() - began };
  }

  /** De-registers and closes every device. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled(this.devices.map((d) => d.stop()));
  }

  get registeredCount(): number {
    return this.devices.filter((d) => d.registered).length;
  }
}
