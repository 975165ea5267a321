// LwM2M TS 1.2 Core Appendix D.1 (Object template, "Range or Enumeration"): the limits a DDF puts on a
// resource's values, and the check of a value against them before a Write leaves the server.
import type { Lwm2mValue, ResourceType } from '../value';

/**
 * What a RangeEnumeration allows: numeric resources a value in one of the intervals, String and Opaque
 * resources a length in bytes in one of them (Appendix D.1: "for String and Opaque, the length").
 */
export interface ValueRange {
  limits: 'value' | 'length';
  /** Inclusive [min, max]; a lone number n is [n, n]. */
  intervals: Array<[number, number]>;
}

const NUMBER = '[-+]?[0-9]+(?:\\.[0-9]+)?';
const INTERVAL = new RegExp(`^(${NUMBER})\\s*\\.{2,3}\\s*(${NUMBER})$`);
const SINGLE = new RegExp(`^${NUMBER}$`);
const LABELLED = new RegExp(`^(${NUMBER})\\s*:\\s*\\S.*$`);
const NUMERIC_TYPES: ReadonlySet<ResourceType> = new Set(['integer', 'unsigned', 'float']);
const LENGTH_TYPES: ReadonlySet<ResourceType> = new Set(['string', 'opaque']);

/**
 * The forms the OMNA registry uses: "0..100", "-40..85", "0.0..1.0", "1...63", "0..255 bytes", "64",
 * "0..3, 99", "10,26", "0; 3.8..20.5", "0: RELEASED\n1: PRESSED". Anything else ("ON;OFF", "2 Instances", "8-Bits", prose, an inverted
 * interval like "-30..-120") is kept as text by the model and checks nothing: a guess would refuse writes a
 * device accepts.
 */
export function parseRangeEnumeration(text: string, type: ResourceType): ValueRange | undefined {
  let body = text.trim();
  const bytes = /\s*bytes$/i.exec(body);
  if (bytes) body = body.slice(0, bytes.index);
  if (body === '' || body.length > 200) return undefined;
  let limits: ValueRange['limits'];
  if (LENGTH_TYPES.has(type)) limits = 'length';
  else if (NUMERIC_TYPES.has(type) && !bytes) limits = 'value';
  else return undefined;
  const intervals: Array<[number, number]> = [];
  // An enumeration written one "value: label" per line (the IPSO style of e.g. 3347 resource 5910).
  const labelled = body.split(/\r?\n/).map((l) => LABELLED.exec(l.trim()));
  if (labelled.length > 1 && limits === 'value' && labelled.every((m) => m !== null)) {
    for (const m of labelled) intervals.push([Number(m![1]), Number(m![1])]);
    return { limits, intervals };
  }
  for (const raw of body.split(/[,;]/)) {
    const part = raw.trim();
    const m = INTERVAL.exec(part);
    let lo: number;
    let hi: number;
    if (m) [lo, hi] = [Number(m[1]), Number(m[2])];
    else if (SINGLE.test(part)) lo = hi = Number(part);
    else return undefined;
    if (!(lo <= hi)) return undefined;
    if (limits === 'length' && lo < 0) return undefined;
    intervals.push([lo, hi]);
  }
  return intervals.length > 0 ? { limits, intervals } : undefined;
}

function describe(range: ValueRange): string {
  return range.intervals.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}..${hi}`)).join(', ');
}

function within(range: ValueRange, n: number): boolean {
  return range.intervals.some(([lo, hi]) => n >= lo && n <= hi);
}

/** Why `value` is outside `range`, or undefined when it is inside (or the range says nothing about it). */
export function rangeProblem(range: ValueRange | undefined, value: Lwm2mValue): string | undefined {
  if (range === undefined) return undefined;
  if (range.limits === 'length') {
    let length: number;
    if (typeof value === 'string') length = Buffer.byteLength(value, 'utf8');
    else if (Buffer.isBuffer(value)) length = value.length;
    else return undefined;
    return within(range, length) ? undefined : `length ${length} bytes is outside ${describe(range)} bytes`;
  }
  if (typeof value !== 'number' && typeof value !== 'bigint') return undefined;
  // Bounds past 2^53 (0..18446744073709551615) compare approximately: the 64-bit limit itself is the codec's.
  const n = Number(value);
  return within(range, n) ? undefined : `${String(value)} is outside ${describe(range)}`;
}
