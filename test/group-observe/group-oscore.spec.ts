// Sections 6 and 7 of draft-tiloca-core-observe-multicast-notifications-04: a group observation protected
// end-to-end with Group OSCORE, over real IPv4 multicast on 127.0.0.1. One server, 20 clients: the
// notifications are readable only with the group's keying material, are bound to the phantom request the
// informative response carries, and a forged, replayed or retargeted one is refused and counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  decodeMessage,
  encodeMessage,
  encodeUint,
  getOption,
  OptionNumber as O,
  type CoapMessage,
} from '@lwm2m/coap';
import {
  AeadAlgorithms,
  decodeOscoreOption,
  type GroupManagerConfig,
  groupProtectResponse,
  GroupSecurityContext,
  type GroupSelf,
  SenderSequence,
  type SignatureAlgorithm,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import {
  type GroupNotification,
  GroupObserveError,
  GroupOscoreClient,
  GroupOscoreServer,
  GroupObserveClient,
  GroupObserveProxy,
  decodeMessageInfo,
  encodeMessageInfo,
  rebuildMessage,
} from '@lwm2m/group-observe';
import { DecodeError } from '@lwm2m/bytes';
import { UdpMulticastReceiver, UdpTransport } from '@lwm2m/udp';
import {
  groupSniffer,
  LOOPBACK,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const h = (s: string): Buffer => Buffer.from(s, 'hex');

function member(alg: SignatureAlgorithm, id: string): GroupSelf {
  const privateKey = alg.randomPrivateKey();
  const publicKey = alg.publicKey(privateKey);
  return { senderId: h(id), privateKey, publicKey, credential: Buffer.from(publicKey) };
}

/** What a Group Manager hands out (configured here: the ACE join is out of scope). */
function groupConfig(
  alg: SignatureAlgorithm,
  members: GroupSelf[],
  gid: string,
  masterSecret: string,
): GroupManagerConfig {
  return {
    gid,
    masterSecret,
    masterSalt: '9e7ca92223786340',
    groupEncryptionAlg: AeadAlgorithms.AES_CCM_16_64_128.id,
    signatureAlg: alg.id,
    gmCredential: '',
    members: members.map((m) => ({
      senderId: m.senderId.toString('hex'),
      credential: m.credential.toString('hex'),
      publicKey: Buffer.from(m.publicKey).toString('hex'),
    })),
  };
}

const SECRET = '0102030405060708090a0b0c0d0e0f10';

function keying(alg: SignatureAlgorithm) {
  const server = member(alg, '05');
  // 20 observers (issue 14's acceptance), Sender IDs 0x01..0x14; 0x05 is the server's.
  const ids = Array.from({ length: 21 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).filter(
    (id) => id !== '05',
  );
  const clients = ids.map((id) => member(alg, id));
  const cfg = groupConfig(alg, [server, ...clients], '57ab2e', SECRET);
  return { server, clients, cfg };
}

interface Observer {
  c: TestClient;
  protection: GroupOscoreClient;
  seen: GroupNotification[];
}

async function observer(s: TestServer, protection: GroupOscoreClient, path = '/ps/temp'): Promise<Observer> {
  const c = await startClient({ protection });
  const seen: GroupNotification[] = [];
  const handle = await c.client.observe(s.peer, path, { onNotification: (n) => seen.push(n) });
  expect(handle.mode).toBe('group');
  return { c, protection, seen };
}

const text = (o: Observer) => o.seen.map((n) => n.payload.toString());

for (const alg of [SignatureAlgorithms.EdDSA_Ed25519, SignatureAlgorithms.ES256]) {
  describe(`Group OSCORE group observation (${alg.name})`, () => {
    const GROUP = testGroup(alg === SignatureAlgorithms.ES256 ? 31 : 30);
    const k = keying(alg);
    const serverCtx = GroupSecurityContext.fromConfig(k.cfg, k.server);
    const protection = new GroupOscoreServer({
      context: serverCtx,
      join: { joinUri: 'coap://gm.example/ace-group/topics', secGp: 'topics' },
    });
    let s: TestServer;
    const obs: Observer[] = [];
    let sniffer: Awaited<ReturnType<typeof groupSniffer>>;

    beforeAll(async () => {
      s = await startServer(GROUP, { protection });
      sniffer = await groupSniffer(GROUP);
      s.topics.set('ps/temp', { payload: Buffer.from('20.0'), contentFormat: 0 });
      s.topics.set('ps/other', { payload: Buffer.from('other-0'), contentFormat: 0 });
      for (const c of k.clients) {
        const p = new GroupOscoreClient({
          context: GroupSecurityContext.fromConfig(k.cfg, c),
          serverId: k.server.senderId,
          secGp: 'topics',
        });
        obs.push(await observer(s, p));
      }
    });

    afterAll(async () => {
      await Promise.all(obs.map((o) => o.c.close()));
      await sniffer.close();
      await s.close();
    });

    it('all 20 clients decode the same protected notifications; the wire shows none of the values', async () => {
      for (const o of obs) expect(text(o)).toEqual(['20.0']); // last_notif, verified (6.3.1)
      for (const v of ['21.5', '22.0', '22.5']) {
        await s.publish('/ps/temp', v);
        await until(() => obs.every((o) => text(o).at(-1) === v), `clients to see ${v}`);
      }
      for (const o of obs) {
        expect(text(o)).toEqual(['20.0', '21.5', '22.0', '22.5']);
        expect(o.seen.slice(1).every((n) => n.source === 'multicast')).toBe(true);
        const observes = o.seen.map((n) => n.observe!);
        expect([...observes].sort((a, b) => a - b)).toEqual(observes);
      }
      expect(obs[0].seen.map((n) => n.observe)).toEqual(obs[2].seen.map((n) => n.observe));
      const sent = sniffer.messages.filter(
        (m) => m.msg.token.toString('hex') === s.group.get('ps/temp')!.token,
      );
      expect(sent).toHaveLength(3);
      for (const { msg } of sent) {
        // Group OSCORE 4.2 / 7.3: outer 2.05 with an outer Observe; the value is inside the ciphertext.
        expect(msg.code).toBe(CoapCode.CONTENT);
        const opt = decodeOscoreOption(getOption(msg, O.OSCORE)!);
        expect(opt.group).toBe(true);
        expect(opt.kid).toEqual(k.server.senderId);
        expect(opt.partialIv).toBeDefined();
        expect(msg.payload.includes(Buffer.from('22.'))).toBe(false);
        expect(getOption(msg, O.CONTENT_FORMAT)).toBeUndefined();
      }
      for (const o of obs) expect(o.protection.stats.notifications).toBe(4);
    });

    it("the informative response carries the phantom request protected with the server's kid and signals the group (6.1, 6.2.2)", async () => {
      const c = await startClient({
        protection: new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[0]) }),
      });
      try {
        const handle = await c.client.observe(s.peer, '/ps/temp', { onNotification: () => undefined });
        expect(handle.phantom!.code).toBe(CoapCode.FETCH);
        const opt = decodeOscoreOption(getOption(handle.phantom!, O.OSCORE)!);
        expect(opt).toMatchObject({ group: true, kid: k.server.senderId, kidContext: h('57ab2e') });
        expect(handle.oscoreGroup).toMatchObject({
          joinUri: 'coap://gm.example/ace-group/topics',
          secGp: 'topics',
          csAlg: alg.id,
          alg: AeadAlgorithms.AES_CCM_16_64_128.id,
          hkdf: -10,
        });
        // The phantom request's payload is ciphertext and countersignature: no GET or Uri-Path in clear.
        expect(getOption(handle.phantom!, O.URI_PATH)).toBeUndefined();
      } finally {
        await c.close();
      }
    });

    it('a client with the wrong keying material cannot read them: its registration is withdrawn (6.3.1)', async () => {
      const stranger = member(alg, '01');
      const wrong = new GroupOscoreClient({
        context: GroupSecurityContext.fromConfig(
          groupConfig(alg, [k.server, stranger], '57ab2e', 'ffeeddccbbaa99887766554433221100'),
          stranger,
        ),
      });
      const c = await startClient({ protection: wrong });
      try {
        await expect(
          c.client.observe(s.peer, '/ps/temp', { onNotification: () => undefined }),
        ).rejects.toBeInstanceOf(GroupObserveError);
        expect(wrong.stats.rejected.decrypt).toBeGreaterThanOrEqual(1);
        expect(wrong.stats.phantomRequests).toBe(0);
        expect(c.client.stats.malformedInformative).toBeGreaterThanOrEqual(1);
      } finally {
        await c.close();
      }
    });

    /** A notification datagram as the server would send it, bound to the phantom request of `resource`. */
    function forge(ctx: GroupSecurityContext, resource: string, payload: string): Buffer {
      const g = s.group.get(resource)!;
      const phantom = decodeOscoreOption(getOption(phantomOf(resource), O.OSCORE)!);
      const r = groupProtectResponse(
        {
          context: ctx,
          mode: 'group',
          kid: phantom.kid!,
          piv: phantom.partialIv!,
          kidContext: phantom.kidContext!,
          observe: true,
          nonceUsed: true,
          responses: new Map(),
        },
        {
          type: CoapType.NON,
          code: CoapCode.CONTENT,
          messageId: 0x4242,
          token: Buffer.from(g.token, 'hex'),
          options: [
            { number: O.OBSERVE, value: encodeUint(g.observe + 100) },
            { number: O.CONTENT_FORMAT, value: encodeUint(0) },
          ],
          payload: Buffer.from(payload),
        },
        { partialIv: true, context: ctx },
      );
      if (!r.ok) throw new Error(r.reason);
      return encodeMessage(r.message);
    }

    function phantomOf(resource: string): CoapMessage {
      return (s.group as unknown as { groups: Map<string, { protectedPhantom: CoapMessage }> }).groups.get(
        resource,
      )!.protectedPhantom;
    }

    async function sendAndSettle(
      data: Buffer,
      what: (o: Observer) => number,
      before: number[],
    ): Promise<void> {
      await s.udp.send(data, GROUP);
      await until(() => obs.every((o, i) => what(o) > before[i]), 'the clients to refuse the datagram');
    }

    it("a notification signed by another group member is refused, with its own kid or with the server's", async () => {
      const values = obs.map((o) => o.seen.length);
      // A member (client 1, keys of its own, group keys shared) signs as itself.
      const asMember = forge(GroupSecurityContext.fromConfig(k.cfg, k.clients[0]), 'ps/temp', 'forged');
      let before = obs.map((o) => o.protection.stats.rejected['wrong-sender']);
      await sendAndSettle(asMember, (o) => o.protection.stats.rejected['wrong-sender'], before);
      // The same member claims the server's Sender ID: the group keys encrypt, its signature does not verify.
      const impostor = { ...k.server, privateKey: k.clients[0].privateKey };
      // (A Partial IV above the server's: an old one would be refused as a replay before any signature check.)
      const ahead = { sequence: new SenderSequence(1000) };
      const asServer = forge(GroupSecurityContext.fromConfig(k.cfg, impostor, ahead), 'ps/temp', 'forged');
      before = obs.map((o) => o.protection.stats.rejected.decrypt);
      await sendAndSettle(asServer, (o) => o.protection.stats.rejected.decrypt, before);
      // A genuine notification with one bit of its encrypted countersignature flipped.
      const genuine = Buffer.from(forge(serverCtx, 'ps/temp', 'flipped'));
      genuine[genuine.length - 3] ^= 0x10;
      before = obs.map((o) => o.protection.stats.rejected.decrypt);
      await sendAndSettle(genuine, (o) => o.protection.stats.rejected.decrypt, before);
      expect(obs.map((o) => o.seen.length)).toEqual(values);
      for (const o of obs) expect(o.c.client.stats.unverified).toBeGreaterThanOrEqual(3);
    });

    it('a replayed notification is refused and counted', async () => {
      await s.publish('/ps/temp', '23.0');
      await until(() => obs.every((o) => text(o).at(-1) === '23.0'), 'the clients to see 23.0');
      const last = sniffer.messages.at(-1)!.msg;
      const values = obs.map((o) => o.seen.length);
      const before = obs.map((o) => o.protection.stats.rejected.replay);
      await sendAndSettle(encodeMessage(last), (o) => o.protection.stats.rejected.replay, before);
      // A replay of an older one with a new Message ID and a higher outer Observe: still refused.
      const older = sniffer.messages.find((m) => m.msg.token.equals(last.token))!.msg;
      const bumped: CoapMessage = {
        ...older,
        messageId: 7,
        options: older.options.map((o) =>
          o.number === O.OBSERVE ? { number: o.number, value: encodeUint(0xfffff) } : o,
        ),
      };
      await sendAndSettle(
        encodeMessage(bumped),
        (o) => o.protection.stats.rejected.replay,
        before.map((b) => b + 1),
      );
      expect(obs.map((o) => o.seen.length)).toEqual(values);
    });

    it("a notification bound to another phantom request (another topic's, retargeted to this T) is refused", async () => {
      const other = await observer(
        s,
        new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[1]) }),
        '/ps/other',
      );
      try {
        const tempToken = Buffer.from(s.group.get('ps/temp')!.token, 'hex');
        const sniffed = sniffer.messages.length;
        await s.publish('/ps/other', 'other-1');
        await until(() => text(other).at(-1) === 'other-1', 'the other topic');
        const otherNote = sniffer.messages.slice(sniffed).find((m) => !m.msg.token.equals(tempToken))!.msg;
        const values = obs.map((o) => o.seen.length);
        const before = obs.map((o) => o.protection.stats.rejected.decrypt);
        await sendAndSettle(
          encodeMessage({ ...otherNote, token: tempToken }),
          (o) => o.protection.stats.rejected.decrypt,
          before,
        );
        expect(obs.map((o) => o.seen.length)).toEqual(values);
        // The informative response is not protected by Group OSCORE: a genuine phantom request of the other
        // topic swapped into it is refused by the resource check.
        const swapped = decodeMessage(encodeMessage(phantomOf('ps/other')));
        const p = obs[0].protection;
        expect(p.verifyPhantomRequest(swapped, undefined, ['ps', 'temp'])).toBeUndefined();
        expect(p.stats.rejected['wrong-resource']).toBe(1);
        expect(p.verifyPhantomRequest(swapped, undefined, ['ps', 'other'])).toBe(swapped);
      } finally {
        await other.c.close();
      }
    });

    it('the protected multicast 5.03 ends the observation; a plain 5.03 with the same T does not', async () => {
      s.topics.set('ps/end', { payload: Buffer.from('e'), contentFormat: 0 });
      const ends: { code?: number }[] = [];
      const p = new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[2]) });
      const c = await startClient({ protection: p });
      try {
        await c.client.observe(s.peer, '/ps/end', {
          onNotification: () => undefined,
          onEnd: (e) => ends.push(e),
        });
        const t = Buffer.from(s.group.get('ps/end')!.token, 'hex');
        const forged: CoapMessage = {
          type: CoapType.NON,
          code: CoapCode.SERVICE_UNAVAILABLE,
          messageId: 99,
          token: t,
          options: [],
          payload: Buffer.alloc(0),
        };
        await s.udp.send(encodeMessage(forged), GROUP);
        await until(() => p.stats.rejected.decode >= 1, 'the plain 5.03 to be refused');
        expect(ends).toHaveLength(0);
        const phantoms = protection.stats.phantomRequests;
        expect(await s.group.cancel('ps/end')).toBe(true);
        // Section 6.2.4: the phantom cancellation request consumed an SN of its own.
        expect(protection.stats.phantomRequests).toBe(phantoms + 1);
        await until(() => ends.length === 1, 'the protected 5.03');
        expect(ends[0].code).toBe(CoapCode.SERVICE_UNAVAILABLE);
      } finally {
        await c.close();
      }
    });

    it('a key update mid-stream: clients with the new material continue, the one without stops', async () => {
      const cfg2 = groupConfig(alg, [k.server, ...k.clients], '57ab2f', 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
      protection.rekey(GroupSecurityContext.fromConfig(cfg2, k.server));
      obs[0].protection.rekey(GroupSecurityContext.fromConfig(cfg2, k.clients[0]));
      obs[1].protection.rekey(GroupSecurityContext.fromConfig(cfg2, k.clients[1]));
      const stale = obs[2].protection.stats.rejected['unknown-context'];
      const lastObserve = obs.map((o) => o.seen.at(-1)!.observe!);
      for (const v of ['30.0', '31.0']) {
        await s.publish('/ps/temp', v);
        await until(() => obs.slice(0, 2).every((o) => text(o).at(-1) === v), `rekeyed clients to see ${v}`);
      }
      await until(
        () => obs[2].protection.stats.rejected['unknown-context'] >= stale + 2,
        'the old client to refuse',
      );
      expect(text(obs[2]).at(-1)).toBe('23.0');
      for (const i of [0, 1]) {
        // Observe keeps growing across the update (the Partial IVs restart at 0 under the new context).
        expect(obs[i].seen.at(-2)!.observe!).toBeGreaterThan(lastObserve[i]);
        expect(obs[i].seen.at(-1)!.observe!).toBeGreaterThan(obs[i].seen.at(-2)!.observe!);
      }
      const opt = decodeOscoreOption(getOption(sniffer.messages.at(-1)!.msg, O.OSCORE)!);
      expect(opt.kidContext).toEqual(h('57ab2f'));
      // A client that joins after the update verifies the phantom request with the previous context.
      const late = await observer(
        s,
        new GroupOscoreClient({
          context: GroupSecurityContext.fromConfig(cfg2, k.clients[2]),
          previous: [GroupSecurityContext.fromConfig(k.cfg, k.clients[2])],
        }),
      );
      try {
        expect(text(late)).toEqual(['31.0']);
        await s.publish('/ps/temp', '32.0');
        await until(() => text(late).at(-1) === '32.0', 'the late client');
      } finally {
        await late.c.close();
      }
    });
  });
}

describe('a section 8 proxy that is a member of the OSCORE group', () => {
  it('verifies upstream and serves its plain observers the values (not end-to-end: section 9 is not done)', async () => {
    const k = keying(SignatureAlgorithms.EdDSA_Ed25519);
    const GROUP = testGroup(34);
    const s = await startServer(GROUP, {
      protection: new GroupOscoreServer({ context: GroupSecurityContext.fromConfig(k.cfg, k.server) }),
    });
    s.topics.set('ps/temp', { payload: Buffer.from('20.0'), contentFormat: 0 });
    const down = await UdpTransport.bind({ address: LOOPBACK });
    const downstream = new CoapEndpoint({ transport: down });
    const upstream = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
    const member = new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[0]) });
    const upstreamClient = new GroupObserveClient({
      endpoint: upstream,
      receiver: new UdpMulticastReceiver({ interface: LOOPBACK }),
      protection: member,
    });
    const proxy = new GroupObserveProxy({ downstream, upstream: upstreamClient, origin: s.peer });
    downstream.setHandler((req) => proxy.handle(req) ?? { code: 0x84 });
    const device = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
    try {
      const seen: string[] = [];
      const h = await device.observe(down.address(), { path: '/ps/temp' }, (res) =>
        seen.push(res.payload.toString()),
      );
      expect(h.response.payload.toString()).toBe('20.0');
      await s.publish('/ps/temp', '21.0');
      await until(() => seen.at(-1) === '21.0', 'the device behind the proxy');
      expect(member.stats.notifications).toBe(2);
    } finally {
      await device.close();
      await upstreamClient.close();
      await downstream.close();
      await upstream.close();
      await s.close();
    }
  });
});

describe('Group OSCORE sequence numbers', () => {
  it('a notification the server cannot protect (no SN left) is not sent, counted, and never unprotected', async () => {
    const k = keying(SignatureAlgorithms.EdDSA_Ed25519);
    // Two numbers: the phantom request and INIT_NOTIF; the next notification finds none.
    const ctx = GroupSecurityContext.fromConfig(k.cfg, k.server, { sequence: new SenderSequence(0, 2) });
    const GROUP = testGroup(33);
    const s = await startServer(GROUP, { protection: new GroupOscoreServer({ context: ctx }) });
    const sniffer = await groupSniffer(GROUP);
    const c = await startClient({
      protection: new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[0]) }),
    });
    try {
      s.topics.set('ps/x', { payload: Buffer.from('1'), contentFormat: 0 });
      const seen: GroupNotification[] = [];
      await c.client.observe(s.peer, '/ps/x', { onNotification: (n) => seen.push(n) });
      await s.publish('/ps/x', '2');
      await until(() => s.group.stats.sendErrors === 1, 'the failed notification to be counted');
      await new Promise((r) => setTimeout(r, 50));
      expect(sniffer.messages).toHaveLength(0);
      expect(seen.map((n) => n.payload.toString())).toEqual(['1']);
    } finally {
      await c.close();
      await sniffer.close();
      await s.close();
    }
  });
});

describe('Group OSCORE notification verification, fuzzed', () => {
  for (const alg of [SignatureAlgorithms.EdDSA_Ed25519, SignatureAlgorithms.ES256]) {
    it(`mutated datagrams never throw and never verify to another content (${alg.name})`, () => {
      const k = keying(alg);
      const server = new GroupOscoreServer({ context: GroupSecurityContext.fromConfig(k.cfg, k.server) });
      const phantom = server.protectPhantomRequest({
        type: CoapType.NON,
        code: CoapCode.GET,
        messageId: 0,
        token: h('7b'),
        options: [
          { number: O.OBSERVE, value: Buffer.alloc(0) },
          { number: O.URI_PATH, value: Buffer.from('r') },
        ],
        payload: Buffer.alloc(0),
      });
      const note = (v: string) =>
        encodeMessage(
          server.protectNotification(
            {
              type: CoapType.NON,
              code: CoapCode.CONTENT,
              messageId: 1,
              token: h('7b'),
              options: [{ number: O.OBSERVE, value: encodeUint(11) }],
              payload: Buffer.from(v),
            },
            phantom,
          ),
        );
      const original = note('5678');
      const fresh = () => {
        const client = new GroupOscoreClient({
          context: GroupSecurityContext.fromConfig(k.cfg, k.clients[0]),
        });
        const bound = client.verifyPhantomRequest(decodeMessage(encodeMessage(phantom)));
        if (!bound) throw new Error('phantom request does not verify');
        return { client, bound };
      };
      let { client, bound } = fresh();
      let verified = 0;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          fc.option(fc.nat(original.length), { nil: undefined }),
          (flips, cut) => {
            const data = Buffer.from(original);
            for (const [i, x] of flips) data[i] ^= x;
            const bytes = cut === undefined ? data : data.subarray(0, cut);
            let msg: CoapMessage;
            try {
              msg = decodeMessage(bytes);
            } catch (err) {
              if (err instanceof DecodeError) return;
              throw err;
            }
            const out = client.unprotectNotification(msg, bound);
            if (out !== undefined) {
              // Only header fields outside the protection (type, Message ID, token, outer Observe) changed.
              verified++;
              expect(out.payload.toString()).toBe('5678');
              expect(out.code).toBe(CoapCode.CONTENT);
              ({ client, bound } = fresh());
            }
          },
        ),
        { numRuns: 300, seed: 14 },
      );
      const rejected = Object.values(client.stats.rejected).reduce((a, b) => a + b, 0);
      expect(rejected + verified).toBeGreaterThan(0);
      // The original still verifies at a fresh client, once.
      ({ client, bound } = fresh());
      expect(client.unprotectNotification(decodeMessage(original), bound)?.payload.toString()).toBe('5678');
      expect(client.unprotectNotification(decodeMessage(original), bound)).toBeUndefined();
      expect(client.stats.rejected.replay).toBe(1);
    });
  }

  it('mutated ph_req serializations never throw and verify only with the OSCORE option and ciphertext intact', () => {
    const k = keying(SignatureAlgorithms.EdDSA_Ed25519);
    const server = new GroupOscoreServer({ context: GroupSecurityContext.fromConfig(k.cfg, k.server) });
    const phantom = server.protectPhantomRequest({
      type: CoapType.NON,
      code: CoapCode.GET,
      messageId: 0,
      token: h('7b'),
      options: [
        { number: O.OBSERVE, value: Buffer.alloc(0) },
        { number: O.URI_PATH, value: Buffer.from('r') },
      ],
      payload: Buffer.alloc(0),
    });
    const info = encodeMessageInfo(phantom);
    const client = new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(k.cfg, k.clients[0]) });
    expect(
      client.verifyPhantomRequest(rebuildMessage(decodeMessageInfo(info, 'ph_req'), h('7b'))),
    ).toBeDefined();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(info.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        (flips) => {
          const data = Buffer.from(info);
          for (const [i, x] of flips) data[i] ^= x;
          let rebuilt: CoapMessage;
          try {
            rebuilt = rebuildMessage(decodeMessageInfo(data, 'ph_req'), h('7b'));
          } catch (err) {
            if (err instanceof DecodeError) return;
            throw err;
          }
          const out = client.verifyPhantomRequest(rebuilt);
          if (out !== undefined) {
            expect(getOption(out, O.OSCORE)).toEqual(getOption(phantom, O.OSCORE));
            expect(out.payload).toEqual(phantom.payload);
          }
        },
      ),
      { numRuns: 300, seed: 6 },
    );
  });
});
