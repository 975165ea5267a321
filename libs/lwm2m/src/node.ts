// LwM2M TS 1.2 Core section 6.1 (Resource Model): Object -> Object Instance -> Resource -> Resource Instance.
// Every content-format codec turns bytes into these nodes and back.
import type { Lwm2mPath } from './path';
import type { Lwm2mValue, ResourceType } from './value';

export interface Lwm2mResourceInstance {
  kind: 'resourceInstance';
  id: number;
  type: ResourceType;
  value: Lwm2mValue;
}

export interface Lwm2mSingleResource {
  kind: 'singleResource';
  id: number;
  type: ResourceType;
  value: Lwm2mValue;
}

export interface Lwm2mMultipleResource {
  kind: 'multipleResource';
  id: number;
  type: ResourceType;
  /** Resource instance id -> value, in ascending id order when encoded. */
  instances: Map<number, Lwm2mValue>;
}

export type Lwm2mResource = Lwm2mSingleResource | Lwm2mMultipleResource;

export interface Lwm2mObjectInstance {
  kind: 'instance';
  id: number;
  resources: Map<number, Lwm2mResource>;
}

export interface Lwm2mObject {
  kind: 'object';
  id: number;
  instances: Map<number, Lwm2mObjectInstance>;
}

export type Lwm2mNode =
  Lwm2mObject | Lwm2mObjectInstance | Lwm2mSingleResource | Lwm2mMultipleResource | Lwm2mResourceInstance;

/** A flat (path, value) pair: one leaf of a node tree. `time` is seconds since the epoch (SenML t). */
export interface PathValue {
  path: Lwm2mPath;
  type: ResourceType;
  value: Lwm2mValue;
  time?: number;
}

/** Several nodes at several paths (Read-Composite response, Write-Composite, Send). */
export type CompositeNodes = Array<{ path: Lwm2mPath; node: Lwm2mNode }>;

/** Nodes grouped by timestamp (Send and notifications with historical data, LwM2M 1.1 section 7.4.7). */
export type TimestampedNodes = Array<{ time?: number; nodes: CompositeNodes }>;

// Small constructors so that tests and callers build trees without boilerplate.
export const singleResource = (id: number, type: ResourceType, value: Lwm2mValue): Lwm2mSingleResource => ({
  kind: 'singleResource',
  id,
  type,
  value,
});

export const multipleResource = (
  id: number,
  type: ResourceType,
  instances: Map<number, Lwm2mValue> | Array<[number, Lwm2mValue]>,
): Lwm2mMultipleResource => ({
  kind: 'multipleResource',
  id,
  type,
  instances: instances instanceof Map ? instances : new Map(instances),
});

export const resourceInstance = (
  id: number,
  type: ResourceType,
  value: Lwm2mValue,
): Lwm2mResourceInstance => ({
  kind: 'resourceInstance',
  id,
  type,
  value,
});

export const objectInstance = (id: number, resources: Lwm2mResource[]): Lwm2mObjectInstance => ({
  kind: 'instance',
  id,
  resources: new Map(resources.map((r) => [r.id, r])),
});

export const lwm2mObject = (id: number, instances: Lwm2mObjectInstance[]): Lwm2mObject => ({
  kind: 'object',
  id,
  instances: new Map(instances.map((i) => [i.id, i])),
});
