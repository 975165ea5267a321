// GATEWAY_WORKERS with DTLS: a record of a session goes to the worker that holds it, by the worker index in its
// CID (cid.ts, layout version 2), also after a NAT rebinding moved the device to an address that hashes to
// another worker: the in-process twin of the cluster's CID forwarding. Real sockets, real worker threads, a
// libs/dtls server in each worker and libs/dtls clients as devices.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cidGenerator, workerOfCid, workerOfDatagram, workerOfSession } from '@lwm2m/cluster';
import { DtlsClient } from '@lwm2m/dtls';
import { addressWorker, runWorkers, UdpTransport } from '@lwm2m/udp';

const ENTRY = join(__dirname, 'fixtures/dtls-worker.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(5))
    if (Date.now() > end) throw new Error('timed out waiting');
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('DTLS CID records across worker threads', () => {
  it('reach the worker owning the session after a NAT rebinding to an address hashed to another worker', async () => {
    const pool = await runWorkers({
      workers: 2,
      entry: ENTRY,
      ports: [
        {
          name: 'coaps',
          port: 0,
          recvBufferSize: 1024 * 1024,
          route: (data, _peer, workers) => workerOfDatagram(data, 8, workers),
          fairness: { prioritize: (data) => data[0] === 25 },
        },
      ],
    });
    cleanup.push(() => pool.close());
    await pool.ready();
    const server = pool.addresses.coaps!;

    // Junk first: tls12_cid headers cut short, naming a worker that does not exist, random bytes.
    const junk = await UdpTransport.bind({ port: 0 });
    const cidHeader = [25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1];
    for (const d of [
      Buffer.from(cidHeader),
      Buffer.from([...cidHeader, 2, 0, 0, 200, 1, 2, 3, 4, 0, 3, 1, 2, 3]),
      Buffer.from([...cidHeader, 2, 0, 0, 1]),
      Buffer.alloc(0),
      randomBytes(300),
    ])
      await junk.send(d, server);
    await junk.close();

    const devices = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const first = await UdpTransport.bind({ port: 0 });
        const client = new DtlsClient({
          transport: first,
          psk: { identity: `device-${i}`, key: Buffer.from('worker-psk') },
          connectionId: true,
        });
        const heard: string[] = [];
        client.onDatagram((data) => heard.push(data.toString()));
        cleanup.push(() => client.close());
        return { client, first, heard };
      }),
    );
    const owners: number[] = [];
    for (const [i, d] of devices.entries()) {
      const session = await d.client.connect(server);
      // the handshake went by address; the CID the worker issued names that worker
      const owner = workerOfCid(session.peerCid!)!;
      expect(owner).toBe(addressWorker('127.0.0.1', d.first.address().port, 2));
      owners.push(owner);
      await d.client.send(Buffer.from(`hello-${i}`), server);
      await until(() => d.heard.includes(`w${owner}:hello-${i}`));
    }

    for (const [i, d] of devices.entries()) {
      // The NAT gives the device a new port, one whose hash names the other worker.
      let next = await UdpTransport.bind({ port: 0 });
      while (addressWorker('127.0.0.1', next.address().port, 2) === owners[i]) {
        await next.close();
        next = await UdpTransport.bind({ port: 0 });
      }
      const sessionId = d.client.session(server)!.sessionId;
      d.client.setTransport(next);
      await d.first.close();
      await d.client.send(Buffer.from(`again-${i}`), server);
      await until(() => d.heard.includes(`w${owners[i]}:again-${i}`));
      // the same session carried on: no new handshake
      expect(d.client.session(server)!.sessionId.equals(sessionId)).toBe(true);
    }
    expect(pool.dispatcher.counters.unavailable).toBe(0);
    expect(pool.counters.restarts).toBe(0); // the junk crashed nothing
  });
});

describe('the worker of a session (commands go where its records go)', () => {
  it('is the worker its CID names, and for any other CID the one its records are placed on', () => {
    const record = (cid: Buffer) =>
      Buffer.concat([Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7]), cid, Buffer.from([0, 0])]);
    for (let w = 0; w < 4; w++) {
      const cid = cidGenerator(3, w)(8);
      expect(workerOfSession(cid, 4)).toBe(w);
      expect(workerOfDatagram(record(cid), 8, 4)).toBe(w);
    }
    // A CID naming worker 5 of a pool now 4 wide, a v1 CID, random bytes: placed by their bytes, alike.
    for (const cid of [cidGenerator(3, 5)(8), cidGenerator(3)(8), randomBytes(8)]) {
      const w = workerOfSession(cid, 4);
      expect(w).toBeGreaterThanOrEqual(0);
      expect(w).toBeLessThan(4);
      expect(workerOfDatagram(record(cid), 8, 4)).toBe(w);
    }
  });
});
