// The handshake under loss and small MTUs (RFC 6347 sections 4.2.3-4.2.4), reassembly in any order,
// session snapshots moved to another server process, and ECDHE_ECDSA with raw public keys and X.509.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '@lwm2m/transport';
import {
  decodeRecords,
  DtlsClient,
  DtlsServer,
  encodeHandshake,
  fragmentHandshake,
  HandshakeReassembler,
  decodeHandshakeFragments,
} from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';

const KEY = Buffer.from('hs-psk');
const SERVER = { address: '127.0.0.1', port: 5684 };

const cleanup: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c.close();
});

function memoryPair(
  net: MemoryNetwork,
  clientOpts: Record<string, unknown> = {},
  serverOpts: Record<string, unknown> = {},
) {
  const server = new DtlsServer({
    transport: net.transport('127.0.0.1', 5684),
    psk: () => KEY,
    retransmit: { initialMs: 50 },
    ...serverOpts,
  });
  const client = new DtlsClient({
    transport: net.transport('127.0.0.1', 40000),
    psk: { identity: 'x', key: KEY },
    retransmit: { initialMs: 50 },
    ...clientOpts,
  });
  cleanup.push(server, client);
  return { server, client };
}

describe('handshake flights', () => {
  it('retransmits lost flights (timer doubling) and still completes', async () => {
    const net = new MemoryNetwork();
    let n = 0;
    // lose the first two datagrams of each direction
    const lost = new Map<number, number>();
    net.drop = (_d, from) => {
      n++;
      const c = lost.get(from.port) ?? 0;
      lost.set(from.port, c + 1);
      return c < 2;
    };
    const { server, client } = memoryPair(net);
    const s = await client.connect(SERVER);
    expect(s.established).toBe(true);
    expect(client.counters.retransmissions + server.counters.retransmissions).toBeGreaterThan(0);
    expect(n).toBeGreaterThan(6);
  });

  it('fragments flights to the MTU and reassembles them (ECDHE with an X.509 chain at MTU 200)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtls-x509-'));
    const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ca.key'));
    ossl(
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'ca.key'),
      '-subj',
      '/CN=test-ca',
      '-days',
      '2',
      '-out',
      join(dir, 'ca.pem'),
    );
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'srv.key'));
    ossl(
      'req',
      '-new',
      '-key',
      join(dir, 'srv.key'),
      '-subj',
      '/CN=lwm2m-server',
      '-out',
      join(dir, 'srv.csr'),
    );
    ossl(
      'x509',
      '-req',
      '-in',
      join(dir, 'srv.csr'),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      join(dir, 'srv.pem'),
    );
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'dev.key'));
    ossl('req', '-new', '-key', join(dir, 'dev.key'), '-subj', '/CN=device-42', '-out', join(dir, 'dev.csr'));
    ossl(
      'x509',
      '-req',
      '-in',
      join(dir, 'dev.csr'),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      join(dir, 'dev.pem'),
    );
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    const net = new MemoryNetwork();
    const { server, client } = memoryPair(
      net,
      {
        psk: undefined,
        trustAnchors: [read('ca.pem')],
        certificate: { privateKey: read('dev.key'), chain: [read('dev.pem')] },
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
        mtu: 200,
      },
      {
        certificate: { privateKey: read('srv.key'), chain: [read('srv.pem'), read('ca.pem')] },
        trustAnchors: [read('ca.pem')],
        mtu: 200,
      },
    );
    const s = await client.connect(SERVER);
    expect(s.cipherSuite).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    expect(s.identity).toMatchObject({ type: 'x509', subject: 'CN=lwm2m-server' });
    await new Promise((r) => setTimeout(r, 20));
    expect(server.sessions()[0].identity).toMatchObject({ type: 'x509', subject: 'CN=device-42' });
    expect(Math.max(...net.log.map((e) => e.data.length))).toBeLessThanOrEqual(200);
    const fragmented = net.log.some((e) =>
      decodeRecords(e.data, e.to.port === 5684 ? 8 : 0).some(
        (r) =>
          r.type === 22 &&
          r.epoch === 0 &&
          decodeHandshakeFragments(r.fragment).some((f) => f.body.length < f.length),
      ),
    );
    expect(fragmented).toBe(true);
  });

  it('completes ECDHE_ECDSA with raw public keys (RFC 7250) on both sides', async () => {
    const net = new MemoryNetwork();
    const serverKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const deviceSpki = deviceKey.publicKey.export({ type: 'spki', format: 'der' });
    const serverSpki = serverKey.publicKey.export({ type: 'spki', format: 'der' });
    const { server, client } = memoryPair(
      net,
      {
        psk: undefined,
        certificate: { privateKey: deviceKey.privateKey },
        verifyRawPublicKey: (spki: Buffer) => spki.equals(serverSpki),
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
      },
      {
        certificate: { privateKey: serverKey.privateKey },
        verifyRawPublicKey: (spki: Buffer) => spki.equals(deviceSpki),
      },
    );
    const s = await client.connect(SERVER);
    expect(s.cipherSuite).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
    await new Promise((r) => setTimeout(r, 20));
    expect(server.sessions()[0].identity).toEqual({ type: 'rpk', publicKey: deviceSpki });
  });

  it('refuses a raw public key the server does not know with access_denied', async () => {
    const net = new MemoryNetwork();
    const serverKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { client } = memoryPair(
      net,
      {
        psk: undefined,
        certificate: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey },
        verifyRawPublicKey: () => true,
      },
      { certificate: { privateKey: serverKey.privateKey }, verifyRawPublicKey: () => false },
    );
    await expect(client.connect(SERVER)).rejects.toThrow(/access_denied/);
  });
});

describe('reassembly (RFC 6347 section 4.2.3)', () => {
  it('delivers messages in message_seq order from shuffled, overlapping fragments', () => {
    const r = new HandshakeReassembler();
    const m0 = encodeHandshake(1, 0, Buffer.alloc(300, 0xaa));
    const m1 = encodeHandshake(11, 1, Buffer.from(Array.from({ length: 500 }, (_, i) => i & 0xff)));
    const frags = [...fragmentHandshake(m1, 70), ...fragmentHandshake(m0, 64), ...fragmentHandshake(m1, 130)];
    for (let i = frags.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [frags[i], frags[j]] = [frags[j], frags[i]];
    }
    const out: Buffer[] = [];
    for (const f of frags) {
      for (const d of decodeHandshakeFragments(f)) r.add(d);
      for (let m = r.next(); m; m = r.next()) out.push(encodeHandshake(m.msgType, m.messageSeq, m.body));
    }
    expect(out).toEqual([m0, m1]);
  });
});

describe('session snapshot', () => {
  it('a restored server session on a new process-equivalent continues with the client, no handshake', async () => {
    const st = await UdpTransport.bind({ port: 0 });
    const port = st.address().port;
    const a = new DtlsServer({ transport: st, psk: () => KEY });
    const ct = await UdpTransport.bind({ port: 0 });
    const sent: Buffer[] = [];
    const send = ct.send.bind(ct);
    ct.send = (d, p) => {
      sent.push(d);
      return send(d, p);
    };
    const client = new DtlsClient({ transport: ct, psk: { identity: 'moved', key: KEY } });
    cleanup.push(client);
    const echo = (srv: DtlsServer, tag: string) =>
      srv.onDatagram((d, p) => void srv.send(Buffer.from(`${tag}:${d.toString()}`), p));
    echo(a, 'A');
    const replies: string[] = [];
    client.onDatagram((d) => replies.push(d.toString()));
    await client.send(Buffer.from('one'), { address: '127.0.0.1', port });
    for (let i = 0; i < 100 && replies.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const snapshot = JSON.parse(JSON.stringify(a.snapshotSession(a.sessions()[0].ref)));
    await a.close({ notifyPeers: false });

    const b = new DtlsServer({ transport: await UdpTransport.bind({ port }), psk: () => KEY });
    cleanup.push(b);
    echo(b, 'B');
    const restored = b.restoreSession(snapshot);
    expect(restored.identity).toEqual({ type: 'psk', identity: 'moved' });
    await client.send(Buffer.from('two'), { address: '127.0.0.1', port });
    for (let i = 0; i < 100 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(replies).toEqual(['A:one', 'B:two']);
    expect(b.counters.handshakesStarted).toBe(0);
    expect(client.counters.handshakesStarted).toBe(1);
    // the replay window came along: the client's first application record, replayed from elsewhere, is dropped
    const raw = await UdpTransport.bind({ port: 0 });
    cleanup.push(raw);
    const first = sent.find((d) => d[0] === 25 && d.readUInt16BE(3) === 1)!;
    await raw.send(first, { address: '127.0.0.1', port });
    for (let i = 0; i < 100 && b.counters.droppedReplay === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(b.counters.droppedReplay).toBe(1);
    expect(b.counters.peerAddressUpdates).toBe(0);
  });
});
