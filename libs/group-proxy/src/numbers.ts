// draft-ietf-core-groupcomm-proxy sections 2, 3 and 12.1: the two option numbers the draft leaves TBD
// (TBD2 Multicast-Timeout, TBD248 Reply-From). Draft -03 (IETF 110 slides) named them Multicast-Signaling
// and Response-Forwarding; both names are accepted wherever a name is given.
import { defineOption, isCritical, isNoCacheKey, isUnsafe } from '@lwm2m/coap';

export interface GroupProxyNumbers {
  /** Multicast-Timeout (-03: Multicast-Signaling), section 2: elective, unsafe, uint 0-4 bytes. */
  multicastTimeoutOption: number;
  /** Reply-From (-03: Response-Forwarding), section 3: elective, safe to forward, 5-1034 bytes. */
  replyFromOption: number;
  /** Group-ETag, section 7.3: elective, safe to forward, part of the Cache-Key, repeatable, 1-8 bytes. */
  groupEtagOption: number;
}

/**
 * Experimental range (RFC 7252 section 12.2), as libs/group-observe does.
 * 65062 = 0xfe26: even (elective), bit 1 set (unsafe), bits 2-4 = 001 (not NoCacheKey).
 * 65064 = 0xfe28: even (elective), bit 1 clear (safe to forward), bits 2-4 = 010 (part of the cache key).
 * 65068 = 0xfe2c: even (elective), bit 1 clear (safe to forward), bits 2-4 = 011 (part of the cache key).
 */
export const DEFAULT_GROUP_PROXY_NUMBERS: Readonly<GroupProxyNumbers> = Object.freeze({
  multicastTimeoutOption: 65062,
  replyFromOption: 65064,
  groupEtagOption: 65068,
});

/** Section 12.1: the numbers the draft suggests to IANA (2, 248 and 24); same critical/unsafe bits. */
export const SUGGESTED_GROUP_PROXY_NUMBERS: Readonly<GroupProxyNumbers> = Object.freeze({
  multicastTimeoutOption: 2,
  replyFromOption: 248,
  groupEtagOption: 24,
});

/** Every name an option had in the draft's history, to its key. */
const NAMES: Record<string, keyof GroupProxyNumbers> = {
  'multicast-timeout': 'multicastTimeoutOption',
  'multicast-signaling': 'multicastTimeoutOption',
  'reply-from': 'replyFromOption',
  'response-forwarding': 'replyFromOption',
  'group-etag': 'groupEtagOption',
};

/** "Multicast-Signaling" / "multicast_timeout" / "Reply-From" ... -> the key; undefined when unknown. */
export function groupProxyOptionKey(name: string): keyof GroupProxyNumbers | undefined {
  return NAMES[name.trim().toLowerCase().replace(/_/g, '-')];
}

/** Section 2 and 3's C/U bits, checked before a number is used. */
export function validateGroupProxyNumbers(n: GroupProxyNumbers): void {
  const { multicastTimeoutOption: mt, replyFromOption: rf, groupEtagOption: ge } = n;
  for (const v of [mt, rf, ge]) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffff)
      throw new RangeError(`option number ${v} not in 1..65535`);
  }
  if (isCritical(mt) || !isUnsafe(mt)) {
    throw new RangeError(
      `Multicast-Timeout ${mt} must be elective and unsafe (an even number with bit 1 set)`,
    );
  }
  if (isCritical(rf) || isUnsafe(rf)) {
    throw new RangeError(`Reply-From ${rf} must be elective and safe to forward (bits 0 and 1 clear)`);
  }
  if (isCritical(ge) || isUnsafe(ge) || isNoCacheKey(ge)) {
    throw new RangeError(`Group-ETag ${ge} must be elective, safe to forward and part of the Cache-Key`);
  }
  if (new Set([mt, rf, ge]).size !== 3) throw new RangeError('the options need distinct numbers');
}

/**
 * Resolves a configuration given by current or -03 names (`{ "Multicast-Signaling": 2 }`) or by key,
 * validates it and registers both options with libs/coap's option registry (process-wide).
 */
export function resolveGroupProxyNumbers(
  overrides: Partial<GroupProxyNumbers> | Record<string, number> = {},
): GroupProxyNumbers {
  const out: GroupProxyNumbers = { ...DEFAULT_GROUP_PROXY_NUMBERS };
  const given = new Set<string>();
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    const key = k in out ? (k as keyof GroupProxyNumbers) : groupProxyOptionKey(k);
    if (!key) throw new RangeError(`unknown option name ${k}`);
    // One option under its current and its -03 name: both must agree.
    if (given.has(key) && out[key] !== v) throw new RangeError(`${k} given twice with different numbers`);
    given.add(key);
    out[key] = v;
  }
  validateGroupProxyNumbers(out);
  defineOption({
    number: out.multicastTimeoutOption,
    name: 'Multicast-Timeout',
    format: 'uint',
    repeatable: false,
    minLength: 0,
    maxLength: 4,
  });
  defineOption({
    number: out.replyFromOption,
    name: 'Reply-From',
    format: 'opaque',
    repeatable: false,
    // Section 3 says 5-1034 for the CRI form; -03's tp_info could be 4 bytes ([1, 260(h'..')] minimum 9).
    minLength: 1,
    maxLength: 1034,
  });
  defineOption({
    number: out.groupEtagOption,
    name: 'Group-ETag',
    format: 'opaque',
    repeatable: true,
    minLength: 1,
    maxLength: 8,
  });
  return out;
}
