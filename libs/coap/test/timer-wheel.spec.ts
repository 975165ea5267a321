// The endpoint's one timer (timer-wheel.ts) and the pooled token source (token-source.ts), with fake timers.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeriodicSweep, TimerWheel } from '../src/timer-wheel';
import { TokenSource, tokenKey } from '../src/token-source';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('TimerWheel', () => {
  it('fires an entry at its time, never before, and at most one slot late', async () => {
    const w = new TimerWheel(10);
    const fired: number[] = [];
    const start = Date.now();
    w.schedule(2000, () => fired.push(Date.now() - start));
    w.schedule(2003, () => fired.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(1999);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual([2000]);
    await vi.advanceTimersByTimeAsync(9);
    expect(fired).toEqual([2000]);
    await vi.advanceTimersByTimeAsync(1);
    // 2003 falls in the slot ending at 2010: late by less than the granularity, never early.
    expect(fired).toEqual([2000, 2010]);
    expect(w.size).toBe(0);
  });

  it('runs 1,000 entries on one setTimeout, and none after cancel', async () => {
    const w = new TimerWheel(10);
    let fired = 0;
    const entries = Array.from({ length: 1000 }, (_, i) => w.schedule(1000 + (i % 300) * 7, () => fired++));
    expect(w.size).toBe(1000);
    expect(vi.getTimerCount()).toBe(1);
    for (const e of entries.slice(0, 500)) e.cancel();
    expect(w.size).toBe(500);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fired).toBe(500);
    expect(w.size).toBe(0);
    // Idle: nothing armed any more.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('re-arms for an entry earlier than the armed one', async () => {
    const w = new TimerWheel(10);
    const order: string[] = [];
    w.schedule(5000, () => order.push('late'));
    w.schedule(100, () => order.push('early'));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(['early']);
    await vi.advanceTimersByTimeAsync(4900);
    expect(order).toEqual(['early', 'late']);
  });

  it('does not run an entry that an earlier callback of the same slot cancelled', async () => {
    const w = new TimerWheel(10);
    const ran: string[] = [];
    const second = { cancel: () => undefined } as { cancel(): void };
    w.schedule(10, () => {
      ran.push('first');
      second.cancel();
    });
    const e = w.schedule(10, () => ran.push('second'));
    second.cancel = () => e.cancel();
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toEqual(['first']);
    expect(w.size).toBe(0);
  });

  it('keeps running the slot when a callback throws, and counts it', async () => {
    const w = new TimerWheel(10);
    let ran = false;
    w.schedule(10, () => {
      throw new Error('boom');
    });
    w.schedule(10, () => (ran = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toBe(true);
    expect(w.errors).toBe(1);
  });

  it('stop() cancels everything, clears the timer and refuses new entries', async () => {
    const w = new TimerWheel(10);
    let fired = 0;
    w.schedule(50, () => fired++);
    w.stop();
    expect(vi.getTimerCount()).toBe(0);
    w.schedule(10, () => fired++);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toBe(0);
    expect(w.size).toBe(0);
  });

  it('does not keep the process alive (the timer is unref’d)', () => {
    vi.useRealTimers();
    const w = new TimerWheel(10);
    w.schedule(60_000, () => undefined);
    const t = (w as unknown as { timer: { hasRef(): boolean } }).timer;
    expect(t.hasRef()).toBe(false);
    w.stop();
  });
});

describe('PeriodicSweep', () => {
  it('sweeps every interval while something is left, then stops', async () => {
    const w = new TimerWheel(10);
    const s = new PeriodicSweep(w, 1000);
    let left = 3;
    let runs = 0;
    s.add(() => {
      runs++;
      left--;
      return left > 0;
    });
    s.poke();
    s.poke();
    expect(w.size).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(3);
    expect(w.size).toBe(0);
  });
});

describe('TokenSource (RFC 7252 section 5.3.1)', () => {
  it('draws random bytes in 4 KiB blocks and hands out distinct copies', () => {
    let calls = 0;
    const src = new TokenSource((n) => {
      calls++;
      return randomBytes(n);
    });
    const tokens = Array.from({ length: 1024 }, () => src.take(8));
    // 1,024 tokens of 8 bytes: two blocks of 4 KiB, not 1,024 calls.
    expect(calls).toBe(2);
    // Slices of a random block do not overlap: all distinct (a collision of 64-bit values: ~2^-44).
    expect(new Set(tokens.map(tokenKey)).size).toBe(1024);
    const first = Buffer.from(tokens[0]!);
    src.take(4096);
    expect(tokens[0]!.equals(first)).toBe(true);
    expect(tokens.every((t) => t.length === 8)).toBe(true);
  });

  it('keys tokens by their hex, the empty token by the empty string', () => {
    expect(tokenKey(Buffer.alloc(0))).toBe('');
    expect(tokenKey(Buffer.from([0, 1]))).toBe('0001');
    expect(tokenKey(Buffer.from([1]))).not.toBe(tokenKey(Buffer.from([0, 1])));
  });
});
