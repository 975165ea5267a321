// Our client against our server over real UDP sockets on 127.0.0.1: PSK and ECDHE, with and without CID.
import { afterEach, describe, expect, it } from 'vitest';
import { UdpTransport } from '@lwm2m/udp';
import {
  DtlsClient,
  DtlsServer,
  InMemorySessionCache,
  type DtlsClientOptions,
  type DtlsServerOptions,
} from '@lwm2m/dtls';

const KEY = Buffer.from('secretPSK');

async function pair(server: Partial<DtlsServerOptions> = {}, client: Partial<DtlsClientOptions> = {}) {
  const st = await UdpTransport.bind({ port: 0 });
  const srv = new DtlsServer({
    transport: st,
    psk: (id) => (id.toString() === 'dev1' ? KEY : undefined),
    ...server,
  });
  const ct = await UdpTransport.bind({ port: 0 });
  const cli = new DtlsClient({ transport: ct, psk: { identity: 'dev1', key: KEY }, ...client });
  const addr = st.address();
  return { srv, cli, addr, ct, st };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

describe('DtlsClient against DtlsServer (PSK)', () => {
  it('completes a PSK handshake with CID and exchanges application data both ways', async () => {
    const { srv, cli, addr } = await pair();
    open.push(srv, cli);
    const got: string[] = [];
    srv.onDatagram((data, peer) => {
      got.push(data.toString());
      void srv.send(Buffer.from(`echo ${data.toString()}`), peer);
    });
    const replies: string[] = [];
    const reply = new Promise<void>((resolve) =>
      cli.onDatagram((d) => {
        replies.push(d.toString());
        resolve();
      }),
    );
    await cli.send(Buffer.from('hello'), addr);
    await reply;
    expect(got).toEqual(['hello']);
    expect(replies).toEqual(['echo hello']);
    const s = cli.session(addr)!;
    expect(s.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(s.peerCid?.length).toBe(8);
    const ss = srv.sessions()[0];
    expect(ss.identity).toEqual({ type: 'psk', identity: 'dev1' });
    expect(ss.ref).toEqual({ kind: 'cid', cid: s.peerCid });
    expect(ss.key).toBe(`coaps:cid:${s.peerCid!.toString('hex')}`);
    expect(srv.counters.handshakesCompleted).toBe(1);
    expect(srv.counters.helloVerifyRequests).toBe(1);
  });

  it('fails an unknown identity with decrypt_error, like a wrong key (RFC 4279 section 2), counting it apart', async () => {
    const { srv, cli, addr } = await pair({}, { psk: { identity: 'nobody', key: KEY } });
    open.push(srv, cli);
    await expect(cli.connect(addr)).rejects.toThrow(/decrypt_error/);
    expect(srv.counters.handshakesFailed).toBe(1);
    expect(srv.counters.pskUnknownIdentities).toBe(1);
    expect(srv.counters.sessions).toBe(0);
  });

  it('resumes a cached session with an abbreviated handshake', async () => {
    const cache = new InMemorySessionCache();
    const { srv, cli, addr } = await pair({ sessionCache: cache });
    open.push(srv, cli);
    await cli.connect(addr);
    cli.closeSession(addr);
    const s = await cli.connect(addr);
    expect(s.resumed).toBe(true);
    await until(() => srv.counters.handshakesResumed === 1);
    expect(srv.counters.handshakesResumed).toBe(1);
    expect(srv.counters.handshakesCompleted).toBe(2);
  });

  it('waits for a slow PSK lookup and a slow session cache, handling the records behind them in order', async () => {
    const later = <T>(v: T): Promise<T> => new Promise((r) => setTimeout(() => r(v), 20));
    const inner = new InMemorySessionCache();
    const cache = {
      get: (id: string) => later(inner.get(id)),
      set: (s: Parameters<InMemorySessionCache['set']>[0]) => later(inner.set(s)),
      delete: (id: string) => later(inner.delete(id)),
    };
    const { srv, cli, addr } = await pair({
      psk: (id) => later(id.toString() === 'dev1' ? KEY : undefined),
      sessionCache: cache,
    });
    open.push(srv, cli);
    srv.onDatagram((data, peer) => void srv.send(Buffer.from(`echo ${data.toString()}`), peer));
    const replies: string[] = [];
    cli.onDatagram((d) => replies.push(d.toString()));
    await cli.send(Buffer.from('one'), addr);
    await until(() => replies.length === 1);
    cli.closeSession(addr);
    expect((await cli.connect(addr)).resumed).toBe(true);
    await cli.send(Buffer.from('two'), addr);
    await until(() => replies.length === 2);
    expect(replies).toEqual(['echo one', 'echo two']);
    expect(srv.counters.handshakesResumed).toBe(1);
    expect(srv.counters.droppedRecords).toBe(0);
  });
});
