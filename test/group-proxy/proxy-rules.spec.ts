// The proxy's rules on an in-memory network (libs/transport MemoryNetwork): client identification and the
// allow-list (sections 4 REQ1/REQ2, 4.2.1 step 2, 10.1), Multicast-Timeout handling (4.2.1 steps 3-6),
// Early Stop and RST (4.2.3), the chain's 5.05 (8.1), deduplication, and bad input from both sides.
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  encodeUint,
  getOption,
  OptionNumber as O,
  type CoapMessage,
  type CoapOption,
  type Peer,
} from '@lwm2m/coap';
import { decodeReplyFrom, GroupProxy, type GroupProxyOptions } from '@lwm2m/group-proxy';
import { MemoryNetwork, type MemoryTransport } from '@lwm2m/transport';
import { describe, expect, it } from 'vitest';
import { prng } from '../support/fuzz';

const GROUP = { address: '239.1.2.3', port: 5683 };
const MT = 65062;

interface Rig {
  net: MemoryNetwork;
  proxy: GroupProxy;
  clientSide: MemoryTransport;
  groupSide: MemoryTransport;
  /** Datagrams that reached the multicast address. */
  atGroup: CoapMessage[];
  /** What the client at 10.0.0.2:4000 got. */
  atClient: CoapMessage[];
  server: MemoryTransport;
  from(identity?: Peer['identity'], port?: number): (m: CoapMessage) => void;
}

function rig(extra: Partial<GroupProxyOptions> = {}): Rig {
  const net = new MemoryNetwork();
  const clientSide = net.transport('10.0.0.1', 5683);
  const groupSide = net.transport('10.0.0.1', 40000);
  const groupT = net.transport(GROUP.address, GROUP.port);
  const clientT = net.transport('10.0.0.2', 4000);
  net.transport('10.0.0.2', 4001);
  const server = net.transport('10.0.0.7', 5683);
  const atGroup: CoapMessage[] = [];
  const atClient: CoapMessage[] = [];
  groupT.onDatagram((d) => atGroup.push(decodeMessage(d)));
  clientT.onDatagram((d) => atClient.push(decodeMessage(d)));
  const proxy = new GroupProxy({
    clientSide,
    groupSide,
    groups: [{ name: 'g', ...GROUP, reversePath: ['grp'] }],
    allow: [
      { address: '10.0.0.2', port: 4000, groups: ['g'] },
      { pskIdentity: 'alice', groups: ['g'] },
      { oscoreKid: '0a', groups: '*' },
    ],
    ...extra,
  });
  return {
    net,
    proxy,
    clientSide,
    groupSide,
    atGroup,
    atClient,
    server,
    from:
      (identity, port = 4000) =>
      (m) =>
        clientSide.receive(encodeMessage(m), {
          address: '10.0.0.2',
          port,
          ...(identity ? { identity } : {}),
        }),
  };
}

let mid = 1;
function req(options: CoapOption[], o: Partial<CoapMessage> = {}): CoapMessage {
  return createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    messageId: mid++,
    token: Buffer.from('c0ffee', 'hex'),
    options: [
      { number: O.PROXY_URI, value: Buffer.from(`coap://${GROUP.address}:${GROUP.port}/r`) },
      ...options,
    ],
    ...o,
  });
}
const mt = (s: number): CoapOption => ({ number: MT, value: encodeUint(s) });
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

function answerFromServer(r: Rig, token: Buffer, payload = 'v', extra: CoapOption[] = []): void {
  const resp = createMessage({
    type: CoapType.NON,
    code: CoapCode.CONTENT,
    messageId: mid++,
    token,
    options: extra,
    payload: Buffer.from(payload),
  });
  void r.server.send(encodeMessage(resp), { address: '10.0.0.1', port: 40000 });
}

describe('client identification and the allow-list', () => {
  it('forwards for an allowed address and relays with Reply-From naming the server', async () => {
    const r = rig();
    r.from()(req([mt(5)]));
    await tick();
    expect(r.atGroup).toHaveLength(1);
    const fwd = r.atGroup[0];
    // Section 4.2.1 steps 4-5: Multicast-Timeout and Proxy-Uri gone, Uri-Path from the URI.
    expect(getOption(fwd, MT)).toBeUndefined();
    expect(getOption(fwd, O.PROXY_URI)).toBeUndefined();
    expect(getOption(fwd, O.URI_PATH)!.toString()).toBe('r');
    expect(fwd.type).toBe(CoapType.NON);
    answerFromServer(r, fwd.token, 'one');
    await tick();
    const relayed = r.atClient.filter((m) => m.code === CoapCode.CONTENT);
    expect(relayed).toHaveLength(1);
    expect(relayed[0].token.toString('hex')).toBe('c0ffee');
    expect(decodeReplyFrom(getOption(relayed[0], 65064)!)).toEqual({
      scheme: 'coap',
      host: '10.0.0.7',
      port: 5683,
    });
    await r.proxy.close();
  });

  it("relays a server's retransmitted CON response once, and acknowledges both copies", async () => {
    const r = rig();
    const acks: CoapMessage[] = [];
    r.server.onDatagram((d) => acks.push(decodeMessage(d)));
    r.from()(req([mt(5)]));
    await tick();
    const con = createMessage({
      type: CoapType.CON,
      code: CoapCode.CONTENT,
      messageId: 4242,
      token: r.atGroup[0].token,
      payload: Buffer.from('once'),
    });
    for (let i = 0; i < 2; i++) void r.server.send(encodeMessage(con), { address: '10.0.0.1', port: 40000 });
    await tick();
    expect(r.atClient.filter((m) => m.payload.toString() === 'once')).toHaveLength(1);
    expect(acks.filter((m) => m.type === CoapType.ACK && m.messageId === 4242)).toHaveLength(2);
    await r.proxy.close();
  });

  it('takes a DTLS PSK or OSCORE identity and refuses a spoofed or unknown one with 4.01', async () => {
    const r = rig();
    r.from({ type: 'psk', identity: 'alice' }, 4001)(req([mt(5)], { token: Buffer.from('01', 'hex') }));
    r.from(
      { type: 'oscore', kid: Buffer.from('0a', 'hex'), endpoint: 'x' },
      4001,
    )(req([mt(5)], { token: Buffer.from('02', 'hex') }));
    await tick();
    expect(r.atGroup).toHaveLength(2);
    // The allowed address with another port, a PSK identity not on the list, another OSCORE kid: refused.
    r.from(undefined, 4001)(req([mt(5)]));
    r.from({ type: 'psk', identity: 'mallory' }, 4001)(req([mt(5)]));
    r.from({ type: 'oscore', kid: Buffer.from('0b', 'hex'), endpoint: 'x' }, 4001)(req([mt(5)]));
    // A PSK rule is not satisfied by the right address without the identity.
    await tick();
    expect(r.atGroup).toHaveLength(2);
    expect(r.proxy.stats.unauthorized).toBe(3);
    await r.proxy.close();
  });

  it('answers 4.01 before looking at Multicast-Timeout (section 4.2.1: step 2 before step 3)', async () => {
    const r = rig();
    const stranger = r.net.transport('10.0.0.9', 1);
    const got: CoapMessage[] = [];
    stranger.onDatagram((d) => got.push(decodeMessage(d)));
    void stranger.send(encodeMessage(req([])), { address: '10.0.0.1', port: 5683 });
    // Probing for paths, other groups or members tells a stranger nothing either: 4.01 each time.
    void stranger.send(
      encodeMessage(req([], { options: [{ number: O.URI_PATH, value: Buffer.from('x') }] })),
      {
        address: '10.0.0.1',
        port: 5683,
      },
    );
    void stranger.send(
      encodeMessage(req([], { options: [{ number: O.PROXY_URI, value: Buffer.from('coap://10.0.0.7/r') }] })),
      { address: '10.0.0.1', port: 5683 },
    );
    await tick();
    expect(got.map((m) => [m.type, m.code])).toEqual(Array(3).fill([CoapType.ACK, CoapCode.UNAUTHORIZED]));
    await r.proxy.close();
  });
});

describe('one member through the proxy (section 4.5.1 step 3, "indirectly")', () => {
  it('forwards a unicast request to a server that answered a group request, and only to such one', async () => {
    const r = rig();
    const atServer: CoapMessage[] = [];
    r.server.onDatagram((d) => atServer.push(decodeMessage(d)));
    const unicast = (host: string): CoapMessage =>
      req([], {
        token: Buffer.from(host.replace(/\D/g, ''), 'hex'),
        options: [{ number: O.PROXY_URI, value: Buffer.from(`coap://${host}:5683/r1`) }],
      });
    // Not a member yet: 5.05, nothing sent.
    r.from()(unicast('10.0.0.7'));
    await tick();
    expect(r.atClient.at(-1)!.code).toBe(CoapCode.PROXYING_NOT_SUPPORTED);
    expect(atServer).toHaveLength(0);
    // 10.0.0.7 answers a group request: now it is a member of g.
    r.from()(req([mt(5)], { token: Buffer.from('aa', 'hex') }));
    await tick();
    answerFromServer(r, r.atGroup[0].token);
    await tick();
    r.from()(unicast('10.0.0.7'));
    await tick();
    expect(atServer).toHaveLength(1);
    expect(getOption(atServer[0], O.URI_PATH)!.toString()).toBe('r1');
    expect(getOption(atServer[0], O.PROXY_URI)).toBeUndefined();
    answerFromServer(r, atServer[0].token, 'direct');
    await tick();
    const last = r.atClient.at(-1)!;
    expect(last.payload.toString()).toBe('direct');
    expect(getOption(last, 65064)).toBeUndefined();
    // Another unicast address is still refused.
    r.from()(unicast('10.0.0.8'));
    await tick();
    expect(r.atClient.at(-1)!.code).toBe(CoapCode.PROXYING_NOT_SUPPORTED);
    await r.proxy.close();
  });
});

describe('Multicast-Timeout at the proxy', () => {
  it('answers 4.00 with an empty Multicast-Timeout and a diagnostic payload when it is missing', async () => {
    const r = rig();
    r.from()(req([]));
    await tick();
    const [a] = r.atClient;
    expect(a.type).toBe(CoapType.ACK);
    expect(a.code).toBe(CoapCode.BAD_REQUEST);
    expect(getOption(a, MT)).toEqual(Buffer.alloc(0));
    expect(a.payload.length).toBeGreaterThan(0);
    expect(r.atGroup).toHaveLength(0);
    await r.proxy.close();
  });

  it('the reverse-proxy reveals itself the same way (section 6.1)', async () => {
    const r = rig();
    r.from()(
      req([{ number: O.URI_PATH, value: Buffer.from('grp') }], {
        options: [{ number: O.URI_PATH, value: Buffer.from('grp') }],
      }),
    );
    await tick();
    expect(r.atClient[0].code).toBe(CoapCode.BAD_REQUEST);
    expect(getOption(r.atClient[0], MT)).toEqual(Buffer.alloc(0));
    await r.proxy.close();
  });

  it("takes a value over 4 bytes as absent (RFC 7252 5.4.3); with T' = 0 forwards and keeps nothing", async () => {
    const r = rig();
    r.from()(req([{ number: MT, value: Buffer.alloc(5, 1) }]));
    await tick();
    expect(r.atClient[0].code).toBe(CoapCode.BAD_REQUEST);
    r.from()(
      req([
        { number: MT, value: Buffer.alloc(0) },
        { number: O.NO_RESPONSE, value: encodeUint(26) },
      ]),
    );
    await tick();
    expect(r.atGroup).toHaveLength(1);
    expect(r.proxy.activeForwards).toBe(0);
    answerFromServer(r, r.atGroup[0].token);
    await tick();
    expect(r.atClient.filter((m) => m.code === CoapCode.CONTENT)).toHaveLength(0);
    expect(r.proxy.stats.late).toBe(1);
    await r.proxy.close();
  });

  it('a duplicate CON request is forwarded once and its ACK repeated (RFC 7252 4.5)', async () => {
    const r = rig();
    const m = req([mt(5)]);
    r.from()(m);
    r.from()(m);
    await tick();
    expect(r.atGroup).toHaveLength(1);
    expect(r.atClient.filter((x) => x.type === CoapType.ACK && x.messageId === m.messageId)).toHaveLength(2);
    await r.proxy.close();
  });

  it('refuses a target that is not a configured group with 5.05, and an unknown path with 4.04', async () => {
    const r = rig();
    r.from()(
      req([mt(5)], { options: [{ number: O.PROXY_URI, value: Buffer.from('coap://239.9.9.9/r') }, mt(5)] }),
    );
    r.from()(
      req([mt(5)], { options: [{ number: O.PROXY_URI, value: Buffer.from('http://239.1.2.3/r') }, mt(5)] }),
    );
    r.from()(req([mt(5)], { options: [{ number: O.PROXY_URI, value: Buffer.from('not a uri') }, mt(5)] }));
    r.from()(req([], { options: [{ number: O.URI_PATH, value: Buffer.from('nope') }, mt(5)] }));
    await tick();
    expect(r.atClient.map((m) => m.code)).toEqual([
      CoapCode.PROXYING_NOT_SUPPORTED,
      CoapCode.PROXYING_NOT_SUPPORTED,
      CoapCode.PROXYING_NOT_SUPPORTED,
      CoapCode.NOT_FOUND,
    ]);
    expect(r.atGroup).toHaveLength(0);
    await r.proxy.close();
  });
});

describe('caching with known members (sections 7.1 and 7.3)', () => {
  it('serves from the cache alone once every member has a fresh entry, and revalidates with Group-ETag', async () => {
    const members = [
      { address: '10.0.0.7', port: 5683 },
      { address: '10.0.0.8', port: 5683 },
    ];
    const r = rig({ groups: [{ name: 'g', ...GROUP, members }] });
    const second = r.net.transport('10.0.0.8', 5683);
    const maxAge: CoapOption = { number: O.MAX_AGE, value: encodeUint(60) };
    r.from()(req([mt(1)], { token: Buffer.from('01', 'hex') }));
    await tick();
    const t = r.atGroup[0].token;
    answerFromServer(r, t, 'a', [maxAge]);
    const resp = createMessage({
      type: CoapType.NON,
      code: CoapCode.CONTENT,
      messageId: mid++,
      token: t,
      options: [maxAge],
      payload: Buffer.from('b'),
    });
    void second.send(encodeMessage(resp), { address: '10.0.0.1', port: 40000 });
    await tick();
    expect(r.proxy.stats.relayed).toBe(2);

    // Both fresh: the next request is not forwarded; the two responses come from the cache with J's tag.
    r.atClient.length = 0;
    r.from()(req([mt(1)], { token: Buffer.from('02', 'hex') }));
    await tick();
    expect(r.atGroup).toHaveLength(1);
    const cached = r.atClient.filter((m) => m.code === CoapCode.CONTENT);
    expect(cached.map((m) => m.payload.toString()).sort()).toEqual(['a', 'b']);
    const tags = cached.map((m) => getOption(m, 65068)!.toString('hex'));
    expect(new Set(tags).size).toBe(1);
    expect(cached.every((m) => decodeReplyFrom(getOption(m, 65064)!).host.startsWith('10.0.0.'))).toBe(true);

    // With that Group-ETag: one 2.03 Valid carrying it; with another: the representations again.
    r.atClient.length = 0;
    r.from()(
      req([mt(1), { number: 65068, value: Buffer.from(tags[0], 'hex') }], {
        token: Buffer.from('03', 'hex'),
      }),
    );
    await tick();
    const valid = r.atClient.filter((m) => m.code !== 0);
    expect(valid.map((m) => m.code)).toEqual([CoapCode.VALID]);
    expect(getOption(valid[0], 65068)!.toString('hex')).toBe(tags[0]);
    r.atClient.length = 0;
    r.from()(req([mt(1), { number: 65068, value: Buffer.from('00') }], { token: Buffer.from('04', 'hex') }));
    await tick();
    expect(r.atClient.filter((m) => m.code === CoapCode.CONTENT)).toHaveLength(2);
    expect(r.atGroup).toHaveLength(1);
    expect(r.proxy.stats.validFromCache).toBe(1);
    await r.proxy.close();
  });
});

describe('stopping the forwarding (section 4.2.3)', () => {
  it('an Early Stop Request frees the token: later responses are not relayed', async () => {
    const r = rig();
    const m = req([mt(30)]);
    r.from()(m);
    await tick();
    expect(r.proxy.activeForwards).toBe(1);
    r.from()(
      createMessage({
        type: CoapType.NON,
        code: CoapCode.GET,
        messageId: mid++,
        token: m.token,
        options: [{ number: MT, value: Buffer.alloc(0) }],
      }),
    );
    await tick();
    expect(r.proxy.activeForwards).toBe(0);
    expect(r.atGroup).toHaveLength(1);
    answerFromServer(r, r.atGroup[0].token);
    await tick();
    expect(r.atClient.filter((x) => x.code === CoapCode.CONTENT)).toHaveLength(0);
    await r.proxy.close();
  });

  it('an RST to a relayed response frees it too', async () => {
    const r = rig();
    r.from()(req([mt(30)]));
    await tick();
    answerFromServer(r, r.atGroup[0].token);
    await tick();
    const relayed = r.atClient.find((x) => x.code === CoapCode.CONTENT)!;
    r.from()(createMessage({ type: CoapType.RST, code: 0, messageId: relayed.messageId }));
    await tick();
    expect(r.proxy.activeForwards).toBe(0);
    expect(r.proxy.stats.clientResets).toBe(1);
    await r.proxy.close();
  });
});

describe("the client's interest in a long observation (RFC 7641 4.5, section 5.4)", () => {
  const liveness = { intervalMs: 0, ackTimeoutMs: 20, maxRetransmit: 2 };
  const observe: CoapOption = { number: O.OBSERVE, value: Buffer.alloc(0) };
  const notify = (r: Rig, n: number): void =>
    answerFromServer(r, r.atGroup[0].token, `n${n}`, [{ number: O.OBSERVE, value: encodeUint(n) }]);

  it('a CON notification nobody acknowledges ends the observation', async () => {
    const r = rig({ liveness });
    r.from()(req([observe, mt(30)]));
    await tick();
    notify(r, 2);
    await new Promise((done) => setTimeout(done, 250));
    const copies = r.atClient.filter((m) => m.code === CoapCode.CONTENT);
    // The notification and its two retransmissions, one Message ID.
    expect(copies).toHaveLength(3);
    expect(copies.every((m) => m.type === CoapType.CON && m.messageId === copies[0].messageId)).toBe(true);
    expect(r.proxy.stats.clientTimeouts).toBe(1);
    expect(r.proxy.activeForwards).toBe(0);
    await r.proxy.close();
  });

  it('an acknowledged one keeps it', async () => {
    const r = rig({ liveness });
    r.from()(req([observe, mt(30)]));
    await tick();
    notify(r, 2);
    await tick();
    const n = r.atClient.find((m) => m.code === CoapCode.CONTENT)!;
    r.from()(createMessage({ type: CoapType.ACK, code: 0, messageId: n.messageId }));
    await new Promise((done) => setTimeout(done, 150));
    expect(r.atClient.filter((m) => m.code === CoapCode.CONTENT)).toHaveLength(1);
    expect(r.proxy.stats.clientTimeouts).toBe(0);
    expect(r.proxy.activeForwards).toBe(1);
    await r.proxy.close();
  });
});

describe('options of the deployment', () => {
  it("writes draft -03's tp_info when configured so, under the -03 names", async () => {
    const r = rig({
      replyFromEncoding: 'tp-info',
      numbers: { 'Multicast-Signaling': 2, 'Response-Forwarding': 248 },
    });
    r.from()(req([{ number: 2, value: encodeUint(5) }]));
    await tick();
    answerFromServer(r, r.atGroup[0].token);
    await tick();
    const v = getOption(
      r.atClient.find((x) => x.code === CoapCode.CONTENT)!,
      248,
    )!;
    expect(v.subarray(0, 2).toString('hex')).toBe('8301');
    expect(decodeReplyFrom(v)).toEqual({ scheme: 'coap', host: '10.0.0.7', port: 5683 });
    await r.proxy.close();
  });

  it("a non-last proxy of a chain refuses T' it cannot shorten with 5.05 and the least T' (section 8.1)", async () => {
    const r = rig({
      groups: [{ name: 'g', ...GROUP, nextHop: { address: '10.0.0.50', port: 5683 } }],
      chainMarginSeconds: 2,
    });
    r.from()(req([mt(2)]));
    await tick();
    expect(r.atClient[0].code).toBe(CoapCode.PROXYING_NOT_SUPPORTED);
    expect(getOption(r.atClient[0], MT)).toEqual(encodeUint(3));
    await r.proxy.close();
  });

  it('bounds the forwards in flight: beyond maxForwards, 5.03', async () => {
    const r = rig({ maxForwards: 2 });
    for (let i = 0; i < 3; i++) r.from()(req([mt(30)], { token: Buffer.from([i]) }));
    await tick();
    expect(r.atGroup).toHaveLength(2);
    expect(r.atClient.filter((x) => x.code === CoapCode.SERVICE_UNAVAILABLE)).toHaveLength(1);
    await r.proxy.close();
  });
});

describe('bad input from clients and servers', () => {
  it('survives 20,000 mutated datagrams on both sides, counts them, and still serves', async () => {
    const r = rig();
    const rand = prng(0x6770);
    const seeds = [
      encodeMessage(req([mt(5)])),
      encodeMessage(
        createMessage({
          type: CoapType.NON,
          code: CoapCode.CONTENT,
          token: Buffer.from('01', 'hex'),
          options: [{ number: 65064, value: Buffer.from('82208244', 'hex') }],
        }),
      ),
    ];
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(seeds[i % 2]);
      const flips = 1 + ((rand() * 4) | 0);
      for (let j = 0; j < flips; j++) b[(rand() * b.length) | 0] = (rand() * 256) | 0;
      const cut = rand() < 0.2 ? b.subarray(0, (rand() * b.length) | 0) : b;
      if (i % 2 === 0) r.clientSide.receive(cut, { address: '10.0.0.2', port: 4000 });
      else r.groupSide.receive(cut, { address: '10.0.0.7', port: 5683 });
    }
    await tick();
    expect(r.proxy.stats.malformed).toBeGreaterThan(100);
    const before = r.atGroup.length;
    // From another port: a mutated datagram may have taken any Message ID of 10.0.0.2:4000 (deduplication).
    r.from({ type: 'psk', identity: 'alice' }, 4001)(req([mt(5)], { token: Buffer.from('beef', 'hex') }));
    await tick();
    expect(r.atGroup.length).toBe(before + 1);
    await r.proxy.close();
  }, 30_000);
});
