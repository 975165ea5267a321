import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import { decodeLwm2mLinks, Lwm2mPath, lwm2mLink, parseLwm2mLinks, serializeLwm2mLinks } from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';

// TS 1.0.2 section 5.4.2 (Discover; TS 1.1 Core 5.4.2 keeps them), wrapped there for print, joined here.
const DISCOVER_OBJECT =
  '</3>;pmin=10,</3/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/6>,</3/0/7>,</3/0/8>,</3/0/11>,</3/0/16>';
const DISCOVER_INSTANCE =
  '</3/0>;pmax=60,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/6>;dim=8,</3/0/7>;dim=8;gt=50;lt=42.2,</3/0/8>;dim=8,</3/0/11>,</3/0/16>';
const DISCOVER_RESOURCE = '</3/0/7>;dim=8;pmin=10;pmax=60;gt=50;lt=42.2';
// Register payloads (TS 1.1 Core 6.2.1): root link with rt and ct, object versions; an alternate path.
const REGISTER = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>';
const REGISTER_CT_LIST =
  '</>;rt="oma.lwm2m";ct="60 110 112 11542 11543",</1/0>,</3>;ver=1.2,</3/0>,</3442/0>';
const REGISTER_ALTERNATE = '</lwm2m>;rt="oma.lwm2m",</lwm2m/1/101>,</lwm2m/1/102>,</lwm2m/2/0>,</lwm2m/3/0>';

describe('LwM2M links (Core 5.4.2 Discover, 6.2.1 Register)', () => {
  it('parses the Discover examples with typed attributes', () => {
    const obj = parseLwm2mLinks(DISCOVER_OBJECT);
    expect(obj.map((l) => l.path?.toString())).toEqual([
      '/3',
      '/3/0',
      '/3/0/1',
      '/3/0/2',
      '/3/0/3',
      '/3/0/4',
      '/3/0/6',
      '/3/0/7',
      '/3/0/8',
      '/3/0/11',
      '/3/0/16',
    ]);
    expect(obj[0].attributes).toEqual({ pmin: 10 });
    const inst = parseLwm2mLinks(DISCOVER_INSTANCE);
    expect(inst[0].attributes).toEqual({ pmax: 60 });
    expect(inst[6].attributes).toEqual({ dim: 8, gt: 50, lt: 42.2 });
    expect(parseLwm2mLinks(DISCOVER_RESOURCE)[0].attributes).toEqual({
      dim: 8,
      pmin: 10,
      pmax: 60,
      gt: 50,
      lt: 42.2,
    });
  });

  it('reproduces the Discover examples when serializing', () => {
    for (const text of [
      DISCOVER_OBJECT,
      DISCOVER_INSTANCE,
      DISCOVER_RESOURCE,
      REGISTER,
      REGISTER_CT_LIST,
      REGISTER_ALTERNATE,
    ]) {
      expect(serializeLwm2mLinks(parseLwm2mLinks(text))).toBe(text);
    }
  });

  it('tolerates the spaces the printed examples put after commas', () => {
    expect(parseLwm2mLinks('</3/0>;pmax=60, </3/0/1>, </3/0/2>').length).toBe(3);
  });

  it('reads the registration root link: rt, ct as a number or a list, ver per object', () => {
    const [root, ...objects] = parseLwm2mLinks(REGISTER);
    expect(root.path).toBeUndefined();
    expect(root.attributes).toEqual({ rt: 'oma.lwm2m', ct: [11543] });
    expect(objects.map((l) => l.path!.toString())).toEqual(['/1/0', '/3/0']);
    const list = parseLwm2mLinks(REGISTER_CT_LIST);
    expect(list[0].attributes.ct).toEqual([60, 110, 112, 11542, 11543]);
    expect(list[2].attributes.ver).toBe('1.2');
  });

  it('strips an alternate root path announced with rt="oma.lwm2m"', () => {
    const links = parseLwm2mLinks(REGISTER_ALTERNATE);
    expect(links[0].path).toBeUndefined();
    expect(links.slice(1).map((l) => l.path!.toString())).toEqual(['/1/101', '/1/102', '/2/0', '/3/0']);
    expect(serializeLwm2mLinks([lwm2mLink(new Lwm2mPath(3, 0), {}, '/lwm2m')])).toBe('</lwm2m/3/0>');
  });

  it('keeps unknown attributes and writes quoted ver values back unquoted', () => {
    const links = parseLwm2mLinks('</1/0>;ver="1.1";foo="a b";obs');
    expect(links[0].attributes).toEqual({ ver: '1.1' });
    expect(links[0].raw.map((a) => a.name)).toEqual(['ver', 'foo', 'obs']);
    expect(serializeLwm2mLinks(links)).toBe('</1/0>;ver=1.1;foo="a b";obs');
  });

  it('rejects malformed links and non-LwM2M targets with a DecodeError', () => {
    for (const text of [
      '<3/0',
      '</3/0>;pmin=abc',
      '</3/0>;dim',
      '</foo>',
      '</3/0/1/2/3>',
      '</3>;ver=1',
      '</>;ct="x"',
    ]) {
      expect(() => parseLwm2mLinks(text), text).toThrow(DecodeError);
    }
    expect(() => decodeLwm2mLinks(Buffer.from([0x3c, 0xff, 0x3e]))).toThrow(DecodeError);
  });

  it('parses what it serializes', () => {
    const attrs = fc.record(
      {
        pmin: fc.nat(100000),
        pmax: fc.nat(100000),
        gt: fc.double({ noNaN: true, min: -1e6, max: 1e6 }).map((x) => x + 0),
        dim: fc.nat(255),
        ver: fc.tuple(fc.nat(9), fc.nat(9)).map(([a, b]) => `${a}.${b}`),
      },
      { requiredKeys: [] },
    );
    const path = fc
      .array(fc.nat(65535), { minLength: 1, maxLength: 4 })
      .map((ids) => new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]));
    fc.assert(
      fc.property(fc.array(fc.tuple(path, attrs), { maxLength: 8 }), (entries) => {
        const links = entries.map(([p, a]) => lwm2mLink(p, a));
        const parsed = parseLwm2mLinks(serializeLwm2mLinks(links));
        expect(parsed.map((l) => [l.path, l.attributes])).toEqual(links.map((l) => [l.path, l.attributes]));
      }),
    );
  });

  it('survives 100k mutated and random payloads with DecodeError only', () => {
    fuzzDecoder({
      name: 'lwm2m-link',
      seeds: [
        DISCOVER_OBJECT,
        DISCOVER_INSTANCE,
        DISCOVER_RESOURCE,
        REGISTER,
        REGISTER_CT_LIST,
        REGISTER_ALTERNATE,
      ].map((s) => Buffer.from(s)),
      decode: (b) => decodeLwm2mLinks(b),
      runs: 100_000,
      seed: 40,
    });
  });
});
