import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CoapCode, OptionNumber, encodeUint, findBadOption, createMessage, CoapType } from '@lwm2m/coap';
import {
  bytesToIp,
  configureGroupObserveNumbers,
  decodeInformativeResponse,
  decodeMessageInfo,
  decodeTpInfo,
  DEFAULT_GROUP_OBSERVE_NUMBERS,
  encodeInformativeResponse,
  encodeMessageInfo,
  encodeTpInfo,
  feedbackDivider,
  groupObserveNumbers,
  ipToBytes,
  isLinkLocal,
  respondTo,
  updateCount,
  DEFAULT_ROUGH_COUNTING,
} from '../src';

describe('option numbers and content format (sections 5, 9.1, 13)', () => {
  it('defaults keep the bits the draft gives each option', () => {
    const n = groupObserveNumbers();
    expect(n).toEqual(DEFAULT_GROUP_OBSERVE_NUMBERS);
    expect(n.mrfdOption & 1).toBe(0); // not critical
    expect(n.mrfdOption & 2).toBe(2); // unsafe
    expect(n.listenToMulticastResponsesOption & 3).toBe(3); // critical and unsafe
  });

  it('refuses numbers with the wrong bits', () => {
    expect(() => configureGroupObserveNumbers({ mrfdOption: 65001 })).toThrow(RangeError);
    expect(() => configureGroupObserveNumbers({ mrfdOption: 65004 })).toThrow(RangeError);
    expect(() => configureGroupObserveNumbers({ listenToMulticastResponsesOption: 65050 })).toThrow(
      RangeError,
    );
    expect(groupObserveNumbers()).toEqual(DEFAULT_GROUP_OBSERVE_NUMBERS);
  });

  it('registers Listen-To-Multicast-Responses as a known critical option of 3..1024 bytes', () => {
    const n = groupObserveNumbers().listenToMulticastResponsesOption;
    const msg = (len: number) =>
      createMessage({
        type: CoapType.CON,
        code: CoapCode.GET,
        options: [{ number: n, value: Buffer.alloc(len) }],
      });
    expect(findBadOption(msg(3), true)).toBeUndefined();
    expect(findBadOption(msg(2), true)?.reason).toBe('bad-length');
  });
});

describe('addresses (section 2.2.2.1)', () => {
  it('round-trips IPv4 and IPv6 and spots link-local ones', () => {
    expect(ipToBytes('239.255.0.1')?.toString('hex')).toBe('efff0001');
    expect(bytesToIp(ipToBytes('2001:db8::1')!)).toBe('2001:db8::1');
    expect(bytesToIp(ipToBytes('ff35:30:2001:db8::1234')!)).toBe('ff35:30:2001:db8::1234');
    expect(ipToBytes('1.2.3')).toBeUndefined();
    expect(ipToBytes('1::2::3')).toBeUndefined();
    expect(isLinkLocal(ipToBytes('169.254.3.4')!)).toBe(true);
    expect(isLinkLocal(ipToBytes('fe80::1')!)).toBe(true);
    expect(isLinkLocal(ipToBytes('10.0.0.1')!)).toBe(false);
  });
});

describe('transport-independent message information (section 2.2.1)', () => {
  it('is the Code byte, the options and 0xff + payload', () => {
    const info = {
      code: CoapCode.CONTENT,
      options: [
        { number: OptionNumber.OBSERVE, value: encodeUint(11) },
        { number: OptionNumber.CONTENT_FORMAT, value: encodeUint(60) },
      ],
      payload: Buffer.from('5678'),
    };
    const bytes = encodeMessageInfo(info);
    expect(bytes.toString('hex')).toBe('45' + '610b' + '613c' + 'ff' + Buffer.from('5678').toString('hex'));
    expect(decodeMessageInfo(bytes, 'x')).toEqual(info);
    expect(encodeMessageInfo({ code: CoapCode.GET, options: [], payload: Buffer.alloc(0) })).toEqual(
      Buffer.from([1]),
    );
  });

  it('round-trips any options and payload (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 255 }),
        fc.array(
          fc.record({ number: fc.integer({ min: 0, max: 2000 }), value: fc.uint8Array({ maxLength: 20 }) }),
        ),
        fc.uint8Array({ maxLength: 64 }),
        (code, opts, payload) => {
          const options = opts
            .map((o) => ({ number: o.number, value: Buffer.from(o.value) }))
            .sort((a, b) => a.number - b.number);
          const info = { code, options, payload: Buffer.from(payload) };
          expect(decodeMessageInfo(encodeMessageInfo(info), 'x')).toEqual(info);
        },
      ),
    );
  });
});

describe('informative response payload (sections 2.2, 2.2.2.1, 10)', () => {
  const tp = {
    tpId: 1 as const,
    token: Buffer.from([0x7b]),
    srvAddr: '2001:db8::1',
    srvPort: 5683,
    cliAddr: 'ff35:30:2001:db8::1234',
    cliPort: 5683,
  };

  it('writes tp_info with tag 260 addresses, and cli_port only when asked', () => {
    const full = encodeTpInfo(tp).toString('hex');
    expect(full.startsWith('86' + '01' + '417b' + 'd90104' + '50')).toBe(true);
    expect(full.endsWith('191633')).toBe(true);
    const short = encodeTpInfo(tp, { omitDefaultCliPort: true });
    expect(short[0]).toBe(0x85);
    expect(decodeTpInfo(short).cliPort).toBe(5683); // "If not included, the default port number 5683"
  });

  it('round-trips, with the section 6.1 OSCORE group fields', () => {
    const r = {
      phReq: Buffer.from([1, 0x60]),
      lastNotif: Buffer.from([0x45, 0x61, 0x0b]),
      tpInfo: tp,
      oscoreGroup: { joinUri: 'coap://gm/group-oscore/g1', secGp: 'g1', csAlg: -8, alg: 10 },
    };
    expect(decodeInformativeResponse(encodeInformativeResponse(r))).toEqual(r);
  });

  it('refuses to encode link-local addresses (section 2.2)', () => {
    expect(() => encodeTpInfo({ ...tp, srvAddr: 'fe80::1' })).toThrow(RangeError);
  });
});

describe('rough counting arithmetic (section 5.2, Appendix B)', () => {
  it('reproduces the section 5.2.3 example: N = 32, M = 8 gives Q = 2; R = 4 gives 16', () => {
    expect(feedbackDivider(32, 8)).toBe(2);
    const u = updateCount(4, 2, 32, 32, { ...DEFAULT_ROUGH_COUNTING, dampener: 1 });
    expect(u).toMatchObject({ estimate: 16, newCount: 16, cancel: false, nextCountIn: 10 });
  });

  it('Q is 0 when fewer observers than wanted confirmations, and caps at 255', () => {
    expect(feedbackDivider(0, 8)).toBe(0);
    expect(feedbackDivider(5, 8)).toBe(0);
    expect(feedbackDivider(Number.MAX_SAFE_INTEGER, 1)).toBe(53);
  });

  it('B.3: no confirmations means retry with the next notification and, with D = 4, a quarter step', () => {
    const u = updateCount(0, 3, 100, 100, DEFAULT_ROUGH_COUNTING);
    expect(u).toMatchObject({ estimate: 0, newCount: 75, nextCountIn: 1, cancel: false });
    expect(updateCount(0, 0, 1, 1, { ...DEFAULT_ROUGH_COUNTING, dampener: 1 }).cancel).toBe(true);
  });

  it('respond_to(Q) answers with probability 2^-Q (B.2), also beyond 32 bits', () => {
    let x = 12345;
    const rand32 = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const trials = 40_000;
    for (const q of [0, 1, 3]) {
      let yes = 0;
      for (let i = 0; i < trials; i++) if (respondTo(q, rand32)) yes++;
      expect(Math.abs(yes / trials - 2 ** -q)).toBeLessThan(0.02);
    }
    expect(respondTo(40, () => 1)).toBe(false);
    expect(respondTo(40, () => 0)).toBe(true);
  });
});
