// Content-Format registry: numbers, IANA names and the server's choice of format per LwM2M version.
import { describe, expect, it } from 'vitest';
import { ContentFormat } from '../src/formats/codec';
import {
  contentFormatName,
  getCompositeCodec,
  getNodeCodec,
  parseContentFormat,
  preferredContentFormat,
  UnsupportedContentFormatError,
} from '../src/formats/registry';
import { singleResource } from '../src/node';
import { Lwm2mPath } from '../src/path';
import { testModel } from './fixtures';

const { TEXT, LINK, OPAQUE, CBOR, SENML_JSON, SENML_CBOR, TLV, JSON, LWM2M_CBOR } = ContentFormat;

describe('Content-Format registry', () => {
  it('names every LwM2M Content-Format by its IANA media type', () => {
    expect(
      [TEXT, LINK, OPAQUE, CBOR, SENML_JSON, SENML_CBOR, TLV, JSON, LWM2M_CBOR].map(contentFormatName),
    ).toEqual([
      'text/plain',
      'application/link-format',
      'application/octet-stream',
      'application/cbor',
      'application/senml+json',
      'application/senml+cbor',
      'application/vnd.oma.lwm2m+tlv',
      'application/vnd.oma.lwm2m+json',
      'application/vnd.oma.lwm2m+cbor',
    ]);
    expect(contentFormatName(50)).toBeUndefined();
  });

  it('parses short names, media types and numbers, ignoring case', () => {
    const cases: Array<[string, number]> = [
      ['tlv', TLV],
      ['senml-json', SENML_JSON],
      ['senml+json', SENML_JSON],
      ['senml-cbor', SENML_CBOR],
      ['lwm2m-cbor', LWM2M_CBOR],
      ['cbor', CBOR],
      ['json', JSON],
      ['text', TEXT],
      ['opaque', OPAQUE],
      ['link', LINK],
      ['Application/SenML+CBOR', SENML_CBOR],
      ['application/vnd.oma.lwm2m+tlv', TLV],
      ['11542', TLV],
      [' 112 ', SENML_CBOR],
      ['65535', 65535],
    ];
    for (const [text, cf] of cases) expect(parseContentFormat(text), text).toBe(cf);
    for (const bad of ['', 'xml', '65536', '-1', '1.5', 'senml']) {
      expect(parseContentFormat(bad), bad).toBeUndefined();
    }
  });

  it('gives a node codec for each format it can encode, and composite codecs only for SenML and LwM2M CBOR', () => {
    for (const cf of [TEXT, OPAQUE, SENML_JSON, SENML_CBOR, TLV, JSON, LWM2M_CBOR]) {
      expect(getNodeCodec(cf)?.contentFormat, String(cf)).toBe(cf);
    }
    expect(getNodeCodec(LINK)).toBeUndefined();
    expect(getNodeCodec(CBOR)).toBeUndefined();
    expect(getNodeCodec(9999)).toBeUndefined();
    expect([SENML_JSON, SENML_CBOR, LWM2M_CBOR].map((cf) => getCompositeCodec(cf)?.contentFormat)).toEqual([
      SENML_JSON,
      SENML_CBOR,
      LWM2M_CBOR,
    ]);
    for (const cf of [TEXT, OPAQUE, TLV, JSON, CBOR])
      expect(getCompositeCodec(cf), String(cf)).toBeUndefined();
  });

  it('hands back codecs that round-trip a value', () => {
    const path = new Lwm2mPath(3, 0, 0);
    const node = singleResource(0, 'string', 'Open Mobile Alliance');
    for (const cf of [TEXT, TLV, SENML_JSON, SENML_CBOR, LWM2M_CBOR, JSON]) {
      const codec = getNodeCodec(cf)!;
      expect(codec.decode(codec.encode(node, path, testModel), path, testModel), String(cf)).toEqual(node);
    }
  });
});

describe('preferred Content-Format', () => {
  it('uses TLV for LwM2M 1.0 clients, for single values too', () => {
    expect(preferredContentFormat({ lwm2mVersion: '1.0' })).toBe(TLV);
    expect(preferredContentFormat({ lwm2mVersion: '1.0', single: true })).toBe(TLV);
    expect(preferredContentFormat({ lwm2mVersion: '1.0', supported: [SENML_JSON] })).toBe(TLV);
  });

  it('prefers SenML CBOR, then SenML JSON, then TLV for LwM2M 1.1 clients', () => {
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [SENML_JSON, SENML_CBOR, TLV] })).toBe(
      SENML_CBOR,
    );
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [TLV, SENML_JSON] })).toBe(SENML_JSON);
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [TLV] })).toBe(TLV);
    expect(preferredContentFormat({ lwm2mVersion: '1.1' })).toBe(TLV);
    // LwM2M CBOR is a 1.2 format: a 1.1 client declaring it does not get it
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [LWM2M_CBOR, SENML_JSON] })).toBe(
      SENML_JSON,
    );
  });

  it('prefers LwM2M CBOR for LwM2M 1.2 clients that declare it, then the 1.1 order', () => {
    const all = [TLV, SENML_JSON, SENML_CBOR, LWM2M_CBOR];
    expect(preferredContentFormat({ lwm2mVersion: '1.2', supported: all })).toBe(LWM2M_CBOR);
    expect(preferredContentFormat({ lwm2mVersion: '1.2', supported: [SENML_JSON, SENML_CBOR] })).toBe(
      SENML_CBOR,
    );
    expect(preferredContentFormat({ lwm2mVersion: '1.2', supported: [SENML_JSON] })).toBe(SENML_JSON);
    expect(preferredContentFormat({ lwm2mVersion: '1.2', supported: [TLV] })).toBe(TLV);
    expect(preferredContentFormat({ lwm2mVersion: '1.2' })).toBe(TLV);
  });

  it('sends a single value as text/plain when the declared formats carry no multi-value format', () => {
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [CBOR], single: true })).toBe(TEXT);
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [CBOR] })).toBe(TLV);
    expect(preferredContentFormat({ lwm2mVersion: '1.1', supported: [SENML_JSON], single: true })).toBe(
      SENML_JSON,
    );
  });

  it('never picks TLV for composite operations', () => {
    expect(
      preferredContentFormat({ lwm2mVersion: '1.1', supported: [TLV, SENML_JSON], composite: true }),
    ).toBe(SENML_JSON);
    expect(preferredContentFormat({ lwm2mVersion: '1.2', supported: [LWM2M_CBOR], composite: true })).toBe(
      LWM2M_CBOR,
    );
    expect(preferredContentFormat({ lwm2mVersion: '1.1', composite: true })).toBe(SENML_CBOR);
    expect(() => preferredContentFormat({ lwm2mVersion: '1.1', supported: [TLV], composite: true })).toThrow(
      UnsupportedContentFormatError,
    );
    expect(() => preferredContentFormat({ lwm2mVersion: '1.0', composite: true })).toThrow(
      UnsupportedContentFormatError,
    );
  });
});
