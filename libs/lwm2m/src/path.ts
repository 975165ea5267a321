// LwM2M TS 1.2 Core section 6.1 / 7.2: the /ObjectID/ObjectInstanceID/ResourceID/ResourceInstanceID path.
import { DecodeError } from '@lwm2m/bytes';

const MAX_ID = 65535;

/** A path at one of the five levels: / (root), /o, /o/i, /o/i/r, /o/i/r/ri. Immutable. */
export class Lwm2mPath {
  readonly objectId?: number;
  readonly instanceId?: number;
  readonly resourceId?: number;
  readonly resourceInstanceId?: number;

  constructor(objectId?: number, instanceId?: number, resourceId?: number, resourceInstanceId?: number) {
    const ids = [objectId, instanceId, resourceId, resourceInstanceId];
    let seenUndefined = false;
    for (const id of ids) {
      if (id === undefined) {
        seenUndefined = true;
        continue;
      }
      if (seenUndefined) throw new DecodeError('bad-path', 'path ids must be given from the left', 'path');
      if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
        throw new DecodeError('bad-path', `path id ${id} is not in 0..${MAX_ID}`, 'path');
      }
    }
    this.objectId = objectId;
    this.instanceId = instanceId;
    this.resourceId = resourceId;
    this.resourceInstanceId = resourceInstanceId;
  }

  static readonly ROOT = new Lwm2mPath();

  /** Parse "/3/0/1", "3/0/1" or "/" . Throws DecodeError on anything else. */
  static parse(text: string): Lwm2mPath {
    if (text.length > 32) throw new DecodeError('bad-path', 'path too long', 'path');
    const trimmed = text.startsWith('/') ? text.slice(1) : text;
    if (trimmed === '') return Lwm2mPath.ROOT;
    const parts = trimmed.split('/');
    if (parts.length > 4) throw new DecodeError('bad-path', `too many path segments in "${text}"`, 'path');
    const ids = parts.map((p) => {
      if (!/^(0|[1-9][0-9]{0,4})$/.test(p)) {
        throw new DecodeError('bad-path', `"${p}" is not a path id`, 'path');
      }
      return Number(p);
    });
    return new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]);
  }

  /** From CoAP Uri-Path segments. */
  static fromSegments(segments: readonly string[]): Lwm2mPath {
    return Lwm2mPath.parse('/' + segments.join('/'));
  }

  /** 0 = root, 1 = object, 2 = instance, 3 = resource, 4 = resource instance. */
  get depth(): 0 | 1 | 2 | 3 | 4 {
    if (this.objectId === undefined) return 0;
    if (this.instanceId === undefined) return 1;
    if (this.resourceId === undefined) return 2;
    if (this.resourceInstanceId === undefined) return 3;
    return 4;
  }

  isRoot(): boolean {
    return this.depth === 0;
  }
  isObject(): boolean {
    return this.depth === 1;
  }
  isObjectInstance(): boolean {
    return this.depth === 2;
  }
  isResource(): boolean {
    return this.depth === 3;
  }
  isResourceInstance(): boolean {
    return this.depth === 4;
  }

  ids(): number[] {
    return [this.objectId, this.instanceId, this.resourceId, this.resourceInstanceId].filter(
      (x): x is number => x !== undefined,
    );
  }

  segments(): string[] {
    return this.ids().map(String);
  }

  /** One level down. */
  child(id: number): Lwm2mPath {
    const ids = this.ids();
    if (ids.length >= 4) throw new DecodeError('bad-path', 'a resource instance has no children', 'path');
    ids.push(id);
    return new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]);
  }

  parent(): Lwm2mPath {
    const ids = this.ids();
    ids.pop();
    return new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]);
  }

  /** True when this path equals other or is an ancestor of it. */
  startsWith(other: Lwm2mPath): boolean {
    const a = this.ids();
    const b = other.ids();
    return b.length <= a.length && b.every((id, i) => a[i] === id);
  }

  equals(other: Lwm2mPath): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    return '/' + this.segments().join('/');
  }

  /** Order used by encoders: by object, instance, resource, resource instance; shorter first. */
  static compare(a: Lwm2mPath, b: Lwm2mPath): number {
    const x = a.ids();
    const y = b.ids();
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }
}
