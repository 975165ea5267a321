// draft-tiloca-core-observe-multicast-notifications-04 section 4, reproduced on real sockets: C_1
// (token 0x4a) and C_2 (token 0x01) register to /r ("1234"), S allocates T = 0x7b, answers both with
// the same informative response, then sends "5678" once to GRP_ADDR:GRP_PORT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapType, OptionNumber, encodeUint, getObserve, type CoapResponse } from '@lwm2m/coap';
import {
  decodeInformativeResponse,
  decodeMessageInfo,
  groupObserveNumbers,
  type GroupNotification,
} from '@lwm2m/group-observe';
import { encodeCbor } from '@lwm2m/lwm2m';
import {
  groupSniffer,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const GROUP = testGroup(1);
const APPLICATION_CBOR = 60;

describe('section 4 example: two clients, one group observation of /r', () => {
  let s: TestServer;
  let c1: TestClient;
  let c2: TestClient;
  const raw: CoapResponse[] = [];
  const seen: { c1: GroupNotification[]; c2: GroupNotification[] } = { c1: [], c2: [] };

  beforeAll(async () => {
    s = await startServer(GROUP, {
      tokenLength: 1,
      randomBytes: (n) => Buffer.alloc(n, 0x7b), // "S allocates the available Token value 0x7b"
    });
    s.topics.set('r', { payload: encodeCbor('1234'), contentFormat: APPLICATION_CBOR });
    c1 = await startClient();
    c2 = await startClient();
  });
  afterAll(async () => {
    await Promise.all([c1.close(), c2.close()]);
    await s.close();
  });

  it('answers C_1 (token 0x4a) and C_2 (token 0x01) with the same informative response, T = 0x7b', async () => {
    const h1 = await c1.client.observe(
      s.peer,
      '/r',
      { onNotification: (n) => seen.c1.push(n) },
      { token: Buffer.from([0x4a]) },
    );
    const h2 = await c2.client.observe(
      s.peer,
      '/r',
      { onNotification: (n) => seen.c2.push(n) },
      { token: Buffer.from([0x01]) },
    );
    for (const [h, token] of [
      [h1, 0x4a],
      [h2, 0x01],
    ] as const) {
      // A 5.03 that is its own CON message (section 2.2), echoing the client's token, no Observe.
      expect(h.mode).toBe('group');
      expect(h.response.code).toBe(CoapCode.SERVICE_UNAVAILABLE);
      expect(h.response.message.type).toBe(CoapType.CON);
      expect(h.response.token.toString('hex')).toBe(Buffer.from([token]).toString('hex'));
      expect(h.response.observe).toBeUndefined();
      expect(h.response.contentFormat).toBe(groupObserveNumbers().informativeContentFormat);
      expect(h.token?.toString('hex')).toBe('7b');
    }
    expect(h1.response.payload.toString('hex')).toBe(h2.response.payload.toString('hex'));
    raw.push(h1.response);
    // Section 2.2: the observer counter went up once per registration.
    expect(s.group.get('r')?.counter).toBe(2);
  });

  it('encodes ph_req, last_notif and tp_info exactly as sections 2.2, 2.2.1 and 2.2.2.1 say', () => {
    const payload = raw[0].payload;
    const ir = decodeInformativeResponse(payload);
    // ph_req: bstr(0x01 | OPT) -- GET, Observe: 0, Uri-Path: r
    expect(ir.phReq.toString('hex')).toBe('01' + '60' + '5172');
    // last_notif: bstr(0x45 | OPT | 0xff | PAYLOAD). The draft prints 0x25 (1.05, not a response
    // code); 2.05 Content is 0x45. Observe 1, Content-Format 60, payload CBOR "1234".
    const cbor1234 = encodeCbor('1234').toString('hex');
    expect(ir.lastNotif.toString('hex')).toBe('45' + '6101' + '613c' + 'ff' + cbor1234);
    expect(ir.tpInfo).toEqual({
      tpId: 1,
      token: Buffer.from([0x7b]),
      srvAddr: '127.0.0.1',
      srvPort: s.peer.port,
      cliAddr: GROUP.address,
      cliPort: GROUP.port,
    });
    // The CBOR bytes: {1: h'0160 5172', 2: h'...', 3: [1, h'7b', 260(h'7f000001'), SRV_PORT, 260(GRP), GRP_PORT]}
    const grp = Buffer.from(GROUP.address.split('.').map(Number)).toString('hex');
    const port = (p: number) => '19' + p.toString(16).padStart(4, '0');
    const expected =
      'a3' +
      '01' +
      '44' +
      '01605172' +
      '02' +
      (ir.lastNotif.length < 24
        ? (0x40 + ir.lastNotif.length).toString(16)
        : '58' + ir.lastNotif.length.toString(16).padStart(2, '0')) +
      ir.lastNotif.toString('hex') +
      '03' +
      '86' +
      '01' +
      '417b' +
      'd90104' +
      '44' +
      '7f000001' +
      port(s.peer.port) +
      'd90104' +
      '44' +
      grp +
      port(GROUP.port);
    expect(payload.toString('hex')).toBe(expected);
    // Decoded back to the very phantom request and latest notification bytes.
    const ph = decodeMessageInfo(ir.phReq, 'ph_req');
    expect(ph.code).toBe(CoapCode.GET);
    expect(ph.options).toEqual([
      { number: OptionNumber.OBSERVE, value: encodeUint(0) },
      { number: OptionNumber.URI_PATH, value: Buffer.from('r') },
    ]);
    const last = decodeMessageInfo(ir.lastNotif, 'last_notif');
    expect(last.payload).toEqual(encodeCbor('1234'));
  });

  it('gives both clients the latest notification as the baseline (section 3.2 step 5)', () => {
    for (const list of [seen.c1, seen.c2]) {
      expect(list).toHaveLength(1);
      expect(list[0].source).toBe('informative');
      expect(list[0].token).toEqual(Buffer.from([0x7b]));
      expect(list[0].payload).toEqual(encodeCbor('1234'));
    }
  });

  it('sends "5678" once, NON 2.05 with Observe and token 0x7b from SRV to GRP, and both clients get it', async () => {
    const sniffer = await groupSniffer(GROUP);
    try {
      const rep = { payload: encodeCbor('5678'), contentFormat: APPLICATION_CBOR };
      s.topics.set('r', rep);
      await s.group.publish('r', rep);
      await until(() => seen.c1.length === 2 && seen.c2.length === 2, 'both clients notified');
      await until(() => sniffer.messages.length === 1, 'the datagram on the group');
      const { msg, source } = sniffer.messages[0];
      expect(source).toMatchObject({ address: '127.0.0.1', port: s.peer.port });
      expect(msg.type).toBe(CoapType.NON);
      expect(msg.code).toBe(CoapCode.CONTENT);
      expect(msg.token).toEqual(Buffer.from([0x7b]));
      expect(getObserve(msg)).toBeGreaterThan(1);
      for (const list of [seen.c1, seen.c2]) {
        expect(list[1]).toMatchObject({ source: 'multicast', contentFormat: APPLICATION_CBOR });
        expect(list[1].payload).toEqual(encodeCbor('5678'));
      }
      expect(s.group.stats.multicastDatagrams).toBe(1);
      // The stored latest notification is now the one that went out (section 2.3).
      const info = s.group.get('r')!;
      expect(info.lastNotification.sent).toBe(true);
    } finally {
      await sniffer.close();
    }
  });
});
