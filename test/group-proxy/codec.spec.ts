// draft-ietf-core-groupcomm-proxy section 3 (Reply-From as CRI, and -03's tp_info), section 2
// (Multicast-Timeout numbers and names) and section 4.1.1 step 1 (the group URI of a proxied request).
import { DecodeError } from '@lwm2m/bytes';
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  encodeUint,
  OptionNumber,
} from '@lwm2m/coap';
import {
  coapToHttpStatus,
  DEFAULT_GROUP_PROXY_NUMBERS,
  parseReplyFromHeader,
  replyFromHeader,
  decodeReplyFrom,
  encodeReplyFrom,
  groupProxyOptionKey,
  parseAllowList,
  parseProxyUri,
  proxiedTarget,
  resolveGroupProxyNumbers,
  SUGGESTED_GROUP_PROXY_NUMBERS,
} from '@lwm2m/group-proxy';
import { describe, expect, it } from 'vitest';
import { fuzzDecoder } from '../support/fuzz';

const hex = (b: Buffer): string => b.toString('hex');

describe('Reply-From (section 3)', () => {
  it("writes cri'coap://S1_ADDR:S1_PORT' as one CBOR array [scheme-id, [host-ip, port]]", () => {
    const v = encodeReplyFrom({ scheme: 'coap', host: '10.0.0.2', port: 5683 });
    // 0x82 array(2), 0x20 = -1 (coap), 0x82 array(2), 0x44 bstr(4) 0a000002, 0x19 1633 = 5683
    expect(hex(v)).toBe('82208244' + '0a000002' + '191633');
    expect(decodeReplyFrom(v)).toEqual({ scheme: 'coap', host: '10.0.0.2', port: 5683 });
  });

  it('adds the CRI reference of section 6.1 as a second item, scheme null', () => {
    const r = {
      scheme: 'coap',
      host: '192.0.2.1',
      port: 61616,
      reference: { host: '10.0.0.7', port: 7000, path: ['srv', '1'] },
    };
    const v = encodeReplyFrom(r);
    expect(decodeReplyFrom(v)).toEqual(r);
    // Section 3: with an authority in the reference the first CRI may not carry a host-name.
    expect(() => encodeReplyFrom({ ...r, host: 'proxy.example' })).toThrow(RangeError);
  });

  it('keeps IPv6 and host names', () => {
    for (const r of [
      { scheme: 'coap', host: '2001:db8::1', port: 5683 },
      { scheme: 'coap+tcp', host: 'group1.example', port: 6000 },
      { scheme: 'coaps', host: '192.0.2.9' },
    ]) {
      expect(decodeReplyFrom(encodeReplyFrom(r))).toEqual(r);
    }
  });

  it("reads and writes draft -03's tp_info [1, 260(h'..'), port / null], port defaults as the slides say", () => {
    const v = encodeReplyFrom({ scheme: 'coap', host: '10.0.0.3', port: 40000 }, 'tp-info');
    // 0x83 array(3), 01, d9 0104 tag 260, 44 0a000003, 19 9c40
    expect(hex(v)).toBe('8301d90104440a000003199c40');
    expect(decodeReplyFrom(v)).toEqual({ scheme: 'coap', host: '10.0.0.3', port: 40000 });
    // null -> 5683; absent -> the destination port of the group request.
    expect(decodeReplyFrom(Buffer.from('8301d90104440a000003f6', 'hex')).port).toBe(5683);
    expect(decodeReplyFrom(Buffer.from('8201d90104440a000003', 'hex'), 7777).port).toBe(7777);
  });

  const MALFORMED: [string, string][] = [
    ['empty', ''],
    ['not an array', '01'],
    ['three items', '8220814400000000' + '8220814400000000' + '8220814400000000'],
    ['unknown scheme-id', '82388281440a000002'],
    ['3-byte address', '822081430a0000'],
    ['port too large', '822082440a0000021a00010000'],
    ['tp_info without tag', '8301440a000003f6'],
    ['tp_info with other tag', '8301d90105440a000003f6'],
    ['reference without authority or path', '82208144' + '0a000002' + '82f6f6'],
    ['truncated', '82208244'],
  ];

  it.each(MALFORMED)('refuses %s with a DecodeError', (_n, h) => {
    expect(() => decodeReplyFrom(Buffer.from(h, 'hex'))).toThrow(DecodeError);
  });

  it('fuzzing: only DecodeError, no hang, allocation in proportion', () => {
    const seeds = [
      encodeReplyFrom({ scheme: 'coap', host: '10.0.0.2', port: 5683 }),
      encodeReplyFrom({
        scheme: 'coap',
        host: '2001:db8::5',
        port: 1,
        reference: { host: '10.1.1.1', path: ['a'] },
      }),
      encodeReplyFrom({ scheme: 'coap', host: '10.0.0.3', port: 40000 }, 'tp-info'),
      ...MALFORMED.map(([, h]) => Buffer.from(h, 'hex')),
    ];
    const report = fuzzDecoder({
      name: 'decodeReplyFrom',
      decode: (b) => decodeReplyFrom(b),
      seeds,
      seed: 0x7266,
    });
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.rejected).toBeGreaterThan(10_000);
    for (const r of ['bad-cbor', 'bad-cri', 'bad-address', 'bad-length']) expect(report.reasons).toContain(r);
  }, 60_000);
});

describe('option numbers (sections 2, 3 and 12.1)', () => {
  it('takes the current and the -03 names alike', () => {
    expect(groupProxyOptionKey('Multicast-Signaling')).toBe('multicastTimeoutOption');
    expect(groupProxyOptionKey('multicast_timeout')).toBe('multicastTimeoutOption');
    expect(groupProxyOptionKey('Response-Forwarding')).toBe('replyFromOption');
    expect(
      resolveGroupProxyNumbers({ 'Multicast-Signaling': 2, 'Response-Forwarding': 248, 'Group-ETag': 24 }),
    ).toEqual(SUGGESTED_GROUP_PROXY_NUMBERS);
    expect(resolveGroupProxyNumbers()).toEqual(DEFAULT_GROUP_PROXY_NUMBERS);
  });

  it('refuses numbers with the wrong critical / unsafe bits', () => {
    expect(() => resolveGroupProxyNumbers({ multicastTimeoutOption: 65061 })).toThrow(/elective and unsafe/);
    expect(() => resolveGroupProxyNumbers({ multicastTimeoutOption: 65064 })).toThrow(/elective and unsafe/);
    expect(() => resolveGroupProxyNumbers({ replyFromOption: 65062 })).toThrow(/safe to forward/);
    expect(() =>
      resolveGroupProxyNumbers({ 'Response-Forwarding': 65062, replyFromOption: 65064 } as never),
    ).toThrow();
    expect(() => resolveGroupProxyNumbers({ 'Group-Observe': 2 })).toThrow(/unknown option name/);
    // Group-ETag (section 7.3) is part of the Cache-Key: a NoCacheKey number (bits 2-4 set) is refused.
    expect(() => resolveGroupProxyNumbers({ groupEtagOption: 28 })).toThrow(/Cache-Key/);
  });
});

describe('the group URI of a proxied request (section 4.1.1 step 1)', () => {
  it('parses Proxy-Uri', () => {
    expect(parseProxyUri('coap://239.255.0.1:5683/a/b%20c?x=1&y')).toEqual({
      scheme: 'coap',
      host: '239.255.0.1',
      port: 5683,
      path: ['a', 'b c'],
      query: ['x=1', 'y'],
    });
    expect(parseProxyUri('coap://[ff05::fd]/r').host).toBe('ff05::fd');
    expect(parseProxyUri('coap://[ff05::fd]/r').port).toBe(5683);
  });

  it('takes Proxy-Scheme with Uri-Host, Uri-Port and Uri-Path', () => {
    const m = createMessage({
      type: CoapType.CON,
      code: 1,
      options: [
        { number: OptionNumber.PROXY_SCHEME, value: Buffer.from('coap') },
        { number: OptionNumber.URI_HOST, value: Buffer.from('239.255.0.9') },
        { number: OptionNumber.URI_PORT, value: encodeUint(7000) },
        { number: OptionNumber.URI_PATH, value: Buffer.from('r') },
      ],
    });
    expect(proxiedTarget(m)).toEqual({
      scheme: 'coap',
      host: '239.255.0.9',
      port: 7000,
      path: ['r'],
      query: [],
    });
  });

  it('fuzzing Proxy-Uri / Proxy-Scheme of whole requests: only DecodeError', () => {
    const seed = encodeMessage(
      createMessage({
        type: CoapType.CON,
        code: 1,
        messageId: 7,
        token: Buffer.from('0102', 'hex'),
        options: [
          { number: OptionNumber.PROXY_URI, value: Buffer.from('coap://239.255.0.1:5683/r?x') },
          { number: 65062, value: encodeUint(5) },
        ],
      }),
    );
    const seed2 = encodeMessage(
      createMessage({
        type: CoapType.NON,
        code: 1,
        options: [
          { number: OptionNumber.URI_HOST, value: Buffer.from('[ff05::1]') },
          { number: OptionNumber.PROXY_SCHEME, value: Buffer.from('coap') },
        ],
      }),
    );
    const report = fuzzDecoder({
      name: 'proxiedTarget',
      decode: (b) => proxiedTarget(decodeMessage(b)),
      seeds: [seed, seed2],
      seed: 0x7078,
      runs: 50_000,
    });
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.reasons).toContain('bad-target');
  }, 60_000);

  it('reads allow-lists from their env form', () => {
    expect(parseAllowList('127.0.0.1:4000=g1|g2, psk:alice, oscore:0A=*')).toEqual([
      { address: '127.0.0.1', port: 4000, groups: ['g1', 'g2'] },
      { pskIdentity: 'alice', groups: '*' },
      { oscoreKid: '0A', groups: '*' },
    ]);
    expect(() => parseAllowList('who?')).toThrow(RangeError);
  });
});

describe('HTTP header fields of section 9', () => {
  it('Reply-From is a List of one Byte Sequence per CBOR array, and back', () => {
    const one = encodeReplyFrom({ scheme: 'coap', host: '10.0.0.2', port: 5683 });
    expect(replyFromHeader(one)).toBe(`:${one.toString('base64')}:`);
    const two = encodeReplyFrom({
      scheme: 'coap',
      host: '192.0.2.1',
      port: 1,
      reference: { host: '10.0.0.7' },
    });
    const header = replyFromHeader(two);
    expect(header.split(', ')).toHaveLength(2);
    expect(parseReplyFromHeader(header)!.toString('hex')).toBe(Buffer.from(two).toString('hex'));
  });

  it('a Reply-From header field that is not 1-2 Byte Sequences is ignored as a whole', () => {
    for (const bad of ['', 'abc', ':aa:, :bb:, :cc:', ':a b:', '"text"', ':aa:;p=1']) {
      expect(parseReplyFromHeader(bad)).toBeUndefined();
    }
  });

  it('fuzzing the Reply-From header field (HTTP input) through to the CRI: only DecodeError', () => {
    const seed = Buffer.from(
      replyFromHeader(
        encodeReplyFrom({ scheme: 'coap', host: '192.0.2.1', port: 1, reference: { host: '10.0.0.7' } }),
      ),
    );
    const report = fuzzDecoder({
      name: 'parseReplyFromHeader',
      decode: (b) => {
        const v = parseReplyFromHeader(b.toString('latin1'));
        return v === undefined ? undefined : decodeReplyFrom(v);
      },
      seeds: [seed, Buffer.from(':gicggkQKAAAC:')],
      seed: 0x6866,
      runs: 30_000,
    });
    expect(report.accepted).toBeGreaterThan(100);
  }, 60_000);

  it('maps CoAP codes to HTTP statuses as RFC 8075 section 7 does', () => {
    expect(coapToHttpStatus(CoapCode.CONTENT)).toBe(200);
    expect(coapToHttpStatus(CoapCode.CHANGED, false)).toBe(204);
    expect(coapToHttpStatus(CoapCode.UNAUTHORIZED)).toBe(403);
    expect(coapToHttpStatus(CoapCode.PROXYING_NOT_SUPPORTED)).toBe(502);
    expect(coapToHttpStatus(0x9f)).toBe(400);
  });
});
