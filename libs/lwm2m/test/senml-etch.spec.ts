import { DecodeError } from '@lwm2m/bytes';
import { describe, expect, it } from 'vitest';
import { fuzzDecoder } from '../../../test/support/fuzz';
import { ContentFormat } from '../src/formats/codec';
import { contentFormatName, parseContentFormat } from '../src/formats/registry';
import { decodeSenmlPatch, encodeSenmlPatch, isSenmlEtch } from '../src/formats/senml-etch';
import { singleResource } from '../src/node';
import { Lwm2mPath } from '../src/path';
import { testModel } from './fixtures';

const JSON_CF = ContentFormat.SENML_ETCH_JSON;
const CBOR_CF = ContentFormat.SENML_ETCH_CBOR;
const json = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('SenML FETCH/PATCH packs (RFC 8790 section 5)', () => {
  it('names 320 and 322 as the senml-etch media types', () => {
    expect(contentFormatName(320)).toBe('application/senml-etch+json');
    expect(contentFormatName(322)).toBe('application/senml-etch+cbor');
    expect(parseContentFormat('etch-cbor')).toBe(322);
    expect(isSenmlEtch(320) && isSenmlEtch(322) && !isSenmlEtch(110)).toBe(true);
  });

  it('reads a JSON patch: values to set, and a null value as a removal', () => {
    const patch = decodeSenmlPatch(
      json('[{"bn":"/3/0/","n":"15","vs":"Europe/Paris"},{"n":"7/1","v":null}]'),
      JSON_CF,
      testModel,
    );
    expect(patch.removed.map(String)).toEqual(['/3/0/7/1']);
    expect(patch.set).toHaveLength(1);
    expect(patch.set[0]!.path.toString()).toBe('/3/0/15');
    expect(patch.set[0]!.node).toMatchObject({
      kind: 'singleResource',
      type: 'string',
      value: 'Europe/Paris',
    });
  });

  it('round-trips a patch through CBOR and JSON, removals before values', () => {
    for (const cf of [JSON_CF, CBOR_CF]) {
      const set = [{ path: new Lwm2mPath(3, 0, 15), node: singleResource(15, 'string', 'UTC') }];
      const bytes = encodeSenmlPatch({ set, removed: [new Lwm2mPath(3, 0, 7, 0)] }, cf);
      const back = decodeSenmlPatch(bytes, cf, testModel);
      expect(back.removed.map(String)).toEqual(['/3/0/7/0']);
      expect(back.set.map((n) => n.path.toString())).toEqual(['/3/0/15']);
    }
    expect(encodeSenmlPatch({ set: [], removed: [new Lwm2mPath(3, 0, 7, 0)] }, JSON_CF).toString()).toBe(
      '[{"n":"/3/0/7/0","v":null}]',
    );
  });

  it('refuses a record with neither value nor null, and the removal of a whole instance', () => {
    expect(() => decodeSenmlPatch(json('[{"n":"/3/0/15"}]'), JSON_CF, testModel)).toThrow(DecodeError);
    expect(() => decodeSenmlPatch(json('[{"n":"/3/0","v":null}]'), JSON_CF, testModel)).toThrow(
      /cannot remove/,
    );
  });

  it('survives 100k fuzzed JSON and CBOR patches with only DecodeError', () => {
    const seedJson = json(
      '[{"bn":"/3/0/","n":"15","vs":"Europe/Paris"},{"n":"7/1","v":null},{"n":"9","v":80}]',
    );
    const seedCbor = encodeSenmlPatch(decodeSenmlPatch(seedJson, JSON_CF, testModel), CBOR_CF);
    for (const [cf, seed] of [
      [JSON_CF, seedJson],
      [CBOR_CF, seedCbor],
    ] as const) {
      const report = fuzzDecoder({
        name: `senml-etch ${cf}`,
        decode: (b) => decodeSenmlPatch(b, cf, testModel),
        seeds: [seed],
        runs: 50_000,
        seed: cf,
      });
      expect(report.rejected).toBeGreaterThan(0);
      expect(report.accepted).toBeGreaterThan(0);
    }
  });
});
