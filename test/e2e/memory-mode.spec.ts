// Issue 13 item 6: the single node without Redis (memory mode). The end-to-end flows that do not test
// persistence run on it unchanged (the LwM2M flows of every format and version, queue mode with its
// scheduler, webhooks and wake-ups), plus DTLS PSK, SSE, topics, audit and readiness; and the compiled
// `npm start` path picks memory mode by itself on a machine with neither REDIS_URL nor redis-server.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { createDtlsTransport, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { startSingleNode } from '../../apps/server/src/single-node';
import { validateGatewayConfig } from '../../apps/gateway/src/config';
import { QUEUE_ENV, waitUntil } from '../scheduler/support';
import { describeQueueModeFlows } from '../scheduler/queue-mode-flows';
import { freeTcpPort, freeUdpPort } from '../support/ports';
import { startTestServer, type TestServer } from '../support/single-node';
import { openSse } from '../support/sse';
import type { MemoryNodeStores } from '../../apps/server/src/memory-node';
import { describeLwm2mFlows } from './flows/lwm2m-flows';

describe('memory mode: the LwM2M flows', () => {
  describeLwm2mFlows(() => startTestServer({ memory: true }));
});

describe('memory mode: queue mode on the in-process scheduler', () => {
  describeQueueModeFlows((env) =>
    startTestServer({ memory: true, scheduler: validateSchedulerConfig({ ...QUEUE_ENV, ...env }) }),
  );
});

describe('memory mode: DTLS, events, topics, audit, readiness', () => {
  let server: TestServer<MemoryNodeStores>;

  beforeAll(async () => {
    server = await startTestServer({ memory: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('runs with no Redis at all: the in-memory stores, and /readyz says ready', async () => {
    expect(server.redis).toBeUndefined();
    expect(server.node.memory).toBe(true);
    expect((await server.api('GET', '/readyz')).status).toBe(200);
  });

  it('registers a PSK device over DTLS with a Connection ID, reads it and streams its notifications', async () => {
    const ep = 'mem-psk';
    const key = randomBytes(16);
    const put = await server.api('PUT', `/api/v1/devices/${ep}/credentials`, {
      psk: { identity: ep, key: key.toString('hex') },
    });
    expect(put.status).toBeLessThan(300);
    const sse = await openSse(`${server.http}/api/v1/events?endpoint=${ep}`);
    const dev = new SimulatedDevice({
      endpoint: ep,
      transport: createDtlsTransport(await UdpTransport.bind({ port: 0 }), { psk: { identity: ep, key } }),
      server: { address: '127.0.0.1', port: server.coapsPort },
      lifetime: 60,
      updateAt: 0,
      sensorIntervalMs: 100,
      observeTickMs: 50,
    });
    try {
      await dev.start();
      const reg = await server.api<{ security: string }>('GET', `/api/v1/devices/${ep}`);
      expect(reg.body.security).toBe('psk');
      const read = await server.api<{ values: Array<{ value: unknown }> }>(
        'GET',
        `/api/v1/devices/${ep}/data/3/0/0`,
      );
      expect(read.status).toBe(200);
      expect(read.body.values[0]?.value).toBe('Open Mobile Alliance');
      const obs = await server.api('POST', `/api/v1/devices/${ep}/observations`, { paths: ['/3303/0/5700'] });
      expect(obs.status).toBe(201);
      const notes = await sse.waitFor((e) => e.event === 'notification', 2);
      expect(JSON.parse(notes[0]!.data)).toMatchObject({ type: 'notification', endpoint: ep });
    } finally {
      sse.close();
      await dev.stop();
    }
  });

  it('keeps the audit trail and the topics of the group-observer in memory', async () => {
    const topic = await server.api('PUT', '/api/v1/topics/mem-topic', { value: 21.5 });
    expect(topic.status).toBeLessThan(300);
    expect((await server.api<{ name: string }>('GET', '/api/v1/topics/mem-topic')).body.name).toBe(
      'mem-topic',
    );
    const audit = await server.api<{ items: Array<{ action: string }> }>('GET', '/api/v1/audit');
    expect(audit.status).toBe(200);
    expect(audit.body.items.map((e) => e.action)).toContain('credential-put');
  });
});

describe('memory mode: what it refuses', () => {
  it('refuses a gateway cluster (CLUSTER_KEY), whose state must be shared in Redis', async () => {
    await expect(
      startSingleNode({
        memory: true,
        gateway: validateGatewayConfig({
          COAP_PORT: '0',
          COAPS_PORT: '0',
          COAP_HOST: '127.0.0.1',
          CLUSTER_KEY: 'a-cluster-key-of-16-bytes-or-more',
        }),
        http: { port: 0, host: '127.0.0.1' },
        logger: false,
      }),
    ).rejects.toThrow(/CLUSTER_KEY.*REDIS_URL/);
  });

  it('refuses gateway worker threads (GATEWAY_WORKERS > 1), which share their state in Redis', async () => {
    await expect(
      startSingleNode({
        memory: true,
        gateway: validateGatewayConfig({
          COAP_PORT: '0',
          COAPS_PORT: '0',
          COAP_HOST: '127.0.0.1',
          GATEWAY_WORKERS: '2',
        }),
        http: { port: 0, host: '127.0.0.1' },
        logger: false,
      }),
    ).rejects.toThrow(/invalid configuration: GATEWAY_WORKERS > 1 needs Redis.*REDIS_URL/);
  });

  it('npm start without Redis stops at once on GATEWAY_WORKERS=2, naming the setting', async () => {
    const emptyBin = mkdtempSync(join(tmpdir(), 'no-redis-bin-'));
    try {
      const { REDIS_URL: _r, REDIS_SENTINELS: _s, REDIS_CLUSTER_NODES: _c, ...rest } = process.env;
      const child = spawn(process.execPath, ['dist/apps/server/src/main.js'], {
        cwd: resolve(__dirname, '../..'),
        env: { ...rest, PATH: emptyBin, GATEWAY_WORKERS: '2', COAP_HOST: '127.0.0.1', HTTP_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).not.toBe(0);
      expect(out).toMatch(/GATEWAY_WORKERS > 1 needs Redis/);
    } finally {
      rmSync(emptyBin, { recursive: true, force: true });
    }
  });
});

describe('npm start without Redis (compiled: node dist/apps/server/src/main.js)', () => {
  const emptyBin = mkdtempSync(join(tmpdir(), 'no-redis-bin-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(emptyBin, { recursive: true, force: true });
  });

  it('starts in memory mode, says so in its banner, and serves a device through REST', async () => {
    const env = {
      COAP_PORT: String(await freeUdpPort()),
      COAPS_PORT: String(await freeUdpPort()),
      HTTP_PORT: String(await freeTcpPort()),
    };
    const { REDIS_URL: _r, REDIS_SENTINELS: _s, REDIS_CLUSTER_NODES: _c, ...rest } = process.env;
    child = spawn(process.execPath, ['dist/apps/server/src/main.js'], {
      cwd: resolve(__dirname, '../..'),
      // PATH without redis-server (an empty directory), and no REDIS_URL.
      env: {
        ...rest,
        PATH: emptyBin,
        LOG_LEVEL: 'warn',
        COAP_HOST: '127.0.0.1',
        HTTP_HOST: '127.0.0.1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    await waitUntil(
      'the ready banner',
      async () => {
        if (child!.exitCode !== null) throw new Error(`exited with ${child!.exitCode}:\n${out}`);
        return out.includes('LwM2M server ready');
      },
      60_000,
    );
    expect(out).toMatch(/MEMORY MODE/);
    expect(out).toMatch(/lost when this process stops/);
    expect(out).toMatch(/install redis-server.*\n.*REDIS_URL/);
    expect(out).not.toContain('redis-server not found');

    const dev = new SimulatedDevice({
      endpoint: 'mem-npm-start',
      transport: await UdpTransport.bind({ port: 0 }),
      server: { address: '127.0.0.1', port: Number(env.COAP_PORT) },
      lifetime: 60,
      updateAt: 0,
    });
    try {
      await dev.register();
      const base = `http://127.0.0.1:${env.HTTP_PORT}/api/v1/devices`;
      const list = (await (await fetch(base)).json()) as { items: Array<{ endpoint: string }> };
      expect(list.items.map((i) => i.endpoint)).toContain('mem-npm-start');
      const read = await fetch(`${base}/mem-npm-start/data/3/0/0`);
      expect(read.status).toBe(200);
      const body = (await read.json()) as { values: Array<{ value: unknown }> };
      expect(body.values[0]?.value).toBe('Open Mobile Alliance');
    } finally {
      await dev.close();
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});
