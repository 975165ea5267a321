// LwM2M TS 1.1 Core Appendix E (objects 0, 1, 3) and IPSO 3303: the initial state of a simulated client,
// with realistic Device values and a temperature that follows a bounded random walk.
import {
  lwm2mObject,
  type Lwm2mObjectInstance,
  multipleResource,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import type { ObjectTree } from './object-tree';
import { TEMPERATURE_OBJECT_ID } from './temperature-object';

export interface DeviceIdentity {
  endpoint: string;
  serverUri: string;
  lifetime: number;
  binding: string;
  manufacturer?: string;
  modelNumber?: string;
  firmwareVersion?: string;
}

/** FNV-1a of the endpoint name: a stable serial number per simulated device. */
function serialOf(endpoint: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < endpoint.length; i++) h = Math.imul(h ^ endpoint.charCodeAt(i), 0x01000193) >>> 0;
  return `SN-${h.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** IPSO 3303: range -40..85 Cel, the common range of industrial temperature sensors. */
export const TEMPERATURE_RANGE = { min: -40, max: 85 } as const;

export function temperatureInstance(id: number, value = 21.5): Lwm2mObjectInstance {
  return objectInstance(id, [
    singleResource(5700, 'float', value),
    singleResource(5601, 'float', value),
    singleResource(5602, 'float', value),
    singleResource(5603, 'float', TEMPERATURE_RANGE.min),
    singleResource(5604, 'float', TEMPERATURE_RANGE.max),
    singleResource(5701, 'string', 'Cel'),
    singleResource(5750, 'string', 'Ambient'),
  ]);
}

/** Fills `tree` with objects 0, 1, 3 and 3303 (one instance each). */
export function populateDeviceObjects(tree: ObjectTree, id: DeviceIdentity, firstTemperature: number): void {
  // Object 0: one NoSec (mode 3) DM server account; not a bootstrap server.
  tree.addObject(
    lwm2mObject(0, [
      objectInstance(0, [
        singleResource(0, 'string', id.serverUri),
        singleResource(1, 'boolean', false),
        singleResource(2, 'integer', 3),
        singleResource(3, 'opaque', Buffer.alloc(0)),
        singleResource(4, 'opaque', Buffer.alloc(0)),
        singleResource(5, 'opaque', Buffer.alloc(0)),
        singleResource(10, 'integer', 1),
      ]),
    ]),
  );
  tree.addObject(
    lwm2mObject(1, [
      objectInstance(0, [
        singleResource(0, 'integer', 1),
        singleResource(1, 'unsigned', id.lifetime),
        singleResource(6, 'boolean', true),
        singleResource(7, 'string', id.binding),
      ]),
    ]),
  );
  tree.addObject(
    lwm2mObject(3, [
      objectInstance(0, [
        singleResource(0, 'string', id.manufacturer ?? 'Open Mobile Alliance'),
        singleResource(1, 'string', id.modelNumber ?? 'Lightweight M2M Simulator'),
        singleResource(2, 'string', serialOf(id.endpoint)),
        singleResource(3, 'string', id.firmwareVersion ?? '1.0.0'),
        // 1: internal battery, 5: USB (Device object, resource 6 enumeration).
        multipleResource(6, 'integer', [
          [0, 1],
          [1, 5],
        ]),
        multipleResource(7, 'integer', [
          [0, 3800],
          [1, 5000],
        ]),
        multipleResource(8, 'integer', [
          [0, 125],
          [1, 900],
        ]),
        singleResource(9, 'integer', 100),
        singleResource(10, 'integer', 15),
        multipleResource(11, 'integer', [[0, 0]]),
        singleResource(13, 'time', new Date(0)),
        singleResource(14, 'string', '+01:00'),
        singleResource(15, 'string', 'Europe/Paris'),
        singleResource(16, 'string', 'UQ'),
        singleResource(17, 'string', 'Temperature Sensor'),
        singleResource(18, 'string', '1.0'),
        singleResource(19, 'string', '1.0.2'),
        // 0: normal (resource 20 enumeration).
        singleResource(20, 'integer', 0),
        singleResource(21, 'integer', 128),
      ]),
    ]),
  );
  tree.addObject(lwm2mObject(TEMPERATURE_OBJECT_ID, [temperatureInstance(0, firstTemperature)]));
  tree.allowCreate(TEMPERATURE_OBJECT_ID, (iid) => temperatureInstance(iid, firstTemperature));
}

/** One random-walk step of every 3303 instance; min/max measured follow. Returns the changed paths. */
export function stepTemperatures(tree: ObjectTree, random: () => number): string[] {
  const changed: string[] = [];
  for (const iid of tree.instanceIds(TEMPERATURE_OBJECT_ID)) {
    const base = `/${TEMPERATURE_OBJECT_ID}/${iid}`;
    const current = Number(tree.getValue(`${base}/5700`) ?? 21.5);
    let next = current + (random() - 0.5) * 0.6;
    next = Math.min(TEMPERATURE_RANGE.max, Math.max(TEMPERATURE_RANGE.min, next));
    next = Math.round(next * 100) / 100;
    if (next === current) next = Math.round((current + 0.01) * 100) / 100;
    tree.setValue(`${base}/5700`, next);
    if (next < Number(tree.getValue(`${base}/5601`) ?? next)) tree.setValue(`${base}/5601`, next);
    if (next > Number(tree.getValue(`${base}/5602`) ?? next)) tree.setValue(`${base}/5602`, next);
    changed.push(`${base}/5700`);
  }
  return changed;
}
