// Issue 19 acceptance checks shared by the NoSec, DTLS and cluster tests: the merged state of an observation
// (GET .../observations/{id}?merged=true) against the device's own state. The device side is patch-device.ts.
import { expect } from 'vitest';
import type { SimulatedDevice } from '@lwm2m/simulator';
import { deviceState } from './patch-device';

export * from './patch-device';

type Api = <T = unknown>(method: string, path: string) => Promise<{ status: number; body: T }>;

/** The merged state of an observation (GET .../observations/{id}?merged=true), path -> value. */
export async function mergedState(api: Api, endpoint: string, id: string): Promise<Record<string, unknown>> {
  const res = await api<{ merged: Array<{ path: string; value: unknown }> }>(
    'GET',
    `/api/v1/devices/${endpoint}/observations/${id}?merged=true`,
  );
  expect(res.status).toBe(200);
  return Object.fromEntries(res.body.merged.map((v) => [v.path, v.value]));
}

/** Waits until the merged state of observation `id` equals the device's state under `path`. */
export async function expectMergedToMatch(
  api: Api,
  device: SimulatedDevice,
  endpoint: string,
  id: string,
  path: string,
): Promise<void> {
  await expect
    .poll(async () => mergedState(api, endpoint, id), { timeout: 10_000, interval: 20 })
    .toEqual(deviceState(device, path));
}
