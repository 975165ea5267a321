import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import {
  buildNode,
  buildObjects,
  defaultObjectModelRegistry,
  flatten,
  Lwm2mPath,
  lwm2mObject,
  multipleResource,
  nodesEqual,
  objectInstance,
  resourceInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { nodeWithPathArb, allTypesModel } from './fixtures';

const model = defaultObjectModelRegistry();
const P = (s: string) => Lwm2mPath.parse(s);

describe('node trees and flat path values', () => {
  it('flattens a node into leaves in ascending path order', () => {
    const inst = objectInstance(0, [
      multipleResource(6, 'integer', [
        [1, 5],
        [0, 1],
      ]),
      singleResource(0, 'string', 'OMA'),
    ]);
    expect(flatten(inst, P('/3/0')).map((v) => `${v.path}=${String(v.value)}`)).toEqual([
      '/3/0/0=OMA',
      '/3/0/6/0=1',
      '/3/0/6/1=5',
    ]);
  });

  it('builds the node at the request path back from leaves', () => {
    const leaves = [
      { path: P('/3/0/0'), type: 'string' as const, value: 'OMA' },
      { path: P('/3/0/6/0'), type: 'integer' as const, value: 1 },
    ];
    const expected = objectInstance(0, [
      singleResource(0, 'string', 'OMA'),
      multipleResource(6, 'integer', [[0, 1]]),
    ]);
    expect(nodesEqual(buildNode(leaves, P('/3/0'), model), expected)).toBe(true);
    expect(nodesEqual(buildNode(leaves, P('/3'), model), lwm2mObject(3, [expected]))).toBe(true);
    expect(buildNode([leaves[1]], P('/3/0/6/0'), model)).toEqual(resourceInstance(0, 'integer', 1));
    expect(buildObjects(leaves, model).map((o) => o.id)).toEqual([3]);
  });

  it('builds an empty multiple resource when the model says multiple, and refuses an empty single one', () => {
    expect(buildNode([], P('/3/0/11'), model)).toEqual(multipleResource(11, 'integer', []));
    expect(() => buildNode([], P('/3/0/0'), model)).toThrow(DecodeError);
  });

  it('rejects leaves outside the request path, duplicates and the root path', () => {
    const leaf = { path: P('/3/0/0'), type: 'string' as const, value: 'x' };
    expect(() => buildNode([leaf], P('/4/0'), model)).toThrow(DecodeError);
    expect(() => buildNode([leaf, leaf], P('/3/0'), model)).toThrow(DecodeError);
    expect(() => buildNode([leaf], P('/'), model)).toThrow(DecodeError);
  });

  it('compares values by content: bytes, instants, links, NaN', () => {
    expect(
      nodesEqual(
        singleResource(1, 'opaque', Buffer.from([1])),
        singleResource(1, 'opaque', Buffer.from([1])),
      ),
    ).toBe(true);
    expect(
      nodesEqual(singleResource(1, 'time', new Date(5000)), singleResource(1, 'time', new Date(5000))),
    ).toBe(true);
    expect(nodesEqual(singleResource(1, 'float', NaN), singleResource(1, 'float', NaN))).toBe(true);
    expect(nodesEqual(singleResource(1, 'float', 1), singleResource(1, 'integer', 1))).toBe(false);
    expect(
      nodesEqual(multipleResource(1, 'integer', [[0, 1]]), multipleResource(1, 'integer', [[1, 1]])),
    ).toBe(false);
  });

  it('rebuilds any node with at least one leaf per container from its flattening', () => {
    const m = allTypesModel();
    fc.assert(
      fc.property(nodeWithPathArb({}, undefined, 1), ({ node, path }) => {
        expect(nodesEqual(buildNode(flatten(node, path), path, m), node)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
