// The batches between the main thread and its workers (worker-batch.ts), and the gate of the fair queue that
// holds a busy worker's datagrams per source.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchWriter, FairReceiveQueue, readBatch } from '@lwm2m/udp';

describe('datagram batches', () => {
  it('carry port index, address, port and bytes of every datagram, in order, in one transferable buffer', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            portIndex: fc.integer({ min: 0, max: 255 }),
            address: fc.oneof(fc.ipV4(), fc.ipV6()),
            port: fc.integer({ min: 0, max: 65535 }),
            data: fc.uint8Array({ maxLength: 300 }),
          }),
          { maxLength: 50 },
        ),
        (entries) => {
          const w = new BatchWriter();
          for (const e of entries)
            expect(w.push(e.portIndex, e.address, e.port, Buffer.from(e.data))).toBe(true);
          const batch = w.take();
          if (entries.length === 0) return batch === undefined;
          expect(batch!.buffer.byteLength).toBeGreaterThanOrEqual(batch!.length);
          const out: typeof entries = [];
          readBatch(batch!, (portIndex, address, port, data) =>
            out.push({ portIndex, address, port, data: new Uint8Array(data) }),
          );
          expect(out).toEqual(entries);
          return w.take() === undefined; // the writer starts over
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuse what the layout cannot carry, and a truncated batch reads up to the break', () => {
    const w = new BatchWriter();
    expect(w.push(0, '127.0.0.1', 1, Buffer.alloc(70_000))).toBe(false);
    expect(w.push(256, '127.0.0.1', 1, Buffer.alloc(1))).toBe(false);
    expect(w.push(0, '127.0.0.1', 1, Buffer.from('a'))).toBe(true);
    expect(w.push(0, '127.0.0.1', 2, Buffer.from('b'))).toBe(true);
    const batch = w.take()!;
    const seen: string[] = [];
    readBatch({ buffer: batch.buffer, length: batch.length - 1 }, (_i, _a, _p, d) => seen.push(d.toString()));
    expect(seen).toEqual(['a']);
    // arbitrary bytes: no throw
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const copy = new Uint8Array(bytes);
        readBatch({ buffer: copy.buffer, length: copy.length + 10 }, () => undefined);
      }),
    );
  });
});

describe('FairReceiveQueue gate', () => {
  it('delivers nothing while closed and resumes where it stopped', async () => {
    let open = false;
    const got: string[] = [];
    const q = new FairReceiveQueue((d) => got.push(d.toString()), { gate: () => open });
    q.push(Buffer.from('a'), '127.0.0.1', 1, 'IPv4');
    q.push(Buffer.from('b'), '127.0.0.1', 2, 'IPv4');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
    open = true;
    q.resume();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['a', 'b']);
  });
});
