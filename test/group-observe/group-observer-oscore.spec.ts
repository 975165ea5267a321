// apps/group-observer with GROUP_OSCORE=on (draft section 6), real redis-server and IPv4 multicast on
// loopback: the configured keying material protects every notification, a client of the group reads
// them, a client outside sees only ciphertext, and a restart resumes the sender sequence above every
// Partial IV already used (the leases live in Redis), so no nonce repeats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOption, OptionNumber as O } from '@lwm2m/coap';
import { type GroupNotification, GroupOscoreClient } from '@lwm2m/group-observe';
import {
  decodeOscoreOption,
  GroupSecurityContext,
  partialIvNumber,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import { validateGroupObserverConfig } from '../../apps/group-observer/src/config';
import {
  createGroupObserverApp,
  type GroupObserverApp,
} from '../../apps/group-observer/src/create-group-observer-app';
import { startRedis, type RedisHandle } from '../support/redis';
import { groupSniffer, LOOPBACK, startClient, testGroup, until, type TestClient } from './support';

const GROUP = testGroup(32);
const alg = SignatureAlgorithms.EdDSA_Ed25519;
const serverKey = Buffer.from(alg.randomPrivateKey());
const clientKey = Buffer.from(alg.randomPrivateKey());
const clientPub = Buffer.from(alg.publicKey(clientKey));
const SECRET = '00112233445566778899aabbccddeeff';

async function http(app: GroupObserverApp, method: string, path: string, body?: unknown) {
  const { port } = app.app.getHttpServer().address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, text: await res.text() };
}

describe('apps/group-observer with GROUP_OSCORE=on', () => {
  let redis: RedisHandle;
  let app: GroupObserverApp | undefined;
  let member: TestClient;
  let outsider: TestClient;
  let protection: GroupOscoreClient;
  const seen: GroupNotification[] = [];
  const raw: GroupNotification[] = [];

  const oscoreEnv = {
    GROUP_OSCORE: 'on',
    GROUP_OSCORE_GID: '57ab2e',
    GROUP_OSCORE_MASTER_SECRET: SECRET,
    GROUP_OSCORE_MASTER_SALT: '9e7ca92223786340',
    GROUP_OSCORE_SENDER_ID: '05',
    GROUP_OSCORE_PRIVATE_KEY: serverKey.toString('hex'),
    GROUP_OSCORE_MEMBERS: JSON.stringify([{ senderId: '01', publicKey: clientPub.toString('hex') }]),
    GROUP_OSCORE_JOIN_URI: 'coap://gm.example/ace-group/topics',
    GROUP_OSCORE_SEC_GP: 'topics',
  };
  const env = (extra: Record<string, string> = {}) =>
    validateGroupObserverConfig({
      REDIS_URL: redis.url,
      COAP_HOST: LOOPBACK,
      COAP_PORT: '0',
      MULTICAST_GROUP_ADDR: GROUP.address,
      MULTICAST_GROUP_PORT: String(GROUP.port),
      MULTICAST_INTERFACE: LOOPBACK,
      MULTICAST_MIN_INTERVAL_MS: '0',
      ...oscoreEnv,
      ...extra,
    });

  beforeAll(async () => {
    redis = await startRedis();
    const cfg = env().GROUP_OSCORE!;
    protection = new GroupOscoreClient({
      context: GroupSecurityContext.fromConfig(cfg.group, {
        senderId: Buffer.from('01', 'hex'),
        privateKey: clientKey,
        publicKey: clientPub,
        credential: clientPub,
      }),
      serverId: Buffer.from('05', 'hex'),
      secGp: 'topics',
    });
    member = await startClient({ protection });
    outsider = await startClient();
  });
  afterAll(async () => {
    await member.close();
    await outsider.close();
    await app?.close();
    await redis.stop();
  });

  it('is off by default and refuses bad keying material without echoing it', () => {
    expect(validateGroupObserverConfig({}).GROUP_OSCORE).toBeUndefined();
    const secret = 'zz' + SECRET;
    const err = (() => {
      try {
        validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_MASTER_SECRET: secret });
      } catch (e) {
        return String(e);
      }
      return '';
    })();
    expect(err).toMatch(/GROUP_OSCORE_MASTER_SECRET must be hex/);
    expect(err).not.toContain(secret);
    expect(() => validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_PRIVATE_KEY: undefined })).toThrow(
      /GROUP_OSCORE_PRIVATE_KEY is required/,
    );
    expect(() => validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_SIGNATURE_ALG: '-35' })).toThrow(
      /SIGNATURE_ALG/,
    );
    expect(() => validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_MEMBERS: '{"a":1}' })).toThrow(
      /GROUP_OSCORE_MEMBERS/,
    );
    expect(() =>
      validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_MEMBERS: '[{"x":"s3cr3t' }),
    ).toThrow(/^(?!.*s3cr3t).*GROUP_OSCORE_MEMBERS.*not JSON/);
    expect(() => validateGroupObserverConfig({ ...oscoreEnv, GROUP_OSCORE_SEC_GP: undefined })).toThrow(
      /go together/,
    );
  });

  it('protects the notifications: the member decodes them, the outsider gets ciphertext', async () => {
    app = await createGroupObserverApp(env(), { logger: false });
    await app.app.listen(0, LOOPBACK);
    await http(app, 'PUT', '/api/v1/topics/temp', { value: '20.5', contentFormat: 0 });
    const h = await member.client.observe(app.coap, '/ps/temp', { onNotification: (n) => seen.push(n) });
    expect(h.mode).toBe('group');
    expect(h.oscoreGroup).toMatchObject({ secGp: 'topics', csAlg: -8 });
    await outsider.client.observe(app.coap, '/ps/temp', { onNotification: (n) => raw.push(n) });
    await http(app, 'PUT', '/api/v1/topics/temp', { value: '21.0', contentFormat: 0 });
    await until(() => seen.length === 2 && raw.length === 2, 'both clients');
    expect(seen.map((n) => n.payload.toString())).toEqual(['20.5', '21.0']);
    expect(seen[1].contentFormat).toBe(0);
    expect(raw[1].payload.toString()).not.toContain('21.0');
    expect(raw[1].contentFormat).toBeUndefined();
    // The REST view shows what went on the wire, never a key.
    const view = await http(app, 'GET', '/api/v1/topics/temp');
    expect(view.text).not.toContain(SECRET);
    expect(view.text).not.toContain(serverKey.toString('hex'));
  });

  it('resumes its sender sequence above every Partial IV used before a restart (leases in Redis)', async () => {
    const sniffer = await groupSniffer(GROUP);
    try {
      await http(app!, 'PUT', '/api/v1/topics/temp', { value: '22.0', contentFormat: 0 });
      await until(() => sniffer.messages.length === 1, 'the notification before the restart');
      const piv = (i: number) =>
        partialIvNumber(decodeOscoreOption(getOption(sniffer.messages[i].msg, O.OSCORE)!).partialIv!);
      const before = piv(0);
      const port = app!.coap.port;
      await app!.close();
      app = await createGroupObserverApp(env({ COAP_PORT: String(port) }), { logger: false });
      await app.app.listen(0, LOOPBACK);
      await http(app, 'PUT', '/api/v1/topics/temp', { value: '23.0', contentFormat: 0 });
      await until(() => seen.at(-1)?.payload.toString() === '23.0', 'the member after the restart');
      expect(piv(1)).toBeGreaterThan(before);
      expect(protection.stats.rejected.replay).toBe(0);
    } finally {
      await sniffer.close();
    }
  });
});
