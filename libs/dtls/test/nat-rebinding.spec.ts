// RFC 9146 in practice: a device behind a NAT that changes its source port. With a CID the session, and a
// CoAP observation started before the change, carry on without a handshake; without a CID the server
// cannot place the records (they are dropped) and the device has to handshake again.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapResponse,
  type IncomingRequest,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { DtlsClient, DtlsServer } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';

const KEY = Buffer.from('nat-psk');

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
}

async function setup(connectionId: boolean) {
  let counter = 0;
  const serverUdp = await UdpTransport.bind({ port: 0 });
  const dtls = new DtlsServer({ transport: serverUdp, psk: () => KEY });
  const server = new CoapEndpoint({
    transport: dtls,
    handler: (req: IncomingRequest): OutgoingResponse => {
      const path = req.path.join('/');
      if (path === 'counter') return { code: CoapCode.CONTENT, payload: String(counter), contentFormat: 0 };
      if (path === 'ping') return { code: CoapCode.CONTENT, payload: 'pong' };
      return { code: CoapCode.NOT_FOUND };
    },
  });
  const first = await UdpTransport.bind({ port: 0 });
  const client = new DtlsClient({ transport: first, psk: { identity: 'device', key: KEY }, connectionId });
  const device = new CoapEndpoint({ transport: client });
  const serverPeer = serverUdp.address();
  const seen: string[] = [];
  const observation = await device.observe(serverPeer, { path: 'counter' }, (res: CoapResponse) =>
    seen.push(res.payload.toString()),
  );
  seen.push(observation.response.payload.toString());
  const bump = async (): Promise<void> => {
    counter++;
    await server.notify('counter');
  };
  return {
    dtls,
    server,
    client,
    device,
    serverPeer,
    first,
    seen,
    bump,
    close: () => Promise.all([server.close(), device.close()]),
  };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe('NAT rebinding', () => {
  it('with a CID: the server follows the new port, no new handshake, the observation keeps notifying', async () => {
    const t = await setup(true);
    cleanup.push(t.close);
    await t.bump();
    await until(() => t.seen.length === 2);
    expect(t.seen).toEqual(['0', '1']);

    // The NAT hands the device a new source port: a new socket, the old one gone.
    const second = await UdpTransport.bind({ port: 0 });
    t.client.setTransport(second);
    await t.first.close();

    const res = await t.device.request(t.serverPeer, { path: 'ping' });
    expect(res.payload.toString()).toBe('pong');
    const session = t.dtls.sessions()[0];
    expect(session.peer.port).toBe(second.address().port);
    expect(t.dtls.counters.peerAddressUpdates).toBe(1);

    await t.bump();
    await until(() => t.seen.length === 3);
    expect(t.seen).toEqual(['0', '1', '2']);
    expect(t.dtls.counters.handshakesCompleted).toBe(1);
    expect(t.client.counters.handshakesStarted).toBe(1);
    expect(t.server.listObservers('counter')).toHaveLength(1);
  });

  it('without a CID: records from the new port are dropped, and only a new handshake gets through', async () => {
    const t = await setup(false);
    cleanup.push(t.close);
    expect(t.client.session(t.serverPeer)!.peerCid).toBeUndefined();

    const second = await UdpTransport.bind({ port: 0 });
    t.client.setTransport(second);
    await t.first.close();

    const dropped = t.dtls.counters.droppedNoSession;
    await expect(t.device.request(t.serverPeer, { path: 'ping' }, { timeout: 600 })).rejects.toThrow();
    expect(t.dtls.counters.droppedNoSession).toBeGreaterThan(dropped);
    expect(t.dtls.counters.peerAddressUpdates).toBe(0);

    await t.client.reconnect(t.serverPeer);
    const res = await t.device.request(t.serverPeer, { path: 'ping' });
    expect(res.payload.toString()).toBe('pong');
    expect(t.dtls.counters.handshakesCompleted).toBe(2);
    // The old session's observation is bound to the old address: a notification goes nowhere useful.
    await t.bump();
    await new Promise((r) => setTimeout(r, 100));
    expect(t.seen).toEqual(['0']);
  });
});
