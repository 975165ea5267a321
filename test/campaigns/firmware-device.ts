// A device side of LwM2M object 5 (TS 1.2 Core E.6) for the campaign tests, on a SimulatedDevice: a Write of
// the Package URI (/5/0/1, pull) or of the Package (/5/0/0, push) starts a "download" of `downloadMs`
// (State 1, then 2), Execute /5/0/2 an "update" of `updateMs` (State 3, then Idle with Update Result 1, or
// `failWith`). Writing an empty URI resets it (Idle, result 0).
// The simulator's own object 5 (download speed, failure rate; branch firmware-delivery) replaces this once
// merged; the campaign only relies on what the TS says the device reports.
import { lwm2mObject, objectInstance, singleResource } from '@lwm2m/lwm2m';
import type { SimulatedDevice } from '@lwm2m/simulator';

export interface FirmwareBehaviour {
  downloadMs: number;
  updateMs: number;
  /** Update Result reported instead of 1 at the end of the update (e.g. 8: firmware update failed). */
  failWith?: number;
}

export interface FirmwareDeviceState {
  writes: number;
  executes: number;
  updated: boolean;
  /** When it woke up from queue-mode sleep (ms). */
  wokeAt: number[];
}

export function addFirmwareObject(device: SimulatedDevice, b: FirmwareBehaviour): FirmwareDeviceState {
  const tree = device.tree;
  tree.addObject(
    lwm2mObject(5, [
      objectInstance(0, [
        singleResource(0, 'opaque', Buffer.alloc(0)),
        singleResource(1, 'string', ''),
        singleResource(3, 'integer', 0),
        singleResource(5, 'integer', 0),
        // 9 Delivery Method: 2 = both pull and push.
        singleResource(9, 'integer', 2),
      ]),
    ]),
  );
  const st: FirmwareDeviceState = { writes: 0, executes: 0, updated: false, wokeAt: [] };
  device.on('wake', () => st.wokeAt.push(Date.now()));
  let timer: NodeJS.Timeout | undefined;
  const set = (state: number, result: number) => {
    tree.setValue('/5/0/3', state);
    tree.setValue('/5/0/5', result);
  };
  device.on('write', (w) => {
    if (w.path !== '/5/0/1' && w.path !== '/5/0/0') return;
    st.writes++;
    clearTimeout(timer);
    const uri = tree.getValue('/5/0/1');
    if (w.path === '/5/0/1' && (uri === '' || uri === undefined)) {
      set(0, 0);
      return;
    }
    set(1, 0);
    timer = setTimeout(() => set(2, 0), b.downloadMs);
  });
  tree.onExecute('/5/0/2', () => {
    st.executes++;
    if (tree.getValue('/5/0/3') !== 2) return;
    tree.setValue('/5/0/3', 3);
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (b.failWith !== undefined) set(0, b.failWith);
      else {
        st.updated = true;
        set(0, 1);
      }
    }, b.updateMs);
  });
  device.once('deregistered', () => clearTimeout(timer));
  return st;
}
