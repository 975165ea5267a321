// Issue 19 acceptance over DTLS: patch notifications (SenML-ETCH JSON) from a device with a Connection ID whose
// NAT mapping changes between patches (RFC 9146 section 6). The merged state follows the device after every
// step, the session is the same one (no new handshake), and each datagram still carries only what changed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsClient } from '@lwm2m/dtls';
import { ContentFormat } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import {
  changeOne,
  contentFormatOf,
  deviceState,
  expectMergedToMatch,
  mergedState,
  patchOf,
  prepareDevice,
  RecordingTransport,
  softwareManagementModel,
} from '../support/patch-notifications';
import { startTestServer, type TestServer } from '../support/single-node';

const KEY = randomBytes(16);
const EP = 'patch-dtls';
let server: TestServer;
let device: SimulatedDevice;
let dtls: DtlsClient;
let udp: UdpTransport;
let wire: RecordingTransport;

beforeAll(async () => {
  server = await startTestServer();
  const put = await server.api('PUT', `/api/v1/devices/${EP}/credentials`, {
    psk: { identity: EP, key: KEY.toString('hex') },
  });
  expect(put.status).toBe(201);
  udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  dtls = new DtlsClient({ transport: udp, psk: { identity: EP, key: KEY }, connectionId: true });
  wire = new RecordingTransport(dtls);
  device = new SimulatedDevice({
    endpoint: EP,
    transport: wire,
    server: { address: '127.0.0.1', port: server.coapsPort },
    lifetime: 60,
    updateAt: 0,
    sensorIntervalMs: 0,
    observeTickMs: 10,
    contentFormat: ContentFormat.SENML_CBOR,
    models: [softwareManagementModel()],
    patchNotifications: 'etch-json',
  });
  prepareDevice(device);
  await device.start();
});

afterAll(async () => {
  await device?.close();
  await server?.stop();
});

describe('patch notifications over DTLS with a NAT rebinding between patches', () => {
  it('keeps the merged state equal to the device through rebindings, on one session', async () => {
    const ids: Record<string, string> = {};
    for (const path of ['/3', '/9/0']) {
      const res = await server.api<{ id: string }>('POST', `/api/v1/devices/${EP}/observations`, {
        paths: [path],
      });
      expect(res.status).toBe(201);
      ids[path] = res.body.id;
    }
    const svc = server.node.gateway.get(CoapServerService);
    const handshakes = svc.dtls!.counters.handshakesCompleted;
    const before = wire.notifications().length;
    const ports = new Set<number>([udp.address().port]);
    for (let i = 1; i <= 20; i++) {
      if (i % 4 === 0) {
        // The NAT forgets the mapping: the next datagram leaves from a new port, with the same CID.
        const old = udp;
        udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
        dtls.setTransport(udp);
        await old.close();
        ports.add(udp.address().port);
      }
      const path = changeOne(device, i);
      const observed = path.startsWith('/3/') ? '/3' : '/9/0';
      await expectMergedToMatch(server.api, device, EP, ids[observed]!, observed);
      const sent = wire.notifications().slice(before + i - 1);
      expect(sent).toHaveLength(1);
      expect(contentFormatOf(sent[0]!.msg)).toBe(ContentFormat.SENML_ETCH_JSON);
      expect(patchOf(device, sent[0]!.msg)).toEqual({ set: [path], removed: [] });
    }
    expect(ports.size).toBe(6);
    expect(svc.dtls!.counters.handshakesCompleted).toBe(handshakes);
    device.tree.setInstanceValue('/3/0/6/1', undefined);
    await expectMergedToMatch(server.api, device, EP, ids['/3']!, '/3');
    expect(await mergedState(server.api, EP, ids['/9/0']!)).toEqual(deviceState(device, '/9/0'));
    // The registration follows the device to its last port.
    await expect
      .poll(async () => (await server.api<{ address: string }>('GET', `/api/v1/devices/${EP}`)).body.address)
      .toBe(`127.0.0.1:${udp.address().port}`);
  });
});
