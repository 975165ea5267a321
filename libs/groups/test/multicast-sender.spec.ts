// A multicast server's answer as a member result (multicast-sender.ts): LwM2M Content-Formats decoded to
// values by the unicast decoder, other formats kept as payload, an undecodable payload kept with an error
// (fuzzed: never a throw); and an observation's later notifications in RFC 7641 order, stale ones ignored.
import { CoapCode, CoapType, createMessage, encodeUint, OptionNumber, type CoapMessage } from '@lwm2m/coap';
import { DEFAULT_GROUP_PROXY_NUMBERS, encodeReplyFrom, type GroupProxy } from '@lwm2m/group-proxy';
import { ContentFormat, defaultObjectModelRegistry, getNodeCodec, Lwm2mPath } from '@lwm2m/lwm2m';
import { nodeFromJsonValues } from '@lwm2m/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberResult, ProxyMulticastSender, resultOfResponse } from '../src';

const models = defaultObjectModelRegistry();
const P300 = Lwm2mPath.parse('/3/0/0');
const maker = [{ path: '/3/0/0', type: 'string', value: 'Acme s0' }];

function encoded(cf: number, values = maker, path = P300): Buffer {
  return getNodeCodec(cf)!.encode(nodeFromJsonValues(values, path, models), path, models);
}

function answer(
  payload: Buffer,
  cf?: number,
  code: number = CoapCode.CONTENT,
  observe?: number,
): CoapMessage {
  const options = [];
  if (observe !== undefined) options.push({ number: OptionNumber.OBSERVE, value: encodeUint(observe) });
  if (cf !== undefined) options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(cf) });
  return createMessage({ type: CoapType.NON, code, options, payload });
}

const ep = 'coap://10.0.0.1:5683';
const asValues = { path: P300, models };

describe('a multicast answer as a member result', () => {
  it.each([
    ['TLV', ContentFormat.TLV],
    ['SenML JSON', ContentFormat.SENML_JSON],
    ['SenML CBOR', ContentFormat.SENML_CBOR],
    ['LwM2M CBOR', ContentFormat.LWM2M_CBOR],
    ['text/plain', ContentFormat.TEXT],
  ])('decodes %s to values, as a device answer is, with no payload', (_, cf) => {
    const r = resultOfResponse(ep, answer(encoded(cf), cf), 7, asValues);
    expect(r).toEqual({
      endpoint: ep,
      state: 'succeeded',
      status: 200,
      coapCode: '2.05',
      contentFormat: cf,
      values: [{ path: '/3/0/0', type: 'string', value: 'Acme s0' }],
      at: 7,
    });
  });

  it('decodes opaque on an opaque resource (base64 in values) and a whole instance in SenML JSON', () => {
    const fw = Lwm2mPath.parse('/5/0/0');
    const blob = Buffer.from([0, 1, 2, 255]);
    const r = resultOfResponse(ep, answer(blob, ContentFormat.OPAQUE), 1, { path: fw, models });
    expect(r.values).toEqual([{ path: '/5/0/0', type: 'opaque', value: blob.toString('base64') }]);
    const inst = Lwm2mPath.parse('/3/0');
    const two = [
      { path: '/3/0/0', type: 'string', value: 'Acme' },
      { path: '/3/0/1', type: 'string', value: 'M1' },
    ];
    const senml = encoded(ContentFormat.SENML_JSON, two, inst);
    expect(
      resultOfResponse(ep, answer(senml, ContentFormat.SENML_JSON), 1, { path: inst, models }).values,
    ).toEqual(two);
  });

  it('keeps non-LwM2M answers as payload: link-format, no Content-Format, text on an object instance, writes', () => {
    const link = resultOfResponse(ep, answer(Buffer.from('</3/0>'), ContentFormat.LINK), 1, asValues);
    expect(link).toMatchObject({ payload: '</3/0>', contentFormat: 40 });
    expect(link.values).toBeUndefined();
    expect(link.error).toBeUndefined();
    expect(resultOfResponse(ep, answer(Buffer.from('hi')), 1, asValues)).toMatchObject({ payload: 'hi' });
    const inst = { path: Lwm2mPath.parse('/3/0'), models };
    expect(resultOfResponse(ep, answer(Buffer.from('hi'), ContentFormat.TEXT), 1, inst)).toMatchObject({
      payload: 'hi',
    });
    // Without asValues (a write's or execute's answer) nothing is decoded.
    const tlv = encoded(ContentFormat.TLV);
    expect(resultOfResponse(ep, answer(tlv, ContentFormat.TLV), 1)).toMatchObject({
      payload: tlv.toString('base64'),
      payloadEncoding: 'base64',
    });
  });

  it('keeps an undecodable LwM2M payload as payload with an error; an error answer is failed', () => {
    const bad = resultOfResponse(ep, answer(Buffer.from('not senml'), ContentFormat.SENML_JSON), 1, asValues);
    expect(bad).toMatchObject({ state: 'succeeded', payload: 'not senml', contentFormat: 110 });
    expect(bad.error).toMatch(/undecodable/);
    expect(bad.values).toBeUndefined();
    const tlv = resultOfResponse(ep, answer(Buffer.from([0xff]), ContentFormat.TLV), 1, asValues);
    expect(tlv).toMatchObject({ payload: '/w==', payloadEncoding: 'base64' });
    expect(tlv.error).toMatch(/undecodable/);
    const nf = resultOfResponse(
      ep,
      answer(Buffer.from('gone'), ContentFormat.TEXT, CoapCode.NOT_FOUND),
      1,
      asValues,
    );
    expect(nf).toMatchObject({
      state: 'failed',
      status: 404,
      coapCode: '4.04',
      payload: 'gone',
      error: 'gone',
    });
  });

  it('never throws on random payloads in any LwM2M format, on any path (fuzzed)', () => {
    const formats = [
      ContentFormat.TLV,
      ContentFormat.SENML_JSON,
      ContentFormat.SENML_CBOR,
      ContentFormat.LWM2M_CBOR,
      ContentFormat.JSON,
      ContentFormat.TEXT,
      ContentFormat.OPAQUE,
      ContentFormat.LINK,
      ContentFormat.SENML_ETCH_JSON,
    ];
    const paths = ['/3', '/3/0', '/3/0/0', '/3/0/7/1', '/5/0/0', '/1234/5/6', '/65535/65534/0'].map((p) =>
      Lwm2mPath.parse(p),
    );
    let decoded = 0;
    let undecodable = 0;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(...formats),
        fc.constantFrom(...paths),
        (bytes, cf, path) => {
          const payload = Buffer.from(bytes);
          const r = resultOfResponse(ep, answer(payload, cf), 1, { path, models });
          expect(r.state).toBe('succeeded');
          if (payload.length === 0) return;
          // Either LwM2M values, or the payload as it came (text or base64).
          if (r.values) {
            decoded++;
            expect(r.payload).toBeUndefined();
          } else {
            const back =
              r.payloadEncoding === 'base64' ? Buffer.from(r.payload!, 'base64') : Buffer.from(r.payload!);
            expect(back.equals(payload)).toBe(true);
            if (r.error) undecodable++;
          }
          expect(() => JSON.stringify(r)).not.toThrow();
        },
      ),
      { numRuns: 5000, seed: 7 },
    );
    // The fuzz reached both sides of the decoder.
    expect(undecodable).toBeGreaterThan(100);
    expect(decoded).toBeGreaterThan(10);
  });
});

describe("a multicast observation's notifications", () => {
  /** A stand-in for the proxy: captures the submitted request's relay leg. */
  function fakeProxy() {
    const legs: Array<{ relay(m: CoapMessage): void; ended?(): void }> = [];
    const proxy = {
      numbers: DEFAULT_GROUP_PROXY_NUMBERS,
      addGroup: () => undefined,
      submit: (_m: CoapMessage, _c: unknown, leg: { relay(m: CoapMessage): void; ended?(): void }) =>
        legs.push(leg),
    } as unknown as GroupProxy;
    return { proxy, legs };
  }
  const from = (host: string, m: CoapMessage): CoapMessage => ({
    ...m,
    options: [
      ...m.options,
      {
        number: DEFAULT_GROUP_PROXY_NUMBERS.replyFromOption,
        value: encodeReplyFrom({ scheme: 'coap', host, port: 5683 }),
      },
    ],
  });
  const senml = (v: string) =>
    encoded(ContentFormat.SENML_JSON, [{ path: '/3/0/0', type: 'string', value: v }]);

  it("keeps each newer notification per server, ignores stale (reordered) ones and a read's duplicates", () => {
    const { proxy, legs } = fakeProxy();
    const sender = new ProxyMulticastSender(proxy);
    const results: MemberResult[] = [];
    const notes: MemberResult[] = [];
    const handlers = {
      result: (r: MemberResult) => results.push(r),
      notification: (r: MemberResult) => notes.push(r),
      ended: () => undefined,
    };
    sender.send({ address: '239.1.1.1', port: 5683 }, { op: 'observe', path: '/3/0/0' }, 5000, handlers);
    const leg = legs[0];
    const cf = ContentFormat.SENML_JSON;
    leg.relay(from('10.0.0.1', answer(senml('v0'), cf, CoapCode.CONTENT, 5)));
    leg.relay(from('10.0.0.2', answer(senml('w0'), cf, CoapCode.CONTENT, 100)));
    leg.relay(from('10.0.0.1', answer(senml('v1'), cf, CoapCode.CONTENT, 6)));
    leg.relay(from('10.0.0.1', answer(senml('old'), cf, CoapCode.CONTENT, 4))); // reordered: older
    leg.relay(from('10.0.0.1', answer(senml('v1 again'), cf, CoapCode.CONTENT, 6))); // not newer
    leg.relay(from('10.0.0.1', answer(senml('v2'), cf, CoapCode.CONTENT, 8)));
    leg.relay(from('10.0.0.2', answer(senml('no observe'), cf))); // not a notification
    leg.relay(from('10.0.0.2', answer(Buffer.alloc(0), undefined, CoapCode.NOT_FOUND, 101)));
    expect(results.map((r) => [r.endpoint, r.values?.[0]?.value, r.observe])).toEqual([
      ['coap://10.0.0.1:5683', 'v0', 5],
      ['coap://10.0.0.2:5683', 'w0', 100],
    ]);
    expect(notes.map((r) => [r.endpoint, r.values?.[0]?.value, r.observe, r.notifications])).toEqual([
      ['coap://10.0.0.1:5683', 'v1', 6, 1],
      ['coap://10.0.0.1:5683', 'v2', 8, 2],
    ]);
    expect(sender.counters).toMatchObject({ notifications: 2, ignored: 4, undecodable: 0 });

    // A read keeps one result per server: a second answer is nothing new.
    const readResults: MemberResult[] = [];
    const readNotes: MemberResult[] = [];
    sender.send({ address: '239.1.1.1', port: 5683 }, { op: 'read', path: '/3/0/0' }, 5000, {
      result: (r) => readResults.push(r),
      notification: (r) => readNotes.push(r),
      ended: () => undefined,
    });
    legs[1].relay(from('10.0.0.1', answer(senml('r0'), cf, CoapCode.CONTENT, 1)));
    legs[1].relay(from('10.0.0.1', answer(senml('r1'), cf, CoapCode.CONTENT, 2)));
    legs[1].relay(from('10.0.0.3', answer(Buffer.from('junk'), cf)));
    expect(readResults.map((r) => r.values?.[0]?.value ?? r.payload)).toEqual(['r0', 'junk']);
    expect(readNotes).toEqual([]);
    expect(sender.counters.undecodable).toBe(1);
  });
});
