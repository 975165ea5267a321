// Issue 19, "patch" notifications: a simulated device with a /9-sized object whose notifications carry only
// what changed, the CoAP messages it sends recorded as they leave it (above DTLS when there is DTLS). Shared
// by the acceptance tests and bench/patch-notifications.bench.ts (no vitest here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoapMessage, decodeMessage, getObserve, OptionNumber } from '@lwm2m/coap';
import {
  ContentFormat,
  decodeSenmlPatch,
  flatten,
  Lwm2mPath,
  type ObjectModel,
  parseDdf,
  vendoredModelsDir,
} from '@lwm2m/lwm2m';
import { toJsonValues } from '@lwm2m/server';
import type { SimulatedDevice } from '@lwm2m/simulator';
import type { DatagramTransport, Peer } from '@lwm2m/transport';

/** The vendored OMNA model of object 9 (LwM2M Software Management): a /9-sized object. */
export function softwareManagementModel(): ObjectModel {
  const models = parseDdf(readFileSync(join(vendoredModelsDir(), '9.xml')), '9.xml');
  return models.at(-1)!;
}

/** A transport that records what the device sends: the CoAP messages, with their sizes. */
export class RecordingTransport implements DatagramTransport {
  readonly sent: Array<{ msg: CoapMessage; size: number }> = [];
  constructor(private inner: DatagramTransport) {}
  send(data: Buffer, peer: Peer): Promise<void> {
    try {
      this.sent.push({ msg: decodeMessage(data), size: data.length });
    } catch {
      // not CoAP (a DTLS record when wrapped below DTLS): not recorded
    }
    return this.inner.send(data, peer);
  }
  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.inner.onDatagram(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  peerKey(peer: Peer): string {
    return this.inner.peerKey?.(peer) ?? `${peer.address}:${peer.port}`;
  }
  /** The 2.05 notifications (with an Observe number) sent so far. */
  notifications(): Array<{ msg: CoapMessage; size: number; observe: number }> {
    return this.sent
      .filter((s) => s.msg.code === 0x45 && getObserve(s.msg) !== undefined)
      .map((s) => ({ ...s, observe: getObserve(s.msg)! }));
  }
}

export const contentFormatOf = (msg: CoapMessage): number | undefined => {
  const o = msg.options.find((x) => x.number === OptionNumber.CONTENT_FORMAT);
  return o === undefined ? undefined : o.value.length === 0 ? 0 : o.value.readUIntBE(0, o.value.length);
};

/** Resource values the device holds under `path`, as the api shows them (path -> value). */
export function deviceState(device: SimulatedDevice, path: string): Record<string, unknown> {
  const p = Lwm2mPath.parse(path);
  const out: Record<string, unknown> = {};
  for (const v of toJsonValues(device.tree.read(p), p)) out[v.path] = v.value;
  return out;
}

/** The leaves a SenML-ETCH notification sets and removes. */
export function patchOf(device: SimulatedDevice, msg: CoapMessage): { set: string[]; removed: string[] } {
  const cf = contentFormatOf(msg) ?? ContentFormat.SENML_ETCH_CBOR;
  const patch = decodeSenmlPatch(msg.payload, cf, device.tree.model);
  return {
    set: patch.set.flatMap(({ path, node }) => flatten(node, path).map((l) => l.path.toString())),
    removed: patch.removed.map(String),
  };
}

/**
 * Change number `i` of a single resource: /3/0/9 (battery level) on even steps, /9/0/1 (package version) on
 * odd ones. Returns the changed path.
 */
export function changeOne(device: SimulatedDevice, i: number): string {
  if (i % 2 === 0) {
    device.tree.setValue('/3/0/9', (i * 7) % 101);
    return '/3/0/9';
  }
  device.tree.setValue('/9/0/1', `v${i}`);
  return '/9/0/1';
}

/**
 * The device before it is observed: a clock that changes every second would add notifications of its own
 * (/3/0/13 Current Time), so it is removed; /9/0 gets values that are not all empty.
 */
export function prepareDevice(device: SimulatedDevice): void {
  device.tree.removeResource('/3/0/13');
  device.tree.setValue('/9/0/0', 'firmware-package');
  device.tree.setValue('/9/0/1', 'v0');
}
