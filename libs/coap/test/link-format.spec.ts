import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodeError } from '@lwm2m/bytes';
import { fuzzDecoder } from '../../../test/support/fuzz';
import {
  decodeLinkFormat,
  encodeLinkFormat,
  getAttribute,
  getAttributes,
  type Link,
  parseLinkFormat,
  serializeLinkFormat,
  splitRelationTypes,
} from '../src';

function reasonOf(text: string): string | undefined {
  try {
    parseLinkFormat(text);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).codec).toBe('link-format');
    return (e as DecodeError).reason;
  }
  return undefined;
}

/** RFC 6690 section 5 examples (written on one line; the RFC wraps them after each comma). */
const rfc6690Examples = [
  // section 5: GET /.well-known/core
  '</sensors/temp>;if="sensor",</sensors/light>;if="sensor"',
  // section 5: GET /.well-known/core?rt=light-lux
  '</sensors/light>;rt="light-lux";if="sensor"',
  // section 5.1: sensors index with ct=40
  '</sensors>;ct=40',
  // sections 5.2/5.3: titles, anchors and relations
  '</sensors>;ct=40;title="Sensor Index",</sensors/temp>;rt="temperature-c";if="sensor",' +
    '</sensors/light>;rt="light-lux";if="sensor",' +
    '<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby",' +
    '</t>;anchor="/sensors/temp";rel="alternate"',
];

describe('RFC 6690 section 5 examples', () => {
  it.each(rfc6690Examples)('parses and serializes back to the same text: %s', (text) => {
    expect(serializeLinkFormat(parseLinkFormat(text))).toBe(text);
  });

  it('reads the anchor example into targets and unquoted attributes', () => {
    const links = parseLinkFormat(rfc6690Examples[3]);
    expect(links).toHaveLength(5);
    expect(links[0]).toEqual({
      target: '/sensors',
      attributes: [
        { name: 'ct', value: '40' },
        { name: 'title', value: 'Sensor Index', quoted: true },
      ],
    });
    expect(links[3].target).toBe('http://www.example.com/sensors/t123');
    expect(getAttribute(links[3], 'anchor')).toBe('/sensors/temp');
    expect(getAttribute(links[3], 'rel')).toBe('describedby');
  });

  it('accepts the wrapped form with a newline after each comma', () => {
    const wrapped = rfc6690Examples[3].replace(/,</g, ',\n<');
    expect(parseLinkFormat(wrapped)).toEqual(parseLinkFormat(rfc6690Examples[3]));
  });
});

describe('LwM2M payloads', () => {
  it('parses a registration payload (TS 1.1 Transport: objects and instances)', () => {
    const text = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1,</3303/0>';
    const links = parseLinkFormat(text);
    expect(links.map((l) => l.target)).toEqual(['/', '/1/0', '/3/0', '/3303/0']);
    expect(getAttribute(links[0], 'rt')).toBe('oma.lwm2m');
    expect(getAttribute(links[0], 'ct')).toBe('11543');
    expect(getAttribute(links[2], 'ver')).toBe('1.1');
    expect(links[1].attributes).toEqual([]);
    expect(serializeLinkFormat(links)).toBe(text);
  });

  it('parses a Discover response with attributes', () => {
    const text = '</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=8;gt=50';
    const links = parseLinkFormat(text);
    expect(links).toHaveLength(3);
    expect(getAttribute(links[0], 'pmin')).toBe('10');
    expect(getAttribute(links[0], 'pmax')).toBe('60');
    expect(getAttribute(links[2], 'dim')).toBe('8');
    expect(getAttribute(links[2], 'gt')).toBe('50');
    expect(serializeLinkFormat(links)).toBe(text);
  });
});

describe('parseLinkFormat grammar (RFC 6690 section 2)', () => {
  it('returns [] for an empty document', () => {
    expect(parseLinkFormat('')).toEqual([]);
    expect(decodeLinkFormat(Buffer.alloc(0))).toEqual([]);
  });

  it('keeps bare attributes without a value', () => {
    const [link] = parseLinkFormat('</obs>;obs;rt="x"');
    expect(link.attributes[0]).toEqual({ name: 'obs' });
    expect(getAttribute(link, 'obs')).toBe('');
    expect(getAttribute(link, 'missing')).toBeUndefined();
    expect(serializeLinkFormat([link])).toBe('</obs>;obs;rt="x"');
  });

  it('unescapes quoted-strings and allows commas and semicolons inside quotes', () => {
    const links = parseLinkFormat('</a>;title="a, b; \\"c\\" \\\\ d",</b>;rt="x y"');
    expect(links).toHaveLength(2);
    expect(getAttribute(links[0], 'title')).toBe('a, b; "c" \\ d');
    expect(splitRelationTypes(getAttribute(links[1], 'rt')!)).toEqual(['x', 'y']);
    expect(parseLinkFormat(serializeLinkFormat(links))).toEqual(links);
  });

  it('keeps repeated attributes in order', () => {
    const [link] = parseLinkFormat('</a>;rt=one;rt="two"');
    expect(getAttributes(link, 'rt')).toEqual(['one', 'two']);
  });

  it('reads ptoken values with the characters the ABNF allows', () => {
    const [link] = parseLinkFormat("</a>;x=!#$%&'()*+-./:<=>?@[]^_`{|}~09azAZ;title*=UTF-8'de'n%c3%a4chstes");
    expect(getAttribute(link, 'x')).toBe("!#$%&'()*+-./:<=>?@[]^_`{|}~09azAZ");
    expect(getAttribute(link, 'title*')).toBe("UTF-8'de'n%c3%a4chstes");
  });

  it.each([
    ['text without a link', 'hello', 'expected-target'],
    ['a target without ">"', '</a;ct=0', 'unterminated-target'],
    ['a space inside a target', '</a b>', 'bad-target'],
    ['an empty parameter name', '</a>;=1', 'bad-param-name'],
    ['an empty value', '</a>;ct=', 'bad-ptoken'],
    ['an unterminated quoted-string', '</a>;rt="abc', 'unterminated-quoted-string'],
    ['a trailing backslash in a quoted-string', '</a>;rt="abc\\', 'unterminated-quoted-string'],
    ['a control character in a quoted-string', '</a>;rt="a\u0001"', 'bad-quoted-string'],
    ['garbage after a link', '</a>x', 'expected-separator'],
    ['a trailing comma', '</a>,', 'expected-target'],
    ['a value with a space', '</a>;ct=1 2', 'expected-separator'],
  ])('rejects %s', (_name, text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it('rejects a payload that is not UTF-8', () => {
    expect(() => decodeLinkFormat(Buffer.from([0x3c, 0xff, 0x3e]))).toThrow(DecodeError);
  });
});

describe('serializeLinkFormat', () => {
  it('quotes values that are not ptokens, and anchor and title always', () => {
    const links: Link[] = [
      {
        target: '/a',
        attributes: [
          { name: 'rt', value: 'oma.lwm2m' },
          { name: 'if', value: 'a b' },
          { name: 'title', value: 'T' },
          { name: 'x', value: '' },
          { name: 'q', value: 'say "hi"' },
        ],
      },
    ];
    expect(serializeLinkFormat(links)).toBe('</a>;rt=oma.lwm2m;if="a b";title="T";x="";q="say \\"hi\\""');
    expect(encodeLinkFormat(links).toString()).toBe(serializeLinkFormat(links));
  });

  it('escapes control characters as quoted-pairs so the output parses back', () => {
    const links: Link[] = [
      { target: '/a', attributes: [{ name: 'title', value: 'line\nbreak', quoted: true }] },
    ];
    expect(parseLinkFormat(serializeLinkFormat(links))).toEqual(links);
  });
});

const targetChar = fc.constantFrom(..."abcXYZ019/-._~:?#[]@!$&'()*+,;=".split(''));
const arbLink: fc.Arbitrary<Link> = fc.record({
  target: fc.array(targetChar, { maxLength: 20 }).map((cs) => cs.join('')),
  attributes: fc.array(
    fc.oneof(
      fc.record({ name: fc.constantFrom('rt', 'ct', 'if', 'obs', 'x-y', 'title*') }),
      fc.record({
        name: fc.constantFrom('rt', 'ct', 'if', 'pmin', 'anchor', 'title'),
        value: fc.oneof(
          fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 12 }),
            fc.string({ unit: 'binary', maxLength: 6 }),
          ),
          fc.constantFrom('1.1', '11543', 'oma.lwm2m'),
        ),
      }),
    ),
    { maxLength: 5 },
  ),
});

/** What a parse gives back: quoted set where the serializer had to quote. */
function normalized(links: Link[]): Link[] {
  return parseLinkFormat(serializeLinkFormat(links));
}

describe('link format round trip (fast-check)', () => {
  it('parse(serialize(links)) keeps targets, names and values', () => {
    fc.assert(
      fc.property(fc.array(arbLink, { maxLength: 6 }), (links) => {
        const back = normalized(links);
        expect(back.map((l) => l.target)).toEqual(links.map((l) => l.target));
        expect(back.map((l) => l.attributes.map((a) => [a.name, a.value]))).toEqual(
          links.map((l) => l.attributes.map((a) => [a.name, a.value])),
        );
        // and once normalized, serialize/parse is the identity
        expect(normalized(back)).toEqual(back);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeLinkFormat under fuzzing', () => {
  it('throws only DecodeError over 100k mutated payloads', () => {
    const seeds = [
      ...rfc6690Examples,
      '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1,</3303/0>',
      '</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=8;gt=50',
      '</a>;title="a, b; \\"c\\"";obs',
    ].map((s) => Buffer.from(s));
    const report = fuzzDecoder({ name: 'decodeLinkFormat', decode: decodeLinkFormat, seeds, seed: 0x6690 });
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.reasons.size).toBeGreaterThan(5);
  });
});
