// Issue 19: bytes on the wire per change for a /9-sized object (LwM2M Software Management, the vendored OMNA
// model), full notifications against "patch" notifications, measured in the same run. A simulated device is
// observed at /9/0 by a CoAP client over real UDP sockets on 127.0.0.1; each of CHANGES steps changes one
// resource, and the CoAP datagrams the device sends are counted (NoSec; over DTLS each datagram carries the
// same fixed record overhead on top, 38 bytes with AES-128-CCM-8 and an 8-byte Connection ID).
import { CoapEndpoint } from '@lwm2m/coap';
import { ContentFormat } from '@lwm2m/lwm2m';
import { type PatchNotifications, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import {
  changeOne,
  prepareDevice,
  RecordingTransport,
  softwareManagementModel,
} from '../test/support/patch-device';

const CHANGES = 50;

interface Row {
  name: string;
  bytesPerChange: number;
  datagrams: number;
  fullObject: number;
}

async function measure(name: string, format: 110 | 112, patch: PatchNotifications | undefined): Promise<Row> {
  const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  const wire = new RecordingTransport(udp);
  const device = new SimulatedDevice({
    endpoint: `bench-${name}`,
    transport: wire,
    server: { address: '127.0.0.1', port: 9 },
    sensorIntervalMs: 0,
    observeTickMs: 5,
    contentFormat: format,
    models: [softwareManagementModel()],
    ...(patch !== undefined ? { patchNotifications: patch } : {}),
  });
  prepareDevice(device);
  const observer = new CoapEndpoint({
    transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
  });
  let received = 0;
  const handle = await observer.observe(
    { address: '127.0.0.1', port: udp.address().port },
    { code: 0x01, path: '/9/0', accept: format },
    () => received++,
  );
  const fullObject = handle.response.payload.length;
  const start = wire.notifications().length;
  for (let i = 1; i <= CHANGES; i++) {
    // Only /9/0 is observed: odd steps change /9/0/1, even ones another /9/0 resource.
    if (i % 2 === 1) changeOne(device, i);
    else device.tree.setValue('/9/0/0', `pkg-${i}`);
    const want = received + 1;
    const deadline = Date.now() + 2000;
    while (received < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  }
  const sent = wire.notifications().slice(start);
  const bytes = sent.reduce((n, s) => n + s.size, 0);
  await handle.cancel({ proactive: false });
  await observer.close();
  await device.close();
  return { name, bytesPerChange: bytes / Math.max(1, sent.length), datagrams: sent.length, fullObject };
}

export async function runPatchNotificationsBench(): Promise<void> {
  const rows = [
    await measure('full SenML CBOR', ContentFormat.SENML_CBOR, undefined),
    await measure('patch SenML-ETCH CBOR', ContentFormat.SENML_CBOR, 'etch-cbor'),
    await measure('patch partial SenML CBOR', ContentFormat.SENML_CBOR, 'senml'),
    await measure('full SenML JSON', ContentFormat.SENML_JSON, undefined),
    await measure('patch SenML-ETCH JSON', ContentFormat.SENML_JSON, 'etch-json'),
  ];
  console.log(
    `\npatch notifications: CoAP bytes on the wire per change of one resource of /9/0 (${CHANGES} changes)`,
  );
  for (const format of ['CBOR', 'JSON']) {
    const full = rows.find((r) => r.name === `full SenML ${format}`)!;
    for (const r of rows.filter((x) => x.name.endsWith(format))) {
      console.log(
        `  ${r.name.padEnd(26)} ${r.bytesPerChange.toFixed(1).padStart(7)} B/change  ` +
          `(${r.datagrams} datagrams, object payload ${r.fullObject} B)  x${(r.bytesPerChange / full.bytesPerChange).toFixed(3)} of full`,
      );
    }
  }
}

if (require.main === module) void runPatchNotificationsBench();
