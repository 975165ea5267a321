// DeviceFleet: many simulated clients named prefix-N, started at a rate, each on its own UDP socket.
import { describe, expect, it } from 'vitest';
import { DeviceFleet } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { TestLwm2mServer } from './test-server';

describe('DeviceFleet', () => {
  it('registers prefix-1..prefix-N at the given rate and de-registers them all on stop', async () => {
    const server = await TestLwm2mServer.start();
    try {
      const fleet = new DeviceFleet({
        prefix: 'load',
        count: 10,
        ratePerSecond: 100,
        server: server.address,
        sensorIntervalMs: 0,
        requestTimeoutMs: 3000,
        createTransport: () => UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      });
      const result = await fleet.start();
      expect(result).toMatchObject({ started: 10, failed: 0 });
      // 10 devices at 100/s: the last one starts about 90 ms after the first.
      expect(result.elapsedMs).toBeGreaterThanOrEqual(80);
      const names = server
        .of('register')
        .map((r) => r.query[0])
        .sort();
      expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `ep=load-${i + 1}`).sort());
      expect(fleet.registeredCount).toBe(10);
      await fleet.stop();
      expect(server.of('deregister')).toHaveLength(10);
    } finally {
      await server.close();
    }
  });
});
