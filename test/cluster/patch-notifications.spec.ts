// Issue 19 acceptance in the cluster: patch notifications across a gateway takeover. Two compiled gateways
// behind the UDP load balancer (nginx stream, as in cluster.spec.ts), the api as its own process, one Redis.
// A DTLS device observed at /3 and /9/0 sends SenML-ETCH patches; the gateway that owns its session is killed
// with SIGKILL, the other takes the session over from Redis, and the merged state (kept in Redis, not in the
// process) survives: it equals the device's state right after the kill and after every patch that follows.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsClient } from '@lwm2m/dtls';
import { ContentFormat } from '@lwm2m/lwm2m';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { SimulatedDevice } from '@lwm2m/simulator';
import { cidHexOf } from '@lwm2m/transport';
import { UdpTransport } from '@lwm2m/udp';
import { type ApiProc, type GatewayProc, startApi, startGateway } from '../support/cluster';
import { startUdpLoadBalancer, type UdpLoadBalancer } from '../support/nginx-udp';
import {
  changeOne,
  deviceState,
  expectMergedToMatch,
  mergedState,
  prepareDevice,
  RecordingTransport,
  softwareManagementModel,
} from '../support/patch-notifications';
import { type RedisHandle, startRedis } from '../support/redis';

const EP = 'cl-patch';
let redis: RedisHandle;
let stores: RedisStores;
let gateways: GatewayProc[] = [];
let api: ApiProc;
let lb: UdpLoadBalancer;
let device: SimulatedDevice;
let dtls: DtlsClient;
let wire: RecordingTransport;

beforeAll(async () => {
  redis = await startRedis();
  stores = createRedisStores(redis.url);
  stores.redis.on('error', () => undefined);
  gateways = await Promise.all(['gw-1', 'gw-2'].map((name) => startGateway({ redisUrl: redis.url, name })));
  api = await startApi(redis.url);
  lb = await startUdpLoadBalancer({
    upstreams: gateways.map((g) => ({ host: '127.0.0.1', port: g.coapsPort })),
  });
  const key = randomBytes(16);
  const put = await api.api('PUT', `/api/v1/devices/${EP}/credentials`, {
    psk: { identity: EP, key: key.toString('hex') },
  });
  expect(put.status).toBe(201);
  dtls = new DtlsClient({
    transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
    psk: { identity: EP, key },
  });
  wire = new RecordingTransport(dtls);
  device = new SimulatedDevice({
    endpoint: EP,
    transport: wire,
    server: { address: '127.0.0.1', port: lb.port },
    lifetime: 600,
    updateAt: 0,
    sensorIntervalMs: 0,
    observeTickMs: 20,
    requestTimeoutMs: 20_000,
    contentFormat: ContentFormat.SENML_CBOR,
    models: [softwareManagementModel()],
    patchNotifications: 'etch-cbor',
  });
  prepareDevice(device);
  await device.start();
}, 120_000);

afterAll(async () => {
  await device?.close().catch(() => undefined);
  await lb?.stop();
  await api?.kill();
  await Promise.all(gateways.map((g) => g.kill('SIGKILL')));
  await stores?.close();
  await redis?.stop();
}, 60_000);

describe('patch notifications across a gateway takeover', () => {
  it('keeps the merged state in Redis: it survives kill -9 of the owner and the patches go on merging', async () => {
    const ids: Record<string, string> = {};
    for (const path of ['/3', '/9/0']) {
      const res = await api.api<{ id: string }>('POST', `/api/v1/devices/${EP}/observations`, {
        paths: [path],
      });
      expect(res.status).toBe(201);
      ids[path] = res.body.id;
    }
    const step = async (i: number): Promise<void> => {
      const path = changeOne(device, i);
      const observed = path.startsWith('/3/') ? '/3' : '/9/0';
      await expectMergedToMatch(api.api, device, EP, ids[observed]!, observed);
    };
    for (let i = 1; i <= 10; i++) await step(i);

    const reg = await stores.registrations.getByEndpoint(EP);
    const owner = await stores.sessions.owner(cidHexOf(reg?.session)!);
    const nodes = (await api.api<Array<{ id: number; name: string }>>('GET', '/api/v1/cluster/nodes')).body;
    const victim = gateways.find((g) => g.name === nodes.find((n) => n.id === owner)!.name)!;
    await victim.kill('SIGKILL');
    await lb.reload(
      gateways.filter((g) => g !== victim).map((g) => ({ host: '127.0.0.1', port: g.coapsPort })),
    );
    // Nothing of the merged state lived in the dead process.
    expect(await mergedState(api.api, EP, ids['/3']!)).toEqual(deviceState(device, '/3'));
    expect(await mergedState(api.api, EP, ids['/9/0']!)).toEqual(deviceState(device, '/9/0'));

    // The device's next patches reach the survivor, which takes the session and the observations over.
    for (let i = 11; i <= 30; i++) await step(i);
    device.tree.setInstanceValue('/3/0/8/1', undefined);
    await expectMergedToMatch(api.api, device, EP, ids['/3']!, '/3');
    expect(await mergedState(api.api, EP, ids['/9/0']!)).toEqual(deviceState(device, '/9/0'));
    expect(dtls.counters.handshakesCompleted).toBe(1);
    const patches = wire.notifications().filter((n) => n.msg.payload.length > 0 && n.size < 60);
    expect(patches.length).toBeGreaterThanOrEqual(31);
  }, 120_000);
});
