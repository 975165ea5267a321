// draft-tiloca-core-observe-multicast-notifications-04 sections 5, 9.1, 10, 11 and 13: the code points.
// The draft leaves the option numbers and the content format TBD; we take them from the experimental
// ranges (RFC 7252 section 12.2: options 65000-65535; 12.3: content formats 65000-65535), keep the
// critical/unsafe bits the draft gives each option, and let deployments change them.
import { defineOption, isCritical, isNoCacheKey, isUnsafe } from '@lwm2m/coap';

export interface GroupObserveNumbers {
  /** Multicast-Response-Feedback-Divider (section 5, Figure 1): elective, unsafe, uint 0-1 bytes. */
  mrfdOption: number;
  /** Listen-To-Multicast-Responses (section 9.1, Figure 2): critical, unsafe, 3-1024 bytes. */
  listenToMulticastResponsesOption: number;
  /** application/informative-response+cbor (section 13.2). */
  informativeContentFormat: number;
}

/**
 * 65050 = 0xfe1a: even (elective), bit 1 set (unsafe), bits 2-4 not all set (part of the cache key).
 * 65051 = 0xfe1b: odd (critical), bit 1 set (unsafe). Content format 65100.
 */
export const DEFAULT_GROUP_OBSERVE_NUMBERS: Readonly<GroupObserveNumbers> = Object.freeze({
  mrfdOption: 65050,
  listenToMulticastResponsesOption: 65051,
  informativeContentFormat: 65100,
});

/** Section 10: the CBOR keys of the informative response parameters. */
export const InformativeKey = {
  PH_REQ: 1,
  LAST_NOTIF: 2,
  TP_INFO: 3,
  JOIN_URI: 4,
  SEC_GP: 5,
  AS_URI: 6,
  CS_ALG: 7,
  CS_CRV: 8,
  CS_KTY: 9,
  CS_KENC: 10,
  ALG: 11,
  HKDF: 12,
} as const;

/** Section 11: transport protocol identifiers ('tp_id'). */
export const TransportProtocolId = { UDP: 1 } as const;

/** Section 2.2.2.1: 'srv_addr' and 'cli_addr' carry CBOR tag 260 "Network Address". */
export const CBOR_TAG_NETWORK_ADDRESS = 260;

/** Section 2.2.2.1: 'cli_port' defaults to 5683 when omitted. */
export const DEFAULT_GROUP_PORT = 5683;

let current: GroupObserveNumbers = { ...DEFAULT_GROUP_OBSERVE_NUMBERS };

/** The numbers in use (after configureGroupObserveNumbers). */
export function groupObserveNumbers(): Readonly<GroupObserveNumbers> {
  return current;
}

/**
 * Sets the numbers (process-wide, like the option registry it writes to) and registers both options
 * with libs/coap. Throws RangeError when a number has the wrong critical/unsafe/NoCacheKey bits.
 */
export function configureGroupObserveNumbers(
  overrides: Partial<GroupObserveNumbers> = {},
): GroupObserveNumbers {
  const next = { ...current, ...overrides };
  const { mrfdOption: mrfd, listenToMulticastResponsesOption: ltmr, informativeContentFormat: cf } = next;
  for (const n of [mrfd, ltmr, cf]) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`number ${n} not in 0..65535`);
  }
  // Section 5 Figure 1: not critical, unsafe, not NoCacheKey.
  if (isCritical(mrfd) || !isUnsafe(mrfd) || isNoCacheKey(mrfd)) {
    throw new RangeError(`Multicast-Response-Feedback-Divider ${mrfd} must be elective and unsafe`);
  }
  // Section 9.1 Figure 2: critical and unsafe.
  if (!isCritical(ltmr) || !isUnsafe(ltmr) || isNoCacheKey(ltmr)) {
    throw new RangeError(`Listen-To-Multicast-Responses ${ltmr} must be critical and unsafe`);
  }
  if (mrfd === ltmr) throw new RangeError('the two options need distinct numbers');
  current = next;
  defineOption({
    number: mrfd,
    name: 'Multicast-Response-Feedback-Divider',
    format: 'uint',
    repeatable: false,
    minLength: 0,
    maxLength: 1,
  });
  defineOption({
    number: ltmr,
    name: 'Listen-To-Multicast-Responses',
    format: 'opaque',
    repeatable: false,
    minLength: 3,
    maxLength: 1024,
  });
  return next;
}

configureGroupObserveNumbers();
