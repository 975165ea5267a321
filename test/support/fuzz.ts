// Seeded fuzzing of decoders that read network input. The contract every such decoder keeps:
// for any bytes it returns a value or throws the one typed error class (DecodeError by default);
// nothing else escapes, it never hangs, and it never allocates much more than the input's size.
import { DecodeError } from '@lwm2m/bytes';

export interface FuzzOptions {
  /** Name used in failure messages. */
  name: string;
  /** The decoder under test. */
  decode: (input: Buffer) => unknown;
  /** Valid encodings to mutate (captured bytes, RFC examples, encoder output). */
  seeds: Buffer[];
  /** Inputs to try; the acceptance floor is 100k per decoder per CI run. */
  runs?: number;
  /** PRNG seed: the same seed replays the same inputs. */
  seed?: number;
  /** The error class the decoder may throw. */
  errorClass?: abstract new (...args: never[]) => Error;
  /** An input taking longer than this is reported as a hang (a guard, not a speed goal). */
  hangMs?: number;
  /** Bytes an input may cost beyond `allocFactor` times its size, checked on large inputs. */
  allocSlack?: number;
  allocFactor?: number;
}

export interface FuzzReport {
  runs: number;
  accepted: number;
  rejected: number;
  /** Distinct DecodeError reasons seen: proof the mutations reach deep into the decoder. */
  reasons: Set<string>;
  maxAllocBytes: number;
}

/** mulberry32: small, fast, good enough to drive mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0x00, 0x01, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x7f, 0x80, 0xc0, 0xe0, 0xfe, 0xff];

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

function pickLength(rand: () => number): number {
  const r = rand();
  if (r < 0.6) return (rand() * 32) | 0;
  if (r < 0.95) return (rand() * 1500) | 0;
  if (r < 0.999) return (rand() * 8192) | 0;
  return 65507; // the largest UDP payload
}

/** One mutation of a seed: bit flips, interesting bytes, insertions, deletions, truncation, splices. */
export function mutate(rand: () => number, seed: Buffer, seeds: Buffer[]): Buffer {
  let b = Buffer.from(seed);
  const rounds = 1 + ((rand() * 4) | 0);
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : (rand() * b.length) | 0;
    switch ((rand() * 8) | 0) {
      case 0:
        if (b.length) b[at] ^= 1 << ((rand() * 8) | 0);
        break;
      case 1:
        if (b.length) b[at] = INTERESTING[(rand() * INTERESTING.length) | 0];
        break;
      case 2:
        if (b.length) b[at] = (rand() * 256) | 0;
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), randomBytes(rand, 1 + ((rand() * 8) | 0)), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + ((rand() * 8) | 0)))]);
        break;
      case 5:
        b = b.subarray(0, at);
        break;
      case 6: {
        const other = seeds[(rand() * seeds.length) | 0];
        const cut = (rand() * (other.length + 1)) | 0;
        b = Buffer.concat([b.subarray(0, at), other.subarray(cut)]);
        break;
      }
      default: {
        // duplicate a chunk: repeated structures stress length and count handling
        const len = Math.min(b.length - at, 1 + ((rand() * 16) | 0));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
      }
    }
  }
  return b;
}

declare const gc: undefined | (() => void);

function memNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export function fuzzDecoder(opts: FuzzOptions): FuzzReport {
  const runs = opts.runs ?? 100_000;
  const rand = prng(opts.seed ?? 0x5eed);
  const errorClass = opts.errorClass ?? DecodeError;
  const hangMs = opts.hangMs ?? 2_000;
  const allocFactor = opts.allocFactor ?? 16;
  const allocSlack = opts.allocSlack ?? 512 * 1024;
  const seeds = opts.seeds.length ? opts.seeds : [Buffer.alloc(0)];
  const report: FuzzReport = { runs, accepted: 0, rejected: 0, reasons: new Set(), maxAllocBytes: 0 };
  const canMeasure = typeof gc === 'function';

  for (let i = 0; i < runs; i++) {
    const input =
      rand() < 0.3
        ? randomBytes(rand, pickLength(rand))
        : mutate(rand, seeds[(rand() * seeds.length) | 0], seeds);
    // Every large input, and a sample of the others, is measured for allocation.
    const measure = canMeasure && (input.length >= 8192 || i % 5000 === 0);
    let before = 0;
    if (measure) {
      gc!();
      before = memNow();
    }
    const started = performance.now();
    let result: unknown;
    try {
      result = opts.decode(input);
      report.accepted++;
    } catch (e) {
      if (!(e instanceof errorClass)) {
        throw new Error(
          `${opts.name}: input #${i} threw ${(e as Error)?.name}: ${(e as Error)?.message}\n` +
            `input (${input.length} bytes): ${input.subarray(0, 256).toString('hex')}`,
          { cause: e },
        );
      }
      if (!(e as Error).message)
        throw new Error(`${opts.name}: input #${i} threw an error without a message`);
      const reason = (e as { reason?: unknown }).reason;
      if (typeof reason === 'string') report.reasons.add(reason);
      report.rejected++;
    }
    const took = performance.now() - started;
    if (measure) {
      const used = memNow() - before;
      report.maxAllocBytes = Math.max(report.maxAllocBytes, used);
      if (used > allocFactor * input.length + allocSlack) {
        throw new Error(
          `${opts.name}: input #${i} of ${input.length} bytes allocated ${used} bytes ` +
            `(limit ${allocFactor}x + ${allocSlack})\ninput: ${input.subarray(0, 256).toString('hex')}`,
        );
      }
    }
    void result;
    if (took > hangMs) {
      throw new Error(
        `${opts.name}: input #${i} took ${took.toFixed(0)} ms: ${input.subarray(0, 256).toString('hex')}`,
      );
    }
  }
  return report;
}
