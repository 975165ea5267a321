// LwM2M object 5 (Firmware Update), TS 1.2 Core E.6: the resources a campaign writes, executes and observes.
import type { JsonPathValue } from '@lwm2m/server';

export const FW_PACKAGE = '/5/0/0';
export const FW_PACKAGE_URI = '/5/0/1';
export const FW_UPDATE = '/5/0/2';
export const FW_STATE = '/5/0/3';
export const FW_UPDATE_RESULT = '/5/0/5';

export interface FirmwareReport {
  state?: number;
  result?: number;
}

/** What a notification, an Observe answer or a Read says of /5/0/3 and /5/0/5 (others ignored). */
export function firmwareReport(values: readonly JsonPathValue[] | undefined): FirmwareReport {
  const out: FirmwareReport = {};
  for (const v of values ?? []) {
    const n = typeof v.value === 'number' ? v.value : Number(v.value);
    if (!Number.isInteger(n)) continue;
    if (v.path === FW_STATE) out.state = n;
    else if (v.path === FW_UPDATE_RESULT) out.result = n;
  }
  return out;
}
