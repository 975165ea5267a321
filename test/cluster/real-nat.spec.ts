// A real NAT, once: a device in its own network namespace reaches a cluster gateway through a NAT router
// namespace (iptables MASQUERADE --random-fully). Flushing the NAT's conntrack table makes the device's
// next datagram leave from a new external port, as a carrier NAT does after its UDP timeout. The DTLS
// session (Connection ID, RFC 9146) and the observation continue: no new handshake, notifications keep
// coming, and the server's own requests reach the device at its new address.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { type ApiProc, type GatewayProc, startApi, startGateway } from '../support/cluster';
import { createNatTopology, type NatTopology, netnsUnavailableReason } from '../support/netns';
import { type RedisHandle, startRedis } from '../support/redis';

const ROOT = resolve(__dirname, '../..');
// Decided at collection time (skipIf needs it then); beforeAll confirms by building a topology.
const unavailable =
  process.getuid?.() !== 0
    ? 'not root'
    : spawnSync('ip', ['netns', 'list']).status !== 0 || spawnSync('iptables', ['--version']).status !== 0
      ? 'iproute2 or iptables missing'
      : undefined;
if (unavailable)
  console.warn(`real NAT test not run: network namespaces cannot be created here (${unavailable})`);

describe('a device behind a real NAT (network namespaces, MASQUERADE, conntrack flush)', () => {
  let redis: RedisHandle;
  let stores: RedisStores;
  let gw: GatewayProc;
  let api: ApiProc;
  let nat: NatTopology;
  const abort = new AbortController();
  let notifications = 0;

  beforeAll(async () => {
    if (unavailable) return;
    const reason = await netnsUnavailableReason();
    if (reason) throw new Error(`network namespaces cannot be built here: ${reason}`);
    redis = await startRedis();
    stores = createRedisStores(redis.url);
    stores.redis.on('error', () => undefined);
    gw = await startGateway({ redisUrl: redis.url, name: 'nat-gw-1', env: { COAP_HOST: '0.0.0.0' } });
    api = await startApi(redis.url);
    nat = await createNatTopology();
    void (async () => {
      for await (const e of stores.events.subscribe({ afterId: '$', signal: abort.signal }))
        if (e.type === 'notification' && e.endpoint === 'nat-dev') notifications++;
    })().catch(() => undefined);
  }, 60_000);

  afterAll(async () => {
    abort.abort();
    await nat?.destroy();
    await api?.kill();
    await gw?.kill();
    await stores?.close();
    await redis?.stop();
  });

  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  };

  it.skipIf(unavailable !== undefined)(
    'keeps the session and the observation when the NAT gives the device a new port',
    async () => {
      const key = randomBytes(16).toString('hex');
      expect(
        (await api.api('PUT', '/api/v1/devices/nat-dev/credentials', { psk: { identity: 'nat-dev', key } }))
          .status,
      ).toBeLessThan(300);
      // The compiled simulator CLI, inside the device's namespace.
      const device = nat.exec([
        process.execPath,
        join(ROOT, 'dist/apps/simulator/src/main.js'),
        '--server',
        `coaps://${nat.gatewayAddr}:${gw.coapsPort}`,
        '--endpoint',
        'nat-dev',
        '--psk-key',
        key,
        '--version',
        '1.1',
      ]);
      let out = '';
      device.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      device.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      type Reg = { address: string };
      await expect
        .poll(async () => (await api.api('GET', '/api/v1/devices/nat-dev')).status, { timeout: 20_000 })
        .toBe(200);
      const before = (await api.api<Reg>('GET', '/api/v1/devices/nat-dev')).body.address;
      // The server sees the NAT's address, never the device's own.
      expect(before.startsWith(`${nat.natAddr}:`)).toBe(true);
      expect(
        (await api.api('POST', '/api/v1/devices/nat-dev/observations', { paths: ['/3303/0/5700'] })).status,
      ).toBe(201);
      await expect.poll(() => notifications, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      const handshakes = await metric('dtls_handshakes_total');
      expect(handshakes).toBe(1);

      await nat.flushConntrack();
      const seen = notifications;
      await expect.poll(() => notifications, { timeout: 15_000 }).toBeGreaterThanOrEqual(seen + 2);
      await expect
        .poll(async () => (await api.api<Reg>('GET', '/api/v1/devices/nat-dev')).body.address, {
          timeout: 10_000,
        })
        .not.toBe(before);
      const after = (await api.api<Reg>('GET', '/api/v1/devices/nat-dev')).body.address;
      console.log(
        `real NAT: ${before} -> ${after} after a conntrack flush; handshakes ${await metric('dtls_handshakes_total')}`,
      );
      expect(after.startsWith(`${nat.natAddr}:`)).toBe(true);
      // A server-initiated request reaches the device at its new external port.
      const read = await api.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        '/api/v1/devices/nat-dev/data/3/0/0',
      );
      expect(read.status, out).toBe(200);
      expect(read.body.values[0]!.value).toBe('Open Mobile Alliance');
      expect(await metric('dtls_handshakes_total')).toBe(1);
      expect(await metric('dtls_peer_address_updates_total')).toBeGreaterThanOrEqual(1);
    },
    90_000,
  );
});
