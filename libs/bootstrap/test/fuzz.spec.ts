// Network input of the Bootstrap-Server, fuzzed: the Bootstrap-Request query (ep, pct), the configuration a
// REST client sends, and Bootstrap-Discover's link text a client answers with. Each returns or throws its
// one typed error; nothing else escapes, nothing hangs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import { fuzzDecoder } from '../../../test/support/fuzz';
import {
  chooseInstances,
  InvalidBootstrapConfigError,
  parseBootstrapConfig,
  parseBootstrapQuery,
} from '../src';

/** Uri-Query options as the CoAP codec hands them over: the bytes split on NUL into values. */
const asQuery = (b: Buffer) => b.toString('utf8').split('\u0000');

describe('Bootstrap-Request query', () => {
  it('parses the spec form and refuses what is not an Endpoint Client Name', () => {
    expect(parseBootstrapQuery(['ep=urn:imei:1', 'pct=112'])).toEqual({
      endpoint: 'urn:imei:1',
      preferredContentFormat: 112,
    });
    for (const bad of [
      [],
      ['ep='],
      ['ep=a', 'ep=b'],
      ['ep=a\u0001b'],
      ['ep=a', 'pct=x'],
      ['ep=' + 'a'.repeat(200)],
    ])
      expect(() => parseBootstrapQuery(bad)).toThrow(DecodeError);
  });

  it('survives fuzzed queries: a result or a DecodeError', () => {
    const report = fuzzDecoder({
      name: 'parseBootstrapQuery',
      decode: (b) => parseBootstrapQuery(asQuery(b)),
      seeds: [Buffer.from('ep=urn:imei:1\u0000pct=112'), Buffer.from('ep=dev\u0000x=1\u0000pct=11542')],
      seed: 0xb0075,
    });
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.rejected).toBeGreaterThan(0);
  });

  it('any string array: a result or a DecodeError (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 300 }), { maxLength: 8 }), (q) => {
        try {
          const p = parseBootstrapQuery(q);
          expect(p.endpoint.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('bootstrap configuration (REST body)', () => {
  it('any JSON value: a configuration or an InvalidBootstrapConfigError', () => {
    const server = fc.record(
      {
        shortServerId: fc.oneof(fc.integer({ min: -2, max: 70_000 }), fc.string()),
        uri: fc.oneof(fc.constant('coaps://h:5684'), fc.constant('coap://h'), fc.string()),
        security: fc.oneof(fc.constant('psk'), fc.constant('nosec'), fc.string()),
        psk: fc.anything(),
        lifetime: fc.anything(),
        binding: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            { servers: fc.array(server, { maxLength: 3 }), acls: fc.anything(), read: fc.anything() },
            { requiredKeys: [] },
          ),
        ),
        (body) => {
          try {
            parseBootstrapConfig(body);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidBootstrapConfigError);
          }
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe("Bootstrap-Discover's answer", () => {
  it('any link text yields distinct instance ids, never one the client still holds', () => {
    const config = parseBootstrapConfig({
      servers: [
        { shortServerId: 1, uri: 'coap://a', security: 'nosec' },
        { shortServerId: 2, uri: 'coap://b', security: 'nosec' },
      ],
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 }))),
        fc.string(),
        (held, junk) => {
          const links = [junk, ...held.map(([o, i]) => `</${o}/${i}>`)].join(',');
          const ids = chooseInstances(config, links);
          const sec = Object.values(ids.security);
          expect(new Set(sec).size).toBe(2);
          for (const id of sec) expect(held.some(([o, i]) => o === 0 && i === id)).toBe(false);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
