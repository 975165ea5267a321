// Shared by the campaign tests: a fleet of simulated devices with object 5, and REST helpers.
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { addFirmwareObject, type FirmwareBehaviour, type FirmwareDeviceState } from './firmware-device';

export interface FleetSpec {
  prefix: string;
  count: number;
  coapPort: number;
  /** Per device index (1-based): how it behaves and whether it is a sleeping queue-mode device. */
  behaviour: (index: number) => FirmwareBehaviour & { sleeper?: boolean };
  /** Sleepers: awake this long after each exchange, asleep this long between wake-ups. */
  sleeperAwakeMs?: number;
  sleeperSleepMs?: number;
}

export interface Fleet {
  devices: Map<string, { device: SimulatedDevice; state: FirmwareDeviceState; sleeper: boolean }>;
  stop(): Promise<void>;
}

/** Starts the devices (object 5 added before they register), 25 at a time, and waits until every one registered. */
export async function startFleet(spec: FleetSpec): Promise<Fleet> {
  const devices: Fleet['devices'] = new Map();
  const start = async (index: number) => {
    const b = spec.behaviour(index);
    const endpoint = `${spec.prefix}-${index}`;
    const device = new SimulatedDevice({
      endpoint,
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
      server: { address: '127.0.0.1', port: spec.coapPort },
      lifetime: 3600,
      updateAt: 0,
      sensorIntervalMs: 0,
      observeTickMs: 100,
      lwm2mVersion: '1.1',
      // Queue mode (TS 1.2 Core 6.5): awake a short while after each exchange, then asleep until it updates.
      ...(b.sleeper
        ? {
            queueMode: true,
            awakeWindowMs: spec.sleeperAwakeMs ?? 3000,
            sleepMs: spec.sleeperSleepMs ?? 6000,
          }
        : {}),
    });
    const state = addFirmwareObject(device, b);
    devices.set(endpoint, { device, state, sleeper: b.sleeper === true });
    await device.start();
  };
  const indexes = [...Array(spec.count).keys()].map((i) => i + 1);
  for (let i = 0; i < indexes.length; i += 25) await Promise.all(indexes.slice(i, i + 25).map(start));
  return {
    devices,
    async stop() {
      await Promise.allSettled([...devices.values()].map((d) => d.device.close()));
    },
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 60_000,
  stepMs = 250,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface CampaignBody {
  id: string;
  state: string;
  phase: string;
  reason?: string;
  total: number;
  counts: Record<string, number>;
  canaryCounts: Record<string, number>;
  resets?: { owed: number; failed: number };
  endedAt?: string;
}

export interface LogRecord {
  id: string;
  endpoint: string;
  from: string;
  to: string;
  at: number;
  active: number;
  downloading: number;
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;

/** The campaign's whole record of transitions. */
export async function fullLog(api: Api, id: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let after = '0';
  for (;;) {
    const r = await api<{ items: LogRecord[]; last?: string }>(
      'GET',
      `/api/v1/campaigns/${id}/log?after=${after}&limit=10000`,
    );
    if (r.status !== 200) throw new Error(`log: ${r.status}`);
    out.push(...r.body.items);
    if (!r.body.last || r.body.items.length < 10000) return out;
    after = r.body.last;
  }
}

/**
 * Replays the transitions: the most devices in flight and downloading at any moment, as the campaign's own
 * records say (both the counts stored with each record and the replayed sets).
 */
export function peaks(log: LogRecord[]): {
  active: number;
  downloading: number;
  storedActive: number;
  storedDown: number;
} {
  const activeStates = new Set(['starting', 'downloading', 'downloaded', 'updating']);
  const state = new Map<string, string>();
  let active = 0;
  let downloading = 0;
  const peak = { active: 0, downloading: 0, storedActive: 0, storedDown: 0 };
  for (const r of log) {
    const before = state.get(r.endpoint) ?? 'pending';
    if (before !== r.from)
      throw new Error(`${r.endpoint}: record says from ${r.from}, replay says ${before}`);
    if (activeStates.has(before)) active--;
    if (before === 'downloading') downloading--;
    if (activeStates.has(r.to)) active++;
    if (r.to === 'downloading') downloading++;
    state.set(r.endpoint, r.to);
    peak.active = Math.max(peak.active, active);
    peak.downloading = Math.max(peak.downloading, downloading);
    peak.storedActive = Math.max(peak.storedActive, r.active);
    peak.storedDown = Math.max(peak.storedDown, r.downloading);
  }
  return peak;
}

export const FINAL = ['succeeded', 'failed', 'timed-out', 'cancelled'];
export const sumOf = (counts: Record<string, number>, states: string[]): number =>
  states.reduce((n, s) => n + (counts[s] ?? 0), 0);

/** Every device of a campaign (the devices page, followed to its end). */
export async function allRuns(
  api: Api,
  id: string,
): Promise<
  Array<{
    endpoint: string;
    state: string;
    resultCode?: number;
    attempts: number;
    asleep?: boolean;
    interrupted?: string;
  }>
> {
  const out: Array<{ endpoint: string; state: string; resultCode?: number; attempts: number }> = [];
  let cursor = '';
  for (;;) {
    const r = await api<{ items: typeof out; nextCursor?: string }>(
      'GET',
      `/api/v1/campaigns/${id}/devices?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
    );
    if (r.status !== 200) throw new Error(`devices: ${r.status}`);
    out.push(...r.body.items);
    if (!r.body.nextCursor) return out;
    cursor = r.body.nextCursor;
  }
}

/** Uploads a small image (POST /api/v1/firmware) and returns its id. */
export async function uploadImage(http: string, bytes = 2048, key?: string): Promise<string> {
  const res = await fetch(`${http}/api/v1/firmware?name=campaign-test&version=2.0.0`, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: Buffer.alloc(bytes, 0x5a),
  });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** What the tests' devices are told to fetch (they do not: their download is simulated by time). */
export const TEST_PACKAGE_URI = 'coap://127.0.0.1:5683/fw/test';
