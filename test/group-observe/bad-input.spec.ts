// Bad input on both sides, handled as the draft says and never crashing: malformed informative
// responses (section 3.2: register again, then withdraw), malformed or foreign datagrams on the
// group (section 3.3/3.4), unknown tokens at the introspection interface (Appendix A.2) and bad
// Multicast-Response-Feedback-Divider values (section 5.2.3: not a confirmation).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, CoapType, encodeMessage, encodeUint, OptionNumber } from '@lwm2m/coap';
import {
  decodeInformativeResponse,
  encodeInformativeResponse,
  encodeMessageInfo,
  GroupObserveError,
  groupObserveNumbers,
  type GroupNotification,
} from '@lwm2m/group-observe';
import { encodeCbor, Tag } from '@lwm2m/lwm2m';
import { UdpTransport } from '@lwm2m/udp';
import { fuzzDecoder } from '../support/fuzz';
import {
  LOOPBACK,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const GROUP = testGroup(6);

function validInformative(): Buffer {
  return encodeInformativeResponse({
    phReq: encodeMessageInfo({
      code: CoapCode.GET,
      options: [
        { number: OptionNumber.OBSERVE, value: Buffer.alloc(0) },
        { number: OptionNumber.URI_PATH, value: Buffer.from('r') },
      ],
      payload: Buffer.alloc(0),
    }),
    lastNotif: encodeMessageInfo({
      code: CoapCode.CONTENT,
      options: [{ number: OptionNumber.OBSERVE, value: encodeUint(5) }],
      payload: Buffer.from('x'),
    }),
    tpInfo: {
      tpId: 1,
      token: Buffer.from([1, 2]),
      srvAddr: '127.0.0.1',
      srvPort: 5683,
      cliAddr: '239.255.0.1',
      cliPort: 5683,
    },
  });
}

const MALFORMED: [string, Buffer][] = [
  ['not CBOR', Buffer.from([0xff, 0x00])],
  ['not a map', encodeCbor([1, 2, 3])],
  [
    'no ph_req',
    encodeCbor(
      new Map<number, unknown>([
        [2, Buffer.from([0x45])],
        [3, [1]],
      ]),
    ),
  ],
  [
    'unknown tp_id',
    encodeCbor(
      new Map<number, unknown>([
        [1, Buffer.from([1])],
        [2, Buffer.from([0x45, 0x60])],
        [3, [7, Buffer.from([1])]],
      ]),
    ),
  ],
  [
    'link-local srv_addr',
    encodeCbor(
      new Map<number, unknown>([
        [1, Buffer.from([1, 0x60])],
        [2, Buffer.from([0x45, 0x60])],
        [
          3,
          [
            1,
            Buffer.from([1]),
            new Tag(Buffer.from([169, 254, 1, 1]), 260),
            5683,
            new Tag(Buffer.from([239, 255, 0, 1]), 260),
          ],
        ],
      ]),
    ),
  ],
  [
    'untagged address',
    encodeCbor(
      new Map<number, unknown>([
        [1, Buffer.from([1, 0x60])],
        [2, Buffer.from([0x45, 0x60])],
        [3, [1, Buffer.from([1]), Buffer.from([127, 0, 0, 1]), 5683, Buffer.from([239, 255, 0, 1])]],
      ]),
    ),
  ],
  ['last_notif is an error', Buffer.from(validInformative().toString('hex').replace('4561', '8461'), 'hex')],
];

describe('client side: malformed informative responses', () => {
  let fake: CoapEndpoint;
  let fakeUdp: UdpTransport;
  let c: TestClient;
  let served = 0;

  beforeAll(async () => {
    fakeUdp = await UdpTransport.bind({ address: LOOPBACK });
    fake = new CoapEndpoint({ transport: fakeUdp });
    c = await startClient();
    fake.setHandler(() => ({
      code: CoapCode.SERVICE_UNAVAILABLE,
      contentFormat: groupObserveNumbers().informativeContentFormat,
      payload: MALFORMED[Math.floor(served++ / 2) % MALFORMED.length][1],
      confirmable: true,
    }));
  });
  afterAll(async () => {
    await c.close();
    await fake.close();
  });

  it.each(MALFORMED.map(([name], i) => [name, i] as const))(
    'registers once more, then withdraws: %s',
    async (_name, i) => {
      const before = { ...c.client.stats };
      const err = await c.client
        .observe(fakeUdp.address(), '/r', {
          onNotification: () => undefined,
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GroupObserveError);
      expect(c.client.stats.malformedInformative - before.malformedInformative).toBe(2);
      expect(c.client.stats.registrationRetries - before.registrationRetries).toBe(1);
      expect(served).toBe(2 * (i + 1));
    },
  );
});

describe('client side: bad datagrams on the group', () => {
  let s: TestServer;
  let c: TestClient;
  let stranger: UdpTransport;
  let token: Buffer;
  const seen: GroupNotification[] = [];

  beforeAll(async () => {
    s = await startServer(GROUP);
    s.topics.set('r', { payload: Buffer.from('1'), contentFormat: 0 });
    c = await startClient();
    const h = await c.client.observe(s.peer, '/r', { onNotification: (n) => seen.push(n) });
    token = h.token!;
    stranger = await UdpTransport.bind({ address: LOOPBACK });
    stranger.enableMulticastSend({ interface: LOOPBACK });
  });
  afterAll(async () => {
    await c.close();
    await stranger.close();
    await s.close();
  });

  const notification = (fields: Partial<Parameters<typeof encodeMessage>[0]> = {}) =>
    encodeMessage({
      type: CoapType.NON,
      code: CoapCode.CONTENT,
      messageId: 1,
      token,
      options: [{ number: OptionNumber.OBSERVE, value: encodeUint(0xfff0) }],
      payload: Buffer.from('forged'),
      ...fields,
    });

  it('drops garbage, CON, unknown tokens, foreign sources and stale Observe values, and keeps working', async () => {
    const stats = c.client.stats;
    const base = { ...stats };
    await s.udp.send(Buffer.from([0x40, 0x45]), GROUP); // truncated
    await s.udp.send(Buffer.from('not coap at all'), GROUP);
    await s.udp.send(notification({ type: CoapType.CON }), GROUP);
    await s.udp.send(notification({ token: Buffer.from([9, 9, 9]) }), GROUP);
    await stranger.send(notification(), GROUP); // right T, wrong source (section 3.2 step 1)
    await s.udp.send(
      notification({ options: [{ number: OptionNumber.OBSERVE, value: encodeUint(0) }] }), // older than the baseline
      GROUP,
    );
    await until(() => stats.multicastDatagrams - base.multicastDatagrams >= 6, 'six datagrams');
    expect(stats.malformedNotifications - base.malformedNotifications).toBe(3);
    expect(stats.unknownTokens - base.unknownTokens).toBe(1);
    expect(stats.wrongSource - base.wrongSource).toBe(1);
    expect(stats.staleNotifications - base.staleNotifications).toBe(1);
    expect(seen.map((n) => n.source)).toEqual(['informative']);
    await s.publish('/r', '2');
    await until(() => seen.length === 2, 'the real notification');
    expect(seen[1].payload.toString()).toBe('2');
  });

  it('ignores a Multicast-Response-Feedback-Divider of the wrong length, and never answers MRFD from last_notif', async () => {
    const before = { ...c.client.stats };
    await s.udp.send(
      notification({
        options: [
          { number: OptionNumber.OBSERVE, value: encodeUint(0x7ffff0) },
          { number: groupObserveNumbers().mrfdOption, value: Buffer.from([0, 0]) },
        ],
      }),
      GROUP,
    );
    await until(() => c.client.stats.notifications > before.notifications, 'the notification');
    expect(c.client.stats.badMrfd - before.badMrfd).toBe(1);
    expect(c.client.stats.feedbackRequests).toBe(0);
  });
});

describe('server side: unknown tokens and bad MRFD values', () => {
  let s: TestServer;
  let probe: CoapEndpoint;

  beforeAll(async () => {
    s = await startServer(testGroup(7));
    s.topics.set('r', { payload: Buffer.from('1'), contentFormat: 0 });
    probe = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
  });
  afterAll(async () => {
    await probe.close();
    await s.close();
  });

  it('introspection (Appendix A.2): 2.05 with the informative response for T, 4.04 for unknown tokens, 4.00 for junk', async () => {
    const reg = await probe.observe(s.peer, { path: '/r' }, () => undefined);
    const t = decodeInformativeResponse(reg.response.payload).tpInfo.token.toString('hex');
    const ok = await probe.request(s.peer, { path: '/.well-known/core/mc-sender', query: [`token=${t}`] });
    expect(ok.code).toBe(CoapCode.CONTENT);
    expect(ok.contentFormat).toBe(groupObserveNumbers().informativeContentFormat);
    expect(ok.payload.equals(reg.response.payload)).toBe(true);
    const unknown = await probe.request(s.peer, {
      path: '/.well-known/core/mc-sender',
      query: ['token=6464'],
    });
    expect(unknown.code).toBe(CoapCode.NOT_FOUND);
    for (const q of [[], ['token=zz'], ['token=0102030405060708090a']]) {
      const bad = await probe.request(s.peer, { path: '/.well-known/core/mc-sender', query: q });
      expect(bad.code).toBe(CoapCode.BAD_REQUEST);
    }
    expect(s.group.stats.unknownTokens).toBe(1);
  });

  it('a non-empty MRFD in a registration is no confirmation: a plain registration, counted as bad', async () => {
    const before = s.group.get('r')!.counter;
    for (const value of [Buffer.from([3]), Buffer.from([1, 2])]) {
      const res = await probe.request(s.peer, {
        path: '/r',
        options: [
          { number: OptionNumber.OBSERVE, value: Buffer.alloc(0) },
          { number: groupObserveNumbers().mrfdOption, value },
        ],
      });
      expect(res.code).toBe(CoapCode.SERVICE_UNAVAILABLE);
    }
    expect(s.group.stats.badMrfd).toBe(2);
    expect(s.group.stats.confirmations).toBe(0);
    expect(s.group.get('r')!.counter).toBe(before + 2);
  });

  it('an empty MRFD outside a feedback round changes no count', async () => {
    const before = s.group.get('r')!.counter;
    await probe.request(s.peer, {
      path: '/r',
      options: [
        { number: OptionNumber.OBSERVE, value: Buffer.alloc(0) },
        { number: groupObserveNumbers().mrfdOption, value: Buffer.alloc(0) },
      ],
    });
    expect(s.group.stats.lateConfirmations).toBe(1);
    expect(s.group.get('r')!.counter).toBe(before);
  });
});

describe('fuzzing the informative response decoder', () => {
  it('throws only DecodeError, never hangs, allocates in proportion to its input', () => {
    const seeds = [validInformative(), ...MALFORMED.map(([, b]) => b)];
    const report = fuzzDecoder({
      name: 'decodeInformativeResponse',
      decode: decodeInformativeResponse,
      seeds,
      seed: 0x6f62,
    });
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.rejected).toBeGreaterThan(10_000);
    for (const r of ['bad-cbor', 'not-a-map', 'missing-ph-req', 'unknown-tp-id', 'bad-tp-info']) {
      expect(report.reasons).toContain(r);
    }
  }, 60_000);
});
