// Round-trip properties shared by the three composite codecs (SenML JSON, SenML CBOR, LwM2M CBOR).
import fc from 'fast-check';
import { expect } from 'vitest';
import type { CompositeCodec } from '../src/formats/codec';
import { flatten, nodePath } from '../src/tree';
import type { CompositeNodes, PathValue } from '../src/node';
import { Lwm2mPath } from '../src/path';
import type { ResourceType } from '../src/value';
import { VALUE_TYPES, arbNodeAtPath, arbObject, arbPath, emptyModel, type ValueOptions } from './fixtures';

/** Leaves of composite nodes in path order: the format-independent content of a payload. */
export function leavesOf(nodes: CompositeNodes): PathValue[] {
  return nodes
    .flatMap(({ path, node }) => flatten(node, nodePath(node, path, 'test')))
    .sort((a, b) => a.path.toString().localeCompare(b.path.toString()));
}

export function nodeRoundTrip(
  codec: CompositeCodec,
  types: ResourceType[] = VALUE_TYPES,
  opts: ValueOptions = {},
): void {
  fc.assert(
    fc.property(arbNodeAtPath(types, opts), ({ node, path, model }) => {
      expect(codec.decode(codec.encode(node, path, model), path, model)).toEqual(node);
    }),
    { numRuns: 300 },
  );
}

/** Without a model, values come back with the type they carry: only types the wire tells apart. */
export function inferredRoundTrip(codec: CompositeCodec, types: ResourceType[]): void {
  fc.assert(
    fc.property(arbNodeAtPath(types), ({ node, path }) => {
      expect(codec.decode(codec.encode(node, path, emptyModel), path, emptyModel)).toEqual(node);
    }),
    { numRuns: 300 },
  );
}

export function compositeRoundTrip(codec: CompositeCodec, opts: ValueOptions = {}): void {
  fc.assert(
    fc.property(
      fc.uniqueArray(arbObject(VALUE_TYPES, opts), {
        minLength: 1,
        maxLength: 3,
        selector: (o) => o.object.id,
      }),
      (objects) => {
        const nodes: CompositeNodes = objects.map(({ object }) => ({
          path: new Lwm2mPath(object.id),
          node: object,
        }));
        const model = {
          getObject: (o: number) => objects.find((x) => x.object.id === o)?.model.getObject(o),
          getResource: (o: number, r: number) =>
            objects.find((x) => x.object.id === o)?.model.getResource(o, r),
        };
        expect(leavesOf(codec.decodeComposite(codec.encodeComposite(nodes, model), model))).toEqual(
          leavesOf(nodes),
        );
      },
    ),
    { numRuns: 200 },
  );
}

/** `nested: false` for formats where /3 and /3/0 cannot both be named (LwM2M CBOR), which also sort. */
export function pathsRoundTrip(codec: CompositeCodec, nested = true): void {
  const disjoint = (ps: Lwm2mPath[]): boolean =>
    ps.every((a, i) => ps.every((b, j) => i === j || !a.startsWith(b)));
  fc.assert(
    fc.property(fc.uniqueArray(arbPath, { maxLength: 5, selector: (p) => p.toString() }), (paths) => {
      fc.pre(nested || disjoint(paths));
      const expected = nested ? paths : [...paths].sort(Lwm2mPath.compare);
      expect(codec.decodePaths(codec.encodePaths(paths)).map(String)).toEqual(expected.map(String));
    }),
    { numRuns: 300 },
  );
}

export { emptyModel };
