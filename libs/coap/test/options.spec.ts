import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodeError } from '@lwm2m/bytes';
import {
  addOption,
  CoapCode,
  codeClass,
  codeDetail,
  codeName,
  CoapType,
  createMessage,
  decodeMessage,
  decodeUint,
  defineOption,
  encodeMessage,
  encodeUint,
  findBadOption,
  formatCode,
  getAccept,
  getContentFormat,
  getLocationPath,
  getMaxAge,
  getNoResponse,
  getObserve,
  getOption,
  getOptions,
  getStringOption,
  getUintOption,
  getUriPath,
  getUriQuery,
  getUriQueryParams,
  isCritical,
  isEmptyCode,
  isNoCacheKey,
  isRequestCode,
  isResponseCode,
  isUnsafe,
  makeCode,
  optionDefinition,
  OptionNumber,
  parseCode,
  removeOption,
  setLocationPath,
  setOption,
  setUriPath,
  suppressesResponse,
} from '../src';

const req = () => createMessage({ type: CoapType.CON, code: CoapCode.GET, messageId: 1 });

describe('codes (RFC 7252 section 3 and 12.1)', () => {
  it('formats and parses c.dd', () => {
    expect(formatCode(CoapCode.CONTENT)).toBe('2.05');
    expect(formatCode(CoapCode.CONTINUE)).toBe('2.31');
    expect(formatCode(CoapCode.TOO_MANY_REQUESTS)).toBe('4.29');
    expect(parseCode('4.04')).toBe(CoapCode.NOT_FOUND);
    expect(parseCode('4.32')).toBeUndefined();
    expect(parseCode('8.00')).toBeUndefined();
    expect(parseCode('2.5')).toBeUndefined();
  });

  it('has the registered values', () => {
    expect(CoapCode.REQUEST_ENTITY_INCOMPLETE).toBe(makeCode(4, 8));
    expect(CoapCode.REQUEST_ENTITY_TOO_LARGE).toBe(makeCode(4, 13));
    expect(CoapCode.PROXYING_NOT_SUPPORTED).toBe(makeCode(5, 5));
    expect(CoapCode.IPATCH).toBe(7);
  });

  it('splits class and detail', () => {
    expect(codeClass(0xa3)).toBe(5);
    expect(codeDetail(0xa3)).toBe(3);
    expect(() => makeCode(8, 0)).toThrow(RangeError);
    expect(() => makeCode(2, 32)).toThrow(RangeError);
  });

  it('classifies requests, responses and the Empty message', () => {
    expect(isRequestCode(CoapCode.GET)).toBe(true);
    expect(isRequestCode(CoapCode.EMPTY)).toBe(false);
    expect(isRequestCode(CoapCode.CONTENT)).toBe(false);
    expect(isResponseCode(CoapCode.CONTENT)).toBe(true);
    expect(isResponseCode(makeCode(1, 0))).toBe(false);
    expect(isResponseCode(makeCode(7, 1))).toBe(false);
    expect(isEmptyCode(0)).toBe(true);
  });

  it('names codes, falling back to c.dd', () => {
    expect(codeName(0x45)).toBe('CONTENT');
    expect(codeName(makeCode(2, 6))).toBe('2.06');
  });

  it('round-trips formatCode/parseCode for every code', () => {
    for (let c = 0; c < 256; c++) expect(parseCode(formatCode(c))).toBe(c);
  });
});

describe('option number properties (RFC 7252 section 5.4.6)', () => {
  it('derives critical, unsafe and NoCacheKey from the number', () => {
    // Table 4 of section 5.10: C/U/N columns
    expect([1, 3, 5, 7, 11, 35, 39].every(isCritical)).toBe(true);
    expect([4, 8, 12, 14, 20, 28, 60, 258].some(isCritical)).toBe(false);
    expect([3, 7, 11, 14, 15, 35, 39].every(isUnsafe)).toBe(true);
    expect(isUnsafe(12)).toBe(false);
    expect(isNoCacheKey(60)).toBe(true); // Size1
    expect(isNoCacheKey(28)).toBe(true); // Size2
    expect(isNoCacheKey(258)).toBe(false); // No-Response
    expect(isNoCacheKey(12)).toBe(false);
  });

  it('registers every option named in the brief with its format', () => {
    expect(optionDefinition(OptionNumber.MAX_AGE)).toMatchObject({
      format: 'uint',
      maxLength: 4,
      defaultValue: 60,
    });
    expect(optionDefinition(OptionNumber.ETAG)).toMatchObject({
      minLength: 1,
      maxLength: 8,
      repeatable: true,
    });
    expect(optionDefinition(OptionNumber.PROXY_URI)).toMatchObject({ minLength: 1, maxLength: 1034 });
    expect(optionDefinition(OptionNumber.IF_NONE_MATCH)?.format).toBe('empty');
    for (const n of Object.values(OptionNumber)) expect(optionDefinition(n)).toBeDefined();
  });
});

describe('uint option values (RFC 7252 section 3.2)', () => {
  it('uses the fewest bytes, 0 as the empty value', () => {
    expect(encodeUint(0).length).toBe(0);
    expect(encodeUint(255).toString('hex')).toBe('ff');
    expect(encodeUint(256).toString('hex')).toBe('0100');
    expect(encodeUint(0xffffffff).toString('hex')).toBe('ffffffff');
    expect(() => encodeUint(-1)).toThrow(RangeError);
    expect(() => encodeUint(2 ** 32)).toThrow(RangeError);
  });

  it('decodes with leading zeros and rejects values longer than the option allows', () => {
    expect(decodeUint(Buffer.from('0001', 'hex'))).toBe(1);
    expect(() => decodeUint(Buffer.alloc(5))).toThrow(DecodeError);
    expect(() => decodeUint(Buffer.alloc(3), 2)).toThrow(DecodeError);
  });

  it('round-trips every 32-bit value (fast-check)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => decodeUint(encodeUint(n)) === n));
  });
});

describe('option accessors', () => {
  it('sets Uri-Path from a path string and reads it back in order', () => {
    const m = req();
    setUriPath(m, '/rd/abc');
    addOption(m, OptionNumber.URI_QUERY, 'ep=dev1');
    addOption(m, OptionNumber.URI_QUERY, 'lt=300');
    addOption(m, OptionNumber.URI_QUERY, 'Q');
    setOption(m, OptionNumber.CONTENT_FORMAT, 40);
    const back = decodeMessage(encodeMessage(m));
    expect(getUriPath(back)).toEqual(['rd', 'abc']);
    expect(getUriQuery(back)).toEqual(['ep=dev1', 'lt=300', 'Q']);
    expect(getUriQueryParams(back)).toEqual(
      new Map([
        ['ep', 'dev1'],
        ['lt', '300'],
        ['Q', ''],
      ]),
    );
    expect(getContentFormat(back)).toBe(40);
    // options stay in wire order without a sort
    expect(m.options.map((o) => o.number)).toEqual([11, 11, 12, 15, 15, 15]);
  });

  it('decomposes paths as RFC 7252 section 6.4 and Appendix B do', () => {
    const m = req();
    setUriPath(m, '/');
    expect(getUriPath(m)).toEqual([]);
    // Appendix B: coap://198.51.100.1:61616//%2F//  -> Uri-Path "", "/", "", ""
    setUriPath(m, '//%2F//');
    expect(getUriPath(m)).toEqual(['', '/', '', '']);
    setUriPath(m, ['.well-known', 'core']);
    expect(getUriPath(m)).toEqual(['.well-known', 'core']);
  });

  it('reads and writes Location-Path (LwM2M registration response /rd/5a3f)', () => {
    const m = createMessage({ type: CoapType.ACK, code: CoapCode.CREATED, messageId: 1 });
    setLocationPath(m, '/rd/5a3f');
    expect(encodeMessage(m).subarray(4).toString('hex')).toBe('8272640435613366');
    expect(getLocationPath(decodeMessage(encodeMessage(m)))).toEqual(['rd', '5a3f']);
  });

  it('replaces all occurrences with setOption and drops them with removeOption', () => {
    const m = req();
    addOption(m, OptionNumber.ETAG, Buffer.from([1]));
    addOption(m, OptionNumber.ETAG, Buffer.from([2]));
    expect(getOptions(m, OptionNumber.ETAG)).toHaveLength(2);
    setOption(m, OptionNumber.ETAG, Buffer.from([3]));
    expect(getOptions(m, OptionNumber.ETAG)).toEqual([Buffer.from([3])]);
    removeOption(m, OptionNumber.ETAG);
    expect(getOption(m, OptionNumber.ETAG)).toBeUndefined();
  });

  it('gives defaults and typed values', () => {
    const m = req();
    expect(getMaxAge(m)).toBe(60);
    expect(getObserve(m)).toBeUndefined();
    expect(getAccept(m)).toBeUndefined();
    setOption(m, OptionNumber.MAX_AGE, 0);
    setOption(m, OptionNumber.OBSERVE, 0);
    setOption(m, OptionNumber.ACCEPT, 11542);
    setOption(m, OptionNumber.URI_HOST, 'example.net');
    expect(getMaxAge(m)).toBe(0);
    expect(getObserve(m)).toBe(0);
    expect(getAccept(m)).toBe(11542);
    expect(getStringOption(m, OptionNumber.URI_HOST)).toBe('example.net');
  });

  it('ignores an elective option whose length is out of range (section 5.4.3)', () => {
    const m = req();
    m.options.push({ number: OptionNumber.MAX_AGE, value: Buffer.alloc(5, 1) });
    expect(getMaxAge(m)).toBe(60);
    expect(getUintOption(m, OptionNumber.CONTENT_FORMAT)).toBeUndefined();
    m.options = [{ number: OptionNumber.CONTENT_FORMAT, value: Buffer.alloc(3, 1) }];
    expect(getContentFormat(m)).toBeUndefined();
    expect(findBadOption(m, true)).toBeUndefined(); // Content-Format (12) is elective
  });

  it('takes only the first occurrence of a non-repeatable option (section 5.4.5)', () => {
    const m = req();
    m.options = [
      { number: OptionNumber.CONTENT_FORMAT, value: encodeUint(40) },
      { number: OptionNumber.CONTENT_FORMAT, value: encodeUint(50) },
    ];
    expect(getContentFormat(m)).toBe(40);
  });
});

describe('findBadOption (RFC 7252 sections 5.4.1, 5.4.3, 5.4.5)', () => {
  const withOptions = (...options: [number, Buffer][]) => {
    const m = req();
    m.options = options.map(([number, value]) => ({ number, value }));
    return m;
  };

  it('accepts a typical LwM2M registration', () => {
    const m = req();
    setUriPath(m, '/rd');
    addOption(m, OptionNumber.URI_QUERY, 'ep=x');
    setOption(m, OptionNumber.CONTENT_FORMAT, 40);
    expect(findBadOption(m, true)).toBeUndefined();
  });

  it('reports an unrecognized critical option', () => {
    expect(findBadOption(withOptions([9999, Buffer.alloc(0)]), true)).toEqual({
      number: 9999,
      reason: 'unrecognized',
    });
  });

  it('ignores an unrecognized elective option', () => {
    expect(findBadOption(withOptions([9998, Buffer.alloc(0)]), true)).toBeUndefined();
  });

  it('treats a critical option of bad length as unrecognized', () => {
    expect(findBadOption(withOptions([OptionNumber.URI_HOST, Buffer.alloc(0)]), true)).toEqual({
      number: 3,
      reason: 'bad-length',
    });
    expect(findBadOption(withOptions([OptionNumber.BLOCK2, Buffer.alloc(4)]), true)?.reason).toBe(
      'bad-length',
    );
    expect(findBadOption(withOptions([OptionNumber.URI_PATH, Buffer.alloc(256)]), true)?.reason).toBe(
      'bad-length',
    );
  });

  it('reports a repeated non-repeatable critical option', () => {
    expect(
      findBadOption(
        withOptions([OptionNumber.URI_HOST, Buffer.from('a')], [OptionNumber.URI_HOST, Buffer.from('b')]),
        true,
      ),
    ).toEqual({ number: 3, reason: 'repeated' });
    expect(
      findBadOption(
        withOptions([OptionNumber.URI_PATH, Buffer.from('a')], [OptionNumber.URI_PATH, Buffer.from('b')]),
        true,
      ),
    ).toBeUndefined();
  });

  it('learns new options through defineOption', () => {
    defineOption({
      number: 65001,
      name: 'Test-Critical',
      format: 'opaque',
      repeatable: false,
      minLength: 0,
      maxLength: 2,
    });
    expect(findBadOption(withOptions([65001, Buffer.alloc(2)]), true)).toBeUndefined();
    expect(findBadOption(withOptions([65001, Buffer.alloc(3)]), true)?.reason).toBe('bad-length');
  });
});

describe('No-Response (RFC 7967 section 2.1)', () => {
  it('reads the option and suppresses by response class', () => {
    const m = req();
    expect(getNoResponse(m)).toBeUndefined();
    setOption(m, OptionNumber.NO_RESPONSE, 26);
    expect(getNoResponse(m)).toBe(26);
    // 26 = 2 | 8 | 16: not interested in any response
    expect(suppressesResponse(26, CoapCode.CONTENT)).toBe(true);
    expect(suppressesResponse(26, CoapCode.NOT_FOUND)).toBe(true);
    expect(suppressesResponse(26, CoapCode.INTERNAL_SERVER_ERROR)).toBe(true);
    // 2: suppress 2.xx only
    expect(suppressesResponse(2, CoapCode.CHANGED)).toBe(true);
    expect(suppressesResponse(2, CoapCode.BAD_REQUEST)).toBe(false);
    // 8: 4.xx only; 16: 5.xx only
    expect(suppressesResponse(8, CoapCode.BAD_REQUEST)).toBe(true);
    expect(suppressesResponse(8, CoapCode.SERVICE_UNAVAILABLE)).toBe(false);
    expect(suppressesResponse(16, CoapCode.SERVICE_UNAVAILABLE)).toBe(true);
    // 0 or absent: interested in all responses
    expect(suppressesResponse(0, CoapCode.CONTENT)).toBe(false);
    expect(suppressesResponse(undefined, CoapCode.CONTENT)).toBe(false);
  });
});
