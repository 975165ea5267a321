// Issue 16 acceptance: "Bootstrap survives a gateway kill between Bootstrap-Write and Bootstrap-Finish on a
// 3-node cluster". Three compiled gateways with BOOTSTRAP_ENABLED behind a real UDP load balancer (nginx
// stream, hash on the client's address and port) for the bootstrap DTLS port, and another for the LwM2M DTLS
// port. A simulated client bootstraps over DTLS PSK with its factory credential; every Bootstrap-Write is
// answered, then the Bootstrap-Finish datagram is lost (the client's test hook), the test reads in Redis that
// the session stands at "finish" on node X, and SIGKILLs X. The load balancer drops X (as Kubernetes removes a
// dead pod from the Service); the client's next Bootstrap-Request (new DTLS session) lands on another node,
// which continues the session once X's lease (CLUSTER_LEASE_MS) has passed: it sends only Bootstrap-Finish,
// nothing is written twice, and the device registers over DTLS with the PSK X wrote.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootstrapConfig, planSteps } from '@lwm2m/bootstrap';
import { atRestKeyFromSecret } from '@lwm2m/bytes';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { BootstrapClient, createDtlsTransport, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { type GatewayProc, SECRETS_KEY, startGateway } from '../support/cluster';
import { startUdpLoadBalancer, type UdpLoadBalancer } from '../support/nginx-udp';
import { stableUdpPort } from '../support/ports';
import { type RedisHandle, startRedis } from '../support/redis';

interface BootstrapGateway {
  proc: GatewayProc;
  bootstrapSecurePort: number;
}

let redis: RedisHandle;
let stores: RedisStores;
let gateways: BootstrapGateway[] = [];
let lbBootstrap: UdpLoadBalancer;
let lbLwm2m: UdpLoadBalancer;

async function metric(gw: GatewayProc, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(labels) && !l.startsWith('#'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

beforeAll(async () => {
  redis = await startRedis();
  stores = createRedisStores(redis.url, { credentials: { secretsKey: atRestKeyFromSecret(SECRETS_KEY) } });
  gateways = await Promise.all(
    ['bs-gw-1', 'bs-gw-2', 'bs-gw-3'].map(async (name) => {
      const bootstrapSecurePort = await stableUdpPort();
      const proc = await startGateway({
        redisUrl: redis.url,
        name,
        env: {
          BOOTSTRAP_ENABLED: 'true',
          BOOTSTRAP_PORT: String(await stableUdpPort()),
          BOOTSTRAP_SECURE_PORT: String(bootstrapSecurePort),
        },
      });
      return { proc, bootstrapSecurePort };
    }),
  );
  lbBootstrap = await startUdpLoadBalancer({
    upstreams: gateways.map((g) => ({ host: '127.0.0.1', port: g.bootstrapSecurePort })),
  });
  lbLwm2m = await startUdpLoadBalancer({
    upstreams: gateways.map((g) => ({ host: '127.0.0.1', port: g.proc.coapsPort })),
  });
}, 120_000);

afterAll(async () => {
  await lbBootstrap?.stop();
  await lbLwm2m?.stop();
  await Promise.all(gateways.map((g) => g.proc.kill('SIGKILL')));
  await stores?.close();
  await redis?.stop();
}, 30_000);

describe('bootstrap on a 3-gateway cluster behind a UDP load balancer', () => {
  it('survives a SIGKILL of its gateway between the Bootstrap-Writes and Bootstrap-Finish, then the device registers', async () => {
    const ep = 'bs-failover-1';
    const factory = { identity: 'bs-failover-factory', key: randomBytes(16) };
    const config: BootstrapConfig = {
      servers: [
        {
          shortServerId: 1,
          uri: `coaps://127.0.0.1:${lbLwm2m.port}`,
          security: 'psk',
          lifetime: 120,
        },
      ],
      bootstrapPsk: factory,
    };
    await stores.bootstrapConfigs.put(ep, config);

    let killed = false;
    let finishLost!: () => void;
    const lost = new Promise<void>((r) => (finishLost = r));
    const client = new BootstrapClient({
      endpoint: ep,
      transport: createDtlsTransport(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }), {
        psk: factory,
      }),
      servers: [{ address: '127.0.0.1', port: lbBootstrap.port }],
      preferredContentFormat: 112,
      retryAfterMs: 2000,
      timeoutMs: 40_000,
      // The first node's Bootstrap-Finish never arrives (nor its retransmissions): it dies before the answer.
      lose: (op) => {
        if (op !== 'POST /bs' || killed) return false;
        finishLost();
        return true;
      },
    });
    let device: SimulatedDevice | undefined;
    try {
      const run = client.run();
      await Promise.race([
        lost,
        run.then(() => {
          throw new Error('finished without losing Bootstrap-Finish');
        }),
      ]);
      // Every write was answered; the session in Redis stands at Bootstrap-Finish on one node.
      expect(client.operations.filter((o) => o.startsWith('PUT '))).toEqual(['PUT /0/1', 'PUT /1/0']);
      const before = (await stores.bootstrapSessions.get(ep))!;
      expect(before.state).toBe('running');
      expect(planSteps(config, before)[before.step]).toEqual({ kind: 'finish' });
      const victim = gateways.find((g) => g.proc.name === before.node)!;
      expect(victim).toBeDefined();
      const survivors = gateways.filter((g) => g !== victim);

      const killedAt = Date.now();
      await victim.proc.kill('SIGKILL');
      killed = true;
      // The platform's load balancer drops the dead endpoint (Kubernetes removes it from the Service).
      await lbBootstrap.reload(survivors.map((g) => ({ host: '127.0.0.1', port: g.bootstrapSecurePort })));
      await lbLwm2m.reload(survivors.map((g) => ({ host: '127.0.0.1', port: g.proc.coapsPort })));

      const outcome = await run;
      const tookMs = Date.now() - killedAt;
      // The client has answered the Finish; the node records it as the 2.04 reaches it.
      await expect
        .poll(async () => (await stores.bootstrapSessions.get(ep))?.state, { timeout: 5000 })
        .toBe('finished');
      const after = (await stores.bootstrapSessions.get(ep))!;
      console.log(
        `bootstrap: ${victim.proc.name} killed at Bootstrap-Finish; ${after.node} finished the session ` +
          `${tookMs} ms later (lease ${victim.proc.env.CLUSTER_LEASE_MS} ms, client retry 2000 ms)`,
      );
      expect(tookMs).toBeLessThan(15_000);
      expect(after).toMatchObject({ id: before.id, state: 'finished' });
      expect(survivors.map((g) => g.proc.name)).toContain(after.node);
      // Continued, not started over: one Delete, each write once, then the Finish that arrived.
      expect(client.operations.filter((o) => o === 'DELETE /')).toHaveLength(1);
      expect(client.operations.filter((o) => o.startsWith('PUT '))).toEqual(['PUT /0/1', 'PUT /1/0']);
      expect(client.operations.at(-1)).toBe('POST /bs');
      const events = (await stores.events.recent(100, ep)).filter((e) => e.type.startsWith('bootstrap'));
      expect(events.map((e) => e.type)).toEqual([
        'bootstrap-started',
        'bootstrap-started',
        'bootstrap-finished',
      ]);
      expect(events[0]).toMatchObject({ node: victim.proc.name });
      expect(events[1]).toMatchObject({ node: after.node, resumedAt: 'finish' });
      const taker = survivors.find((g) => g.proc.name === after.node)!;
      expect(await metric(taker.proc, 'bootstrap_sessions_started_total', 'kind="resumed"')).toBe(1);
      expect(await metric(taker.proc, 'bootstrap_finished_total')).toBe(1);

      // The device registers through the load balancer with the PSK the killed node wrote and stored.
      const account = outcome.servers[0]!;
      expect(account.psk?.identity).toBe(ep);
      device = new SimulatedDevice({
        endpoint: ep,
        transport: createDtlsTransport(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }), {
          psk: account.psk!,
        }),
        server: { address: '127.0.0.1', port: lbLwm2m.port },
        lifetime: account.lifetime,
        updateAt: 0,
        requestTimeoutMs: 5000,
        bootstrapped: outcome.objects,
      });
      await device.start();
      const reg = await stores.registrations.getByEndpoint(ep);
      expect(reg).toMatchObject({ endpoint: ep, security: 'psk', lifetime: 120 });
    } finally {
      await device?.stop().catch(() => undefined);
      await client.close();
    }
  }, 60_000);
});
