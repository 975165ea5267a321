// Issue 13 item 2: the simulator recovers as a real client does when the server lost its DTLS session (a
// server restarted without its sessions, or with its Redis wiped): its records are dropped unanswered, so
// after consecutive Update timeouts it drops its session, handshakes again and registers again.
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDtlsTransport, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

type Device = { registrationId: string };

describe('a simulated DTLS device whose session the server no longer knows', () => {
  it('re-handshakes after two Update timeouts, registers again and is reachable', async () => {
    const endpoint = 'sim-recovers';
    const key = randomBytes(16);
    await server.api('PUT', `/api/v1/devices/${endpoint}/credentials`, {
      psk: { identity: endpoint, key: key.toString('hex') },
    });
    const dtlsClient = createDtlsTransport(await UdpTransport.bind({ port: 0, address: '127.0.0.1' }), {
      psk: { identity: endpoint, key },
    });
    const dev = new SimulatedDevice({
      endpoint,
      transport: dtlsClient,
      server: { address: '127.0.0.1', port: server.coapsPort },
      lifetime: 600,
      updateAt: 0,
      requestTimeoutMs: 1500,
      recoverAfterTimeouts: 2,
    });
    const dtls = server.node.gateway.get(CoapServerService).dtls!;
    try {
      await dev.start();
      const first = await server.api<Device>('GET', `/api/v1/devices/${endpoint}`);
      expect(first.status).toBe(200);
      expect(dtls.counters.handshakesCompleted).toBe(1);

      // The server forgets the session without telling the device (as a restart without its sessions does).
      const session = dtls.sessions().find((s) => s.identity?.type === 'psk')!;
      expect(session.cid?.length).toBeGreaterThan(0);
      dtls.dropSession(session.ref);

      const registered = once(dev, 'registered');
      await expect(dev.update()).rejects.toThrow(/no response|no ACK/);
      expect(dev.recoveries).toBe(0);
      await expect(dev.update()).rejects.toThrow(/no response|no ACK/);
      await registered;

      expect(dev.recoveries).toBe(1);
      expect(dtlsClient.counters.handshakesCompleted).toBe(2);
      expect(dtls.counters.handshakesCompleted).toBe(2);
      const again = await server.api<Device>('GET', `/api/v1/devices/${endpoint}`);
      expect(again.status).toBe(200);
      expect(again.body.registrationId).not.toBe(first.body.registrationId);
      const read = await server.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        `/api/v1/devices/${endpoint}/data/3/0/0`,
      );
      expect(read.status).toBe(200);
      expect(read.body.values[0]?.value).toBe('Open Mobile Alliance');
      expect(await dev.update()).toBe(0x44);
    } finally {
      await dev.close();
    }
  });

  it('does not recover with recoverAfterTimeouts 0: its Updates keep timing out', async () => {
    const endpoint = 'sim-no-recovery';
    const key = randomBytes(16);
    await server.api('PUT', `/api/v1/devices/${endpoint}/credentials`, {
      psk: { identity: endpoint, key: key.toString('hex') },
    });
    const dev = new SimulatedDevice({
      endpoint,
      transport: createDtlsTransport(await UdpTransport.bind({ port: 0, address: '127.0.0.1' }), {
        psk: { identity: endpoint, key },
      }),
      server: { address: '127.0.0.1', port: server.coapsPort },
      lifetime: 600,
      updateAt: 0,
      requestTimeoutMs: 1000,
      recoverAfterTimeouts: 0,
    });
    const dtls = server.node.gateway.get(CoapServerService).dtls!;
    try {
      await dev.start();
      const session = dtls
        .sessions()
        .find((s) => s.identity?.type === 'psk' && s.identity.identity === endpoint)!;
      dtls.dropSession(session.ref);
      for (let i = 0; i < 3; i++) await expect(dev.update()).rejects.toThrow(/no response|no ACK/);
      expect(dev.recoveries).toBe(0);
    } finally {
      await dev.close();
    }
  });
});
