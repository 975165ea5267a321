// One timer for a whole CoAP endpoint: CON retransmissions (RFC 7252 section 4.2), exchange lifetimes
// (section 4.8.2), separate-response delays (section 5.2.2) and housekeeping sweeps are entries of this
// wheel, never a setTimeout each. Entries fall into slots of `granularity` ms counted from the wheel's
// start; one slot is one Set, so adding and cancelling are O(1), and a min-heap of slot numbers gives the
// next slot to wake for. A single unref'd setTimeout is armed for the earliest slot and re-armed only when
// an earlier slot appears, so thousands of outstanding messages cost no timer each.

/** A scheduled callback; cancel() before it fires makes it a no-op. */
export interface WheelEntry {
  readonly at: number;
  cancel(): void;
}

class Entry implements WheelEntry {
  /** Cancelled or fired: never runs (again), even when its slot is being run right now. */
  dead = false;

  constructor(
    readonly at: number,
    readonly slot: number,
    readonly fn: () => void,
    private readonly wheel: TimerWheel,
  ) {}

  cancel(): void {
    this.wheel.remove(this);
  }
}

type Timer = ReturnType<typeof setTimeout>;

/** Date as this module found it: a different global Date later means fake timers replaced it. */
const REAL_DATE = Date;

/**
 * The wheel's clock: the monotonic one, so a step of the wall clock (NTP) fires nothing early or late, as
 * setTimeout would not. Under fake timers that replace Date (vitest's, which fake setTimeout alongside),
 * performance.now() stands still while the fake setTimeout follows Date: follow Date then.
 */
function defaultClock(): () => number {
  return globalThis.Date === REAL_DATE ? () => performance.now() : () => Date.now();
}

/** Binary min-heap of slot numbers (a slot appears once while its Set exists). */
class SlotHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): number | undefined {
    return this.a[0];
  }

  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }

  pop(): number | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]! < a[l]! ? r : l;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.a.length = 0;
  }
}

export class TimerWheel {
  private readonly slots = new Map<number, Set<Entry>>();
  private readonly heap = new SlotHeap();
  private readonly origin: number;
  private count = 0;
  private timer?: Timer;
  private armedSlot = Infinity;
  private stopped = false;
  /** Wake-ups of the one timer (for tests and stats). */
  wakeups = 0;
  /** Callbacks that threw (each callback handles its own errors; this only counts escapes). */
  errors = 0;

  /**
   * `granularity`: ms per slot; an entry fires at the end of its slot, up to `granularity` ms after its
   * time (never before). `clock`: monotonic by default (see defaultClock).
   */
  constructor(
    readonly granularity = 10,
    private readonly clock: () => number = defaultClock(),
  ) {
    if (!(granularity > 0)) throw new RangeError('timer granularity must be > 0 ms');
    this.origin = this.clock();
  }

  /** Live (scheduled, not cancelled, not fired) entries. */
  get size(): number {
    return this.count;
  }

  /** Whether the one timer is armed. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Runs `fn` once, `delay` ms from now (rounded up to the slot end). */
  schedule(delay: number, fn: () => void): WheelEntry {
    const at = this.clock() + Math.max(0, delay);
    const slot = Math.ceil((at - this.origin) / this.granularity);
    const e = new Entry(at, slot, fn, this);
    if (this.stopped) return e;
    let set = this.slots.get(slot);
    if (set === undefined) {
      this.slots.set(slot, (set = new Set()));
      this.heap.push(slot);
    }
    set.add(e);
    this.count++;
    if (slot < this.armedSlot) this.arm(slot);
    return e;
  }

  /** @internal Entry.cancel. */
  remove(e: Entry): void {
    e.dead = true;
    const set = this.slots.get(e.slot);
    if (set === undefined || !set.delete(e)) return;
    this.count--;
    // An empty slot stays in the heap until it is reached; its Set goes now.
    if (set.size === 0) this.slots.delete(e.slot);
    // Every slot left in the heap is empty: drop them at once. The timer stays armed (it wakes once to
    // find nothing and sleeps): under load an exchange is answered long before its slot, and clearing and
    // re-arming the timer per exchange would cost what the wheel saves.
    if (this.count === 0) this.heap.clear();
  }

  /** Cancels everything and refuses new entries (endpoint closed). */
  stop(): void {
    this.stopped = true;
    this.disarm();
    this.slots.clear();
    this.heap.clear();
    this.count = 0;
  }

  private slotNow(): number {
    return Math.floor((this.clock() - this.origin) / this.granularity);
  }

  private arm(slot: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedSlot = slot;
    const delay = Math.max(0, this.origin + slot * this.granularity - this.clock());
    const t = setTimeout(() => this.tick(), delay);
    // The wheel never keeps a process alive by itself (the socket does while it is open).
    (t as { unref?: () => void }).unref?.();
    this.timer = t;
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = Infinity;
  }

  private tick(): void {
    this.timer = undefined;
    this.armedSlot = Infinity;
    this.wakeups++;
    const now = this.slotNow();
    for (let s = this.heap.peek(); s !== undefined && s <= now; s = this.heap.peek()) {
      this.heap.pop();
      const set = this.slots.get(s);
      if (set === undefined) continue;
      this.slots.delete(s);
      this.count -= set.size;
      for (const e of set) {
        // A callback earlier in this slot may have cancelled a later one.
        if (e.dead) continue;
        e.dead = true;
        try {
          e.fn();
        } catch {
          // A callback's failure is its own; the other entries of the slot still run.
          this.errors++;
        }
      }
    }
    if (this.stopped) return;
    // Skip slots emptied by cancellation so an idle wheel sleeps.
    let next = this.heap.peek();
    while (next !== undefined && !this.slots.has(next)) {
      this.heap.pop();
      next = this.heap.peek();
    }
    if (next !== undefined) this.arm(next);
  }
}

/**
 * Expiry of bounded caches (deduplication, NON tracking, block-wise state) run from the wheel: one entry
 * every `interval` ms while any cache holds something, none while all are empty.
 */
export class PeriodicSweep {
  private readonly sweepers: (() => boolean)[] = [];
  private entry?: WheelEntry;

  constructor(
    private readonly wheel: TimerWheel,
    private readonly interval = 1000,
  ) {}

  /** `sweep` expires what is due and returns whether anything is left to expire later. */
  add(sweep: () => boolean): void {
    this.sweepers.push(sweep);
  }

  /** Something was cached: make sure a sweep is coming. */
  poke(): void {
    this.entry ??= this.wheel.schedule(this.interval, () => this.run());
  }

  private run(): void {
    this.entry = undefined;
    let left = false;
    for (const s of this.sweepers) if (s()) left = true;
    if (left) this.poke();
  }
}
