// RFC 7641 sections 3.2-3.6 when the observation was started elsewhere: a CoapEndpoint with adoptResponse
// asks before rejecting a notification with an unknown token (a cluster node took the device's session
// over), then handles it and the following ones as its own. Real UDP on 127.0.0.1; the device is a raw
// socket, so every byte it sends is the test's.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AdoptResponse,
  CoapCode,
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapMessage,
  type CoapResponse,
  CoapType,
  createMessage,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  getObserve,
  getOption,
  getUriPath,
  OptionNumber,
  type Peer,
  setOption,
} from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function endpoint(
  extra: Partial<CoapEndpointOptions> = {},
): Promise<{ ep: CoapEndpoint; address: Peer }> {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const ep = new CoapEndpoint({ transport, ...extra });
  closers.push(() => ep.close());
  return { ep, address: transport.address() };
}

/** A device as a bare UDP socket: sends what the test builds and records what it receives. */
async function rawDevice(): Promise<{
  address: Peer;
  inbox: CoapMessage[];
  send(m: CoapMessage, to: Peer): void;
  onMessage(fn: (m: CoapMessage, from: Peer) => void): void;
}> {
  const t = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  closers.push(() => t.close());
  const inbox: CoapMessage[] = [];
  const listeners: ((m: CoapMessage, from: Peer) => void)[] = [];
  t.onDatagram((d, from) => {
    const m = decodeMessage(d);
    inbox.push(m);
    for (const l of listeners) l(m, from);
  });
  return {
    address: t.address(),
    inbox,
    send: (m, to) => void t.send(encodeMessage(m), to),
    onMessage: (fn) => listeners.push(fn),
  };
}

const TOKEN = Buffer.from('a1b2c3d4e5f60718', 'hex');

function notification(
  seq: number,
  messageId: number,
  type: CoapType.CON | CoapType.NON = CoapType.NON,
  token = TOKEN,
): CoapMessage {
  const m = createMessage({
    type,
    code: CoapCode.CONTENT,
    messageId,
    token,
    payload: Buffer.from(`n${seq}`),
  });
  setOption(m, OptionNumber.OBSERVE, seq);
  return m;
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const repliesTo = (inbox: CoapMessage[], mid: number, type: CoapType): CoapMessage[] =>
  inbox.filter((m) => m.messageId === mid && m.type === type);

describe('adopting an observation started elsewhere (adoptResponse)', () => {
  it('asks, ACKs the CON notification, delivers it and the following ones in Observe order', async () => {
    const device = await rawDevice();
    const got: CoapResponse[] = [];
    const asked: { token: string; peerKey: string }[] = [];
    const box: { ep?: CoapEndpoint } = {};
    const { ep, address } = await endpoint({
      adoptResponse: async (token, peer, peerKey) => {
        asked.push({ token: token.toString('hex'), peerKey });
        await sleep(20); // a store lookup
        box.ep!.resumeObservation(peer, { path: '/3303/0/5700', accept: 112 }, token, (r) => got.push(r));
        return true;
      },
    });
    box.ep = ep;
    device.send(notification(40, 100, CoapType.CON), address);
    await until(() => got.length === 1 && device.inbox.length === 1, 'the adopted notification and its ACK');
    expect(asked).toEqual([{ token: TOKEN.toString('hex'), peerKey: `127.0.0.1:${device.address.port}` }]);
    expect(repliesTo(device.inbox, 100, CoapType.ACK)).toHaveLength(1);
    expect(repliesTo(device.inbox, 100, CoapType.RST)).toHaveLength(0);
    expect(got[0]).toMatchObject({ code: CoapCode.CONTENT, observe: 40 });

    device.send(notification(41, 101), address);
    device.send(notification(43, 102, CoapType.CON), address);
    device.send(notification(42, 103), address); // older than 43: dropped (RFC 7641 section 3.4)
    device.send(notification(44, 104), address);
    await until(() => got.length === 4, 'the following notifications');
    await sleep(50);
    expect(got.map((r) => r.payload.toString())).toEqual(['n40', 'n41', 'n43', 'n44']);
    expect(repliesTo(device.inbox, 102, CoapType.ACK)).toHaveLength(1);
    expect(device.inbox.filter((m) => m.type === CoapType.RST)).toHaveLength(0);
    expect(asked).toHaveLength(1);
    expect(ep.stats).toMatchObject({ adoptions: 1, staleNotifications: 1, unmatched: 0, internalErrors: 0 });
  });

  it('processes a CON retransmitted during the lookup once, and answers it from the dedup cache after', async () => {
    const device = await rawDevice();
    const got: string[] = [];
    let decide!: () => void;
    const box: { ep?: CoapEndpoint } = {};
    let calls = 0;
    const { ep, address } = await endpoint({
      adoptResponse: (token, peer) => {
        calls++;
        return new Promise<boolean>((resolve) => {
          decide = () => {
            box.ep!.resumeObservation(peer, { path: 'r' }, token, (r) => got.push(r.payload.toString()));
            resolve(true);
          };
        });
      },
    });
    box.ep = ep;
    device.send(notification(7, 200, CoapType.CON), address);
    await until(() => calls === 1, 'the lookup');
    device.send(notification(7, 200, CoapType.CON), address); // retransmission while the lookup runs
    device.send(notification(8, 201), address); // same token, new message: waits for the same lookup
    await until(() => ep.stats.duplicates === 1, 'the duplicate');
    await sleep(30);
    expect(device.inbox).toHaveLength(0); // nothing decided yet: no ACK, no RST
    expect(got).toEqual([]);
    decide();
    await until(() => got.length === 2, 'both notifications');
    expect(got).toEqual(['n7', 'n8']);
    expect(calls).toBe(1);
    expect(repliesTo(device.inbox, 200, CoapType.ACK)).toHaveLength(1);
    device.send(notification(7, 200, CoapType.CON), address); // a late retransmission: same ACK again
    await until(() => repliesTo(device.inbox, 200, CoapType.ACK).length === 2, 'the re-sent ACK');
    await sleep(30);
    expect(got).toEqual(['n7', 'n8']);
    expect(ep.stats.adoptions).toBe(1);
  });

  it('answers an unknown token with RST when there is no hook, when it declines, or when it lies', async () => {
    const device = await rawDevice();
    const plain = await endpoint();
    device.send(notification(1, 300, CoapType.CON), plain.address);
    device.send(notification(2, 301, CoapType.NON), plain.address);
    await until(() => device.inbox.length === 2, 'two RSTs');
    expect(device.inbox.map((m) => [m.type, m.messageId])).toEqual([
      [CoapType.RST, 300],
      [CoapType.RST, 301],
    ]);

    const seen: string[] = [];
    const declining = await endpoint({
      adoptResponse: async (token) => {
        seen.push(token.toString('hex'));
        return false;
      },
    });
    device.send(notification(1, 310, CoapType.CON), declining.address);
    await until(() => repliesTo(device.inbox, 310, CoapType.RST).length === 1, 'RST after decline');
    expect(seen).toEqual([TOKEN.toString('hex')]);

    // true without resumeObservation: nothing would match the token, so it is still rejected
    const lying = await endpoint({ adoptResponse: async () => true });
    device.send(notification(1, 320, CoapType.CON), lying.address);
    await until(() => repliesTo(device.inbox, 320, CoapType.RST).length === 1, 'RST after a bare true');
    expect(lying.ep.stats).toMatchObject({ adoptions: 0, unmatched: 1 });

    // no token: nothing to look up
    let askedEmpty = 0;
    const empty = await endpoint({ adoptResponse: async () => askedEmpty++ > 0 });
    device.send(notification(1, 330, CoapType.CON, Buffer.alloc(0)), empty.address);
    await until(() => repliesTo(device.inbox, 330, CoapType.RST).length === 1, 'RST for an empty token');
    expect(askedEmpty).toBe(0);
  });

  it('answers RST when the hook throws or rejects, and keeps serving', async () => {
    const device = await rawDevice();
    const thrower: AdoptResponse = () => {
      throw new Error('synchronous failure');
    };
    const { ep, address } = await endpoint({
      adoptResponse: thrower,
      handler: () => ({ code: CoapCode.CONTENT, payload: 'alive' }),
    });
    device.send(notification(1, 400, CoapType.CON), address);
    await until(() => repliesTo(device.inbox, 400, CoapType.RST).length === 1, 'RST after a throw');
    ep.setAdoptResponse(async () => {
      throw new Error('store down');
    });
    device.send(notification(2, 401, CoapType.CON), address);
    await until(() => repliesTo(device.inbox, 401, CoapType.RST).length === 1, 'RST after a rejection');
    expect(ep.stats).toMatchObject({ internalErrors: 0, adoptions: 0, unmatched: 2 });
    const { ep: client } = await endpoint();
    expect((await client.request(address, { path: 'x' })).payload.toString()).toBe('alive');
  });

  it('rejects at once beyond maxPendingAdoptions', async () => {
    const device = await rawDevice();
    const { address } = await endpoint({
      maxPendingAdoptions: 1,
      adoptResponse: () => new Promise<boolean>(() => undefined), // a lookup that never ends
    });
    device.send(notification(1, 500, CoapType.CON), address);
    await sleep(30);
    device.send(notification(1, 501, CoapType.CON, Buffer.from('other')), address);
    await until(() => repliesTo(device.inbox, 501, CoapType.RST).length === 1, 'RST beyond the bound');
    expect(repliesTo(device.inbox, 500, CoapType.RST)).toHaveLength(0);
  });
});

describe('resumeObservation', () => {
  it('sends nothing, fetches a block-wise notification with the GET without Observe, and cancels with Observe=1', async () => {
    const device = await rawDevice();
    const { ep, address } = await endpoint();
    const body = Buffer.alloc(40, 0x61);
    // The device answers the client's requests: Block2 GETs with the rest, the deregistering GET with 2.05.
    device.onMessage((m, from) => {
      if (m.type !== CoapType.CON || m.code !== CoapCode.GET) return;
      const res = createMessage({
        type: CoapType.ACK,
        code: CoapCode.CONTENT,
        messageId: m.messageId,
        token: m.token,
      });
      const b2 = getOption(m, OptionNumber.BLOCK2);
      if (b2 !== undefined) {
        const { num, szx } = decodeBlock(b2);
        res.payload = body.subarray(num * 16, num * 16 + 16);
        setOption(res, OptionNumber.BLOCK2, encodeBlock({ num, more: (num + 1) * 16 < body.length, szx }));
      }
      device.send(res, from);
    });
    const got: CoapResponse[] = [];
    const control = ep.resumeObservation(device.address, { path: '/3/0', accept: 11542 }, TOKEN, (r) =>
      got.push(r),
    );
    expect(control.token.equals(TOKEN)).toBe(true);
    await sleep(30);
    expect(device.inbox).toHaveLength(0); // nothing sent on resume

    const first = notification(5, 600, CoapType.CON);
    first.payload = body.subarray(0, 16);
    setOption(first, OptionNumber.BLOCK2, encodeBlock({ num: 0, more: true, szx: 0 }));
    device.send(first, address);
    await until(() => got.length === 1, 'the reassembled notification');
    expect(got[0].payload.equals(body)).toBe(true);
    const gets = device.inbox.filter((m) => m.code === CoapCode.GET);
    expect(gets).toHaveLength(2);
    for (const g of gets) {
      expect(getUriPath(g)).toEqual(['3', '0']);
      expect(getObserve(g)).toBeUndefined(); // RFC 7959 section 2.3: plain GETs for the rest
      expect(getOption(g, OptionNumber.ACCEPT)).toBeDefined();
    }

    await control.cancel({ proactive: true });
    const dereg = device.inbox.filter((m) => m.code === CoapCode.GET && getObserve(m) === 1);
    expect(dereg).toHaveLength(1);
    expect(dereg[0].token.equals(TOKEN)).toBe(true);
    expect(getUriPath(dereg[0])).toEqual(['3', '0']);
    device.send(notification(6, 601, CoapType.CON), address);
    await until(() => repliesTo(device.inbox, 601, CoapType.RST).length === 1, 'RST after cancel');
    expect(got).toHaveLength(1);
  });
});
