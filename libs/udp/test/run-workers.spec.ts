// GATEWAY_WORKERS (issue 12 item 4) on real sockets and real worker threads: the main thread owns the UDP
// port and moves datagrams to N workers and back (fixtures/echo-worker.ts answers "w<index>:<datagram>").
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { addressWorker, runWorkers, UdpTransport, type WorkerPool } from '@lwm2m/udp';

const ECHO = join(__dirname, 'fixtures/echo-worker.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(5))
    if (Date.now() > end) throw new Error('timed out waiting');
}

/** A device socket that keeps what it hears, with the time it heard it. */
async function device(): Promise<{ udp: UdpTransport; heard: { text: string; at: number }[] }> {
  const udp = await UdpTransport.bind({ port: 0 });
  const heard: { text: string; at: number }[] = [];
  udp.onDatagram((data) => heard.push({ text: data.toString('latin1'), at: performance.now() }));
  return { udp, heard };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function pool(
  workers: number,
  extra: Partial<Parameters<typeof runWorkers>[0]> = {},
): Promise<WorkerPool> {
  const p = await runWorkers({
    workers,
    entry: ECHO,
    // the kernel's default buffer (about 270 small datagrams) would drop bursts before we see them
    ports: [{ name: 'udp', port: 0, recvBufferSize: 4 * 1024 * 1024 }],
    ...extra,
  });
  cleanup.push(() => p.close());
  await p.ready();
  return p;
}

describe('runWorkers: one port, N worker threads', () => {
  it('delivers and answers every datagram of many sources through 2 workers, each flow on one worker', async () => {
    const p = await pool(2);
    const to = p.addresses.udp!;
    const devices = await Promise.all(Array.from({ length: 40 }, () => device()));
    cleanup.push(() => Promise.all(devices.map((d) => d.udp.close())));
    for (let k = 0; k < 10; k++)
      for (const [i, d] of devices.entries()) void d.udp.send(Buffer.from(`d${i}-${k}`), to);
    await until(() => devices.every((d) => d.heard.length === 10));

    const workersSeen = new Set<string>();
    for (const [i, d] of devices.entries()) {
      const expected = addressWorker('127.0.0.1', d.udp.address().port, 2);
      // every answer of this source came from the worker its address and port hash to
      expect(new Set(d.heard.map((h) => h.text.split(':')[0]))).toEqual(new Set([`w${expected}`]));
      expect(d.heard.map((h) => h.text.split(':')[1]).sort()).toEqual(
        Array.from({ length: 10 }, (_, k) => `d${i}-${k}`).sort(),
      );
      workersSeen.add(`w${expected}`);
    }
    expect(workersSeen).toEqual(new Set(['w0', 'w1'])); // both did work (40 sources: 2^-39 otherwise)
    expect(p.dispatcher.counters.dispatched).toBe(400);
    expect(p.dispatcher.counters.sent).toBe(400);
  });

  it('survives malformed, empty and oversized datagrams and keeps answering', async () => {
    const p = await pool(2);
    const to = p.addresses.udp!;
    const d = await device();
    cleanup.push(() => d.udp.close());
    for (const junk of [
      Buffer.alloc(0),
      Buffer.from([25]),
      Buffer.from([25, 0xfe, 0xfd, 0, 1]),
      Buffer.alloc(60_000, 0xff),
    ])
      await d.udp.send(junk, to);
    await d.udp.send(Buffer.from('still-there'), to);
    await until(() => d.heard.some((h) => h.text.endsWith(':still-there')));
    expect(d.heard.length).toBe(5); // the empty one and the 60 kB one were carried too
  });

  it('keeps a quiet device served while another source floods the same worker', async () => {
    // one worker, 200 us of work per datagram: about 5,000 datagrams/s, far below the flood; 64 in flight to
    // it at most (about 13 ms of its work). With no bound the quiet device got 13 of 40 answers in 5 s.
    const p = await pool(1, { data: { spinUs: 200 }, maxInFlight: 64 });
    const to = p.addresses.udp!;
    const quiet = await device();
    cleanup.push(() => quiet.udp.close());
    // The flood comes from a thread of its own (as it would from another host), from one socket.
    const flood = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const s = require('node:dgram').createSocket('udp4');
       let heard = 0, stop = false;
       s.on('message', () => heard++);
       parentPort.on('message', () => { stop = true; parentPort.postMessage(heard); s.close(); });
       const junk = Buffer.alloc(40, 1);
       s.bind(0, '127.0.0.1', function burst() {
         if (stop) return;
         for (let i = 0; i < 100; i++) s.send(junk, workerData.port, '127.0.0.1');
         setTimeout(burst, 1);
       });`,
      { eval: true, workerData: { port: to.port } },
    );
    cleanup.push(() => flood.terminate());
    await sleep(300); // the flood has filled everything it can
    const sentAt: number[] = [];
    for (let k = 0; k < 40; k++) {
      sentAt.push(performance.now());
      await quiet.udp.send(Buffer.from(`q${k}`), to);
      await sleep(10);
    }
    await until(() => quiet.heard.length === 40, 5000).catch(() => undefined);
    flood.postMessage('stop');
    const floodHeard = await new Promise<number>((r) => flood.once('message', r));
    const latencies = quiet.heard
      .map((h) => h.at - sentAt[Number(h.text.split(':q')[1])]!)
      .sort((a, b) => a - b);
    // every quiet datagram answered, promptly: the flood waits in its own bounded queue (and is dropped
    // there), not in the worker's port ahead of the quiet device
    expect(quiet.heard.length).toBe(40);
    expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThan(250);
    expect(p.dispatcher.receiveDrops.source).toBeGreaterThan(0);
    expect(floodHeard).toBeGreaterThan(100); // the flood is served too, at its share
  });

  it('restarts a worker that crashed; the process and the other worker carry on', async () => {
    const p = await pool(2, { restartDelayMs: 300 }); // down for 600 ms (it died young: doubled)
    const to = p.addresses.udp!;
    const devices = await Promise.all(Array.from({ length: 16 }, () => device()));
    cleanup.push(() => Promise.all(devices.map((d) => d.udp.close())));
    const on = (w: number) => devices.find((d) => addressWorker('127.0.0.1', d.udp.address().port, 2) === w)!;
    const victim = on(0);
    const bystander = on(1);
    const thread0 = p.threadId(0);

    await victim.udp.send(Buffer.from('crash'), to);
    await until(() => p.threadId(0) === undefined);
    // while worker 0 is down, worker 1's devices are answered
    await bystander.udp.send(Buffer.from('during'), to);
    await until(() => bystander.heard.some((h) => h.text === 'w1:during'));

    await until(() => p.counters.restarts === 1 && p.dispatcher.isReady(0));
    expect(p.threadId(0)).not.toBe(thread0);
    await victim.udp.send(Buffer.from('after'), to);
    await until(() => victim.heard.some((h) => h.text === 'w0:after'));
  });

  it('fails ready() when an entry cannot start, instead of waiting forever', async () => {
    const p = await runWorkers({
      workers: 1,
      entry: join(__dirname, 'fixtures/no-such-entry.ts'),
      ports: [{ name: 'udp', port: 0 }],
      restartDelayMs: 20,
    });
    cleanup.push(() => p.close());
    await expect(p.ready()).rejects.toThrow(/worker 0 exited .* before it was ready/);
  });
});
