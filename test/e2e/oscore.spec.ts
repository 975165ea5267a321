// Issue 14 item 3, LwM2M over OSCORE (RFC 8613) on the gateway stack with a real redis-server and real UDP:
// a simulated device registers with OSCORE, the api's read and observation reach it protected, and the
// abuse cases are refused with RFC 8613 section 8.2's codes: a replayed request, a wrong key, an unknown
// kid, one endpoint's context registering another, NoSec for an OSCORE endpoint. A gateway restart keeps
// the device working without new key material: the sequence lease puts the server's Partial IVs above every
// one used before, and Echo (Appendix B.1.2) sets the replay window the restart lost.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  OptionNumber,
  setUriPath,
  setUriQuery,
  type CoapMessage,
} from '@lwm2m/coap';
import { createGatewayStack, type GatewayStack, validateGatewayConfig } from '@lwm2m/gateway';
import { gatewayMetricSpecs } from '@lwm2m/metrics';
import { protectRequest, SecurityContext, verifyResponse } from '@lwm2m/oscore';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import type { DeviceCommand } from '@lwm2m/server';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { mutate, prng } from '../support/fuzz';
import { freeUdpPort } from '../support/ports';
import { type RedisHandle, startRedis } from '../support/redis';

const SECRETS_KEY = randomBytes(32);
const A = {
  ep: 'urn:dev:oscore-a',
  secret: randomBytes(16),
  salt: randomBytes(8),
  server: '01',
  device: 'a1',
};
const B = {
  ep: 'urn:dev:oscore-b',
  secret: randomBytes(16),
  salt: randomBytes(8),
  server: '02',
  device: 'b1',
};

let redis: RedisHandle;
let stores: RedisStores;
let stack: GatewayStack;
let port: number;
const open: Array<{ close(): Promise<void> | void }> = [];

async function startStack(): Promise<GatewayStack> {
  const s = createGatewayStack(
    validateGatewayConfig({
      COAP_PORT: String(port),
      COAPS_PORT: '0',
      COAP_HOST: '127.0.0.1',
      COAP_ECHO: 'off',
    }),
    stores,
  );
  await s.start();
  return s;
}

function provision(d: typeof A) {
  return stores.credentials.put(d.ep, {
    type: 'oscore',
    oscore: {
      masterSecret: d.secret,
      masterSalt: d.salt,
      senderId: Buffer.from(d.server, 'hex'),
      recipientId: Buffer.from(d.device, 'hex'),
    },
  });
}

/** The device's own context (its Sender ID is the kid the server looks up). */
function deviceContext(d: typeof A, secret = d.secret): SecurityContext {
  return new SecurityContext({
    masterSecret: secret,
    masterSalt: d.salt,
    senderId: Buffer.from(d.device, 'hex'),
    recipientId: Buffer.from(d.server, 'hex'),
  });
}

function command(endpoint: string, op: DeviceCommand['op'], path: string): DeviceCommand {
  return { id: randomUUID(), endpoint, op, path, timeoutMs: 5000, createdAt: Date.now() };
}

/** A raw client: sends `msg` as is on its own socket and returns the decoded answer. */
async function rawExchange(udp: UdpTransport, msg: CoapMessage): Promise<CoapMessage> {
  const answer = new Promise<CoapMessage>((resolve) =>
    udp.onDatagram((data) => resolve(decodeMessage(data))),
  );
  await udp.send(encodeMessage(msg), { address: '127.0.0.1', port });
  return answer;
}

function registerMessage(ep: string, mid: number): CoapMessage {
  const m = createMessage({ type: CoapType.CON, code: CoapCode.POST });
  m.messageId = mid;
  m.token = randomBytes(4);
  setUriPath(m, ['rd']);
  setUriQuery(m, [`ep=${ep}`, 'lt=60', 'lwm2m=1.1', 'b=U']);
  m.payload = Buffer.from('</1/0>,</3/0>');
  return m;
}

function device(d: typeof A, udp: UdpTransport): SimulatedDevice {
  const dev = new SimulatedDevice({
    endpoint: d.ep,
    transport: udp,
    server: { address: '127.0.0.1', port },
    lwm2mVersion: '1.1',
    lifetime: 60,
    updateAt: 0,
    sensorIntervalMs: 50,
    observeTickMs: 50,
    requestTimeoutMs: 3000,
    oscore: {
      masterSecret: d.secret,
      masterSalt: d.salt,
      senderId: Buffer.from(d.device, 'hex'),
      recipientId: Buffer.from(d.server, 'hex'),
    },
  });
  open.push(dev);
  return dev;
}

beforeAll(async () => {
  redis = await startRedis();
  stores = createRedisStores(redis.url, { credentials: { secretsKey: SECRETS_KEY } });
  await stores.credentials.verifySecretsKey();
  await provision(A);
  await provision(B);
  port = await freeUdpPort();
  stack = await startStack();
}, 30_000);

afterAll(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  await stack?.close();
  await stores?.close();
  await redis?.stop();
});

describe('LwM2M over OSCORE', () => {
  let devA: SimulatedDevice;

  it('registers over OSCORE (after the Echo round trip), and the api reads /3/0, writes /3/0/15 and observes', async () => {
    devA = device(A, await UdpTransport.bind({ port: 0, address: '127.0.0.1' }));
    await devA.start();
    const reg = await stores.registrations.getByEndpoint(A.ep);
    expect(reg).toMatchObject({ security: 'oscore' });
    // Appendix B.1.2: a context new to this process asked for Echo first; the retry verified.
    expect(stack.oscore!.counters.requests['echo-required']).toBe(1);
    expect(stack.oscore!.counters.requests.ok).toBeGreaterThanOrEqual(1);

    const read = await stores.commands.execute(command(A.ep, 'read', '/3/0'));
    expect(read).toMatchObject({ ok: true, status: 200 });
    expect(JSON.stringify(read)).toContain('"/3/0/0"');
    // The device verified a protected request and answered it protected.
    expect(devA.oscore!.seam.counters.requests.ok).toBeGreaterThanOrEqual(1);
    expect(devA.oscore!.seam.counters.protected).toBeGreaterThanOrEqual(2);

    // A Write over OSCORE (/3/0/15 Timezone): protected by the server, verified by the device, then read back.
    const write = await stores.commands.execute({
      ...command(A.ep, 'write', '/3/0/15'),
      values: [{ path: '/3/0/15', type: 'string', value: 'Asia/Tokyo' }],
    });
    expect(write).toMatchObject({ ok: true, status: 204 });
    const back = await stores.commands.execute(command(A.ep, 'read', '/3/0/15'));
    expect(JSON.stringify(back)).toContain('Asia/Tokyo');

    const obs = await stores.commands.execute(command(A.ep, 'observe', '/3303/0/5700'));
    expect(obs).toMatchObject({ ok: true });
    await expect.poll(() => stack.notifications, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    // The first response and the notifications verified with the observation's binding (section 8.4.2).
    expect(stack.oscore!.counters.responses.ok).toBeGreaterThanOrEqual(3);
    // Send (TS 1.2 Core 6.4.4) over OSCORE: the data reaches the server's event stream.
    const sendsBefore = stack.events.send ?? 0;
    expect(await devA.send(['/3303/0/5700'])).toBe(CoapCode.CHANGED);
    expect((stack.events.send ?? 0) - sendsBefore).toBe(1);
  }, 30_000);

  it('refuses a replayed request with 4.01 "Replay detected"', async () => {
    const ctx = deviceContext(B);
    const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
    open.push(udp);
    const first = protectRequest(ctx, registerMessage(B.ep, 100));
    if (!first.ok) throw new Error(first.reason);
    // A new context for the server: Echo first (protected 4.01 with Echo).
    const challenge = await rawExchange(udp, first.message);
    expect(challenge.code).toBe(CoapCode.CHANGED); // the outer code of a protected response
    const v = verifyResponse(first.binding, challenge);
    expect(v.ok && v.message.code).toBe(CoapCode.UNAUTHORIZED);
    const echo = v.ok ? v.message.options.find((o) => o.number === OptionNumber.ECHO)!.value : undefined;
    const again = registerMessage(B.ep, 101);
    again.options.push({ number: OptionNumber.ECHO, value: echo! });
    const fresh = protectRequest(ctx, again);
    if (!fresh.ok) throw new Error(fresh.reason);
    const created = await rawExchange(udp, fresh.message);
    const ok = verifyResponse(fresh.binding, created);
    expect(ok.ok && ok.message.code).toBe(CoapCode.CREATED);
    // The same protected bytes with a new Message ID (past deduplication): the window refuses them.
    const replay = { ...fresh.message, messageId: 102 };
    const refused = await rawExchange(udp, replay);
    expect(refused.code).toBe(CoapCode.UNAUTHORIZED);
    expect(refused.payload.toString()).toBe('Replay detected');
    // oscore_requests_total{result="replay"} (libs/metrics), read as a scrape does.
    const spec = gatewayMetricSpecs(stack.counters()).find((m) => m.name === 'oscore_requests_total')!;
    expect(spec.read()).toContainEqual({ labels: { result: 'replay' }, value: 1 });
  });

  it('refuses a wrong key (4.00), an unknown kid (4.01), and A registering as B (4.03)', async () => {
    const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
    open.push(udp);
    const wrongCtx = deviceContext(B, randomBytes(16));
    // Above the Partial IVs B used (the window would refuse those as replays before decrypting).
    for (let i = 0; i < 500; i++) wrongCtx.sequence.take();
    const wrong = protectRequest(wrongCtx, registerMessage(B.ep, 200));
    if (!wrong.ok) throw new Error(wrong.reason);
    const r1 = await rawExchange(udp, wrong.message);
    expect([r1.code, r1.payload.toString()]).toEqual([CoapCode.BAD_REQUEST, 'Decryption failed']);

    const stranger = { ...B, device: 'ee' };
    const unknown = protectRequest(deviceContext(stranger), registerMessage(B.ep, 201));
    if (!unknown.ok) throw new Error(unknown.reason);
    const r2 = await rawExchange(udp, unknown.message);
    expect([r2.code, r2.payload.toString()]).toEqual([CoapCode.UNAUTHORIZED, 'Security context not found']);

    // A's context (verified, fresh) used to Register as B: the binding refuses it as for a PSK.
    const client = new CoapEndpoint({
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
    });
    open.push(client);
    const ctxA = deviceContext(A);
    // A's device used Partial IVs from 0: this impostor continues above them (it holds A's key).
    for (let i = 0; i < 1000; i++) ctxA.sequence.take();
    const res = await oscoreRegister(client, ctxA, B.ep);
    expect(res.code).toBe(CoapCode.FORBIDDEN);
    expect(stack.server!.registration.binding.counters.mismatches).toBeGreaterThanOrEqual(1);
    expect(await stores.registrations.getByEndpoint(B.ep)).toMatchObject({ security: 'oscore' });
  });

  it('refuses a NoSec Register of an OSCORE endpoint (4.03)', async () => {
    const client = new CoapEndpoint({
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
    });
    open.push(client);
    const res = await client.request(
      { address: '127.0.0.1', port },
      { code: CoapCode.POST, path: ['rd'], query: [`ep=${A.ep}`, 'lt=60', 'lwm2m=1.1'], payload: '</3/0>' },
    );
    expect(res.code).toBe(CoapCode.FORBIDDEN);
    expect(res.payload.toString()).toContain('OSCORE');
  });

  it('survives mutated protected datagrams on 5683: counted, no internal error, the device still served', async () => {
    const rand = prng(0x0c0e);
    const ctxs = [deviceContext(B), deviceContext({ ...B, device: 'ee' }), deviceContext(A, randomBytes(16))];
    for (const c of ctxs) for (let i = 0; i < 2000; i++) c.sequence.take();
    const pool: Buffer[] = [];
    for (let i = 0; i < 12; i++) {
      const p = protectRequest(ctxs[i % 3]!, registerMessage(B.ep, 400 + i));
      if (p.ok) pool.push(encodeMessage(p.message));
    }
    const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
    open.push(udp);
    const counted = () => Object.values(stack.oscore!.counters.requests).reduce((a, b) => a + (b ?? 0), 0);
    const before = counted();
    const internalBefore = stack.counters().coap()!.internalErrors;
    for (let i = 0; i < 3000; i++) {
      const bytes = mutate(rand, pool[(rand() * pool.length) | 0]!, pool);
      // A new Message ID each, so deduplication (RFC 7252 4.5) does not answer them from its cache.
      if (bytes.length >= 4) bytes.writeUInt16BE(1000 + i, 2);
      await udp.send(bytes, { address: '127.0.0.1', port });
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(counted() - before).toBeGreaterThan(500);
    expect(stack.counters().coap()!.internalErrors).toBe(internalBefore);
    expect(await stores.commands.execute(command(A.ep, 'read', '/3/0/0'))).toMatchObject({ ok: true });
  }, 30_000);

  it('keeps the device working across a gateway restart, with no new key material', async () => {
    const before = stack.oscoreContexts!;
    const ctxBefore = (
      before as unknown as { byEndpoint: Map<string, { context: SecurityContext }> }
    ).byEndpoint.get(A.ep)!.context;
    const usedBefore = ctxBefore.sequence.next;
    await stack.close();
    stack = await startStack();
    // The device's next Update meets a process without its replay window: Echo, then accepted.
    expect(await devA.update()).toBe(CoapCode.CHANGED);
    expect(stack.oscore!.counters.requests['echo-required']).toBe(1);
    const read = await stores.commands.execute(command(A.ep, 'read', '/3/0/0'));
    expect(read).toMatchObject({ ok: true, status: 200 });
    // Section 7.5: the restarted process's Partial IVs start above every one used before.
    const ctxAfter = (
      stack.oscoreContexts as unknown as { byEndpoint: Map<string, { context: SecurityContext }> }
    ).byEndpoint.get(A.ep)!.context;
    expect(usedBefore).toBeGreaterThan(0);
    expect(ctxAfter.sequence.next).toBeGreaterThan(usedBefore);
    expect(ctxAfter.sequence.next).toBeGreaterThanOrEqual(1000);
    // The device verified the server's requests after the restart (no replay refusal on its side).
    expect(devA.oscore!.seam.counters.requests.replay ?? 0).toBe(0);
  }, 30_000);
});

/** A Register through a CoapEndpoint whose seam protects with `ctx` (a device holding that context). */
async function oscoreRegister(client: CoapEndpoint, ctx: SecurityContext, ep: string) {
  const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  open.push(udp);
  const first = protectRequest(ctx, registerMessage(ep, 300));
  if (!first.ok) throw new Error(first.reason);
  let answer = await rawExchange(udp, first.message);
  let v = verifyResponse(first.binding, answer);
  if (v.ok && v.message.code === CoapCode.UNAUTHORIZED) {
    const echo = v.message.options.find((o) => o.number === OptionNumber.ECHO)!.value;
    const again = registerMessage(ep, 301);
    again.options.push({ number: OptionNumber.ECHO, value: echo });
    const p = protectRequest(ctx, again);
    if (!p.ok) throw new Error(p.reason);
    const udp2 = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
    open.push(udp2);
    answer = await rawExchange(udp2, p.message);
    v = verifyResponse(p.binding, answer);
  }
  void client;
  if (!v.ok) throw new Error(`response did not verify: ${v.reason}`);
  return v.message;
}
