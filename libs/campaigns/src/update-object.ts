// Which LwM2M object a campaign drives, as one descriptor: object 5 (Firmware Update, TS 1.2 Core E.6) or
// object 9 (Software Management 1.0, OMNA registry 9.xml) on one of its instances. The per-device state
// machine (device-machine.ts) speaks object 5's State and Update Result; object 9's are translated here.
import type { JsonPathValue } from '@lwm2m/server';
import { FirmwareState, FirmwareUpdateResult, SoftwareUpdateResult, SoftwareUpdateState } from '@lwm2m/lwm2m';
import { type FirmwareReport, firmwareReport } from './firmware-object';

/** Default retryResults of an object 9 campaign: connection lost, integrity check failure (as 4, 5 of object 5). */
export const SW_RETRY_RESULTS = [
  SoftwareUpdateResult.CONNECTION_LOST,
  SoftwareUpdateResult.INTEGRITY_CHECK_FAILURE,
];

export interface UpdateObject {
  object: 5 | 9;
  /** The instance observed and read (State and Update Result in one observation). */
  instancePath: string;
  /** Push writes the package here (Block1); an empty one resets (E.6; 9.xml: the same by analogy). */
  packagePath: string;
  /** Pull writes the URI here; an empty one resets. */
  packageUriPath: string;
  /** Executed on Downloaded (object 5: Update /5/0/2) or Delivered (object 9: Install /9/x/4). */
  executePath: string;
  /** Object 9 with `activate`: Activate /9/x/10, executed once Installed. */
  activatePath?: string;
  /** What a notification, Observe answer or Read says, in object 5's terms (State 0..3, Update Result). */
  report(values: readonly JsonPathValue[] | undefined): FirmwareReport;
}

const FIRMWARE: UpdateObject = {
  object: 5,
  instancePath: '/5/0',
  packagePath: '/5/0/0',
  packageUriPath: '/5/0/1',
  executePath: '/5/0/2',
  report: firmwareReport,
};

export function updateObjectOf(c: {
  object?: 5 | 9;
  softwareInstance?: number;
  activate?: boolean;
}): UpdateObject {
  if (c.object !== 9) return FIRMWARE;
  const base = `/9/${c.softwareInstance ?? 0}`;
  const state = `${base}/7`;
  const result = `${base}/9`;
  return {
    object: 9,
    instancePath: base,
    packagePath: `${base}/2`,
    packageUriPath: `${base}/3`,
    executePath: `${base}/4`,
    ...(c.activate ? { activatePath: `${base}/10` } : {}),
    report: (values) => {
      const raw: { state?: number; result?: number } = {};
      for (const v of values ?? []) {
        const n = typeof v.value === 'number' ? v.value : Number(v.value);
        if (!Number.isInteger(n)) continue;
        if (v.path === state) raw.state = n;
        else if (v.path === result) raw.result = n;
      }
      return softwareAsFirmware(raw);
    },
  };
}

/**
 * Object 9 in object 5's terms: DOWNLOAD STARTED and DOWNLOADED (not verified yet) are Downloading, DELIVERED
 * (Install allowed) is Downloaded, INSTALLED is Idle with success; result 2 (installed) is success, 50..
 * failures keep their code, 0, 1 and 3 (progress) say nothing.
 */
export function softwareAsFirmware(raw: { state?: number; result?: number }): FirmwareReport {
  const out: FirmwareReport = {};
  if (raw.state !== undefined) {
    out.state =
      raw.state === SoftwareUpdateState.DOWNLOAD_STARTED || raw.state === SoftwareUpdateState.DOWNLOADED
        ? FirmwareState.DOWNLOADING
        : raw.state === SoftwareUpdateState.DELIVERED
          ? FirmwareState.DOWNLOADED
          : FirmwareState.IDLE;
  }
  if (raw.result !== undefined) {
    if (raw.result === SoftwareUpdateResult.INSTALLED) out.result = FirmwareUpdateResult.SUCCESS;
    else if (raw.result >= 50) out.result = raw.result;
    else out.result = FirmwareUpdateResult.INITIAL;
  }
  // Installed whatever the result says (a device that reports the state alone).
  if (
    raw.state === SoftwareUpdateState.INSTALLED &&
    (out.result === undefined || out.result === FirmwareUpdateResult.INITIAL)
  )
    out.result = FirmwareUpdateResult.SUCCESS;
  return out;
}
