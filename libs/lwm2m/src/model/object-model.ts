// LwM2M TS 1.2 Core section 6 / Appendix D (Object definition): what the codecs need to know about objects.
import type { ResourceType } from '../value';
import type { ValueRange } from './range';

/** Operations a resource supports (Appendix D "Operations"). */
export type ResourceOperations = '' | 'R' | 'W' | 'RW' | 'E';

export interface ResourceModel {
  id: number;
  name: string;
  operations: ResourceOperations;
  multiple: boolean;
  mandatory: boolean;
  type: ResourceType;
  rangeEnumeration?: string;
  /** The RangeEnumeration as limits a Write is checked against, when its form is understood (range.ts). */
  range?: ValueRange;
  units?: string;
  description?: string;
}

export interface ObjectModel {
  id: number;
  name: string;
  /** Object version, "1.0" when absent (Core section 7.2.2 "ver"). */
  version: string;
  lwm2mVersion?: string;
  multiple: boolean;
  mandatory: boolean;
  resources: Map<number, ResourceModel>;
  urn?: string;
  description?: string;
}

/**
 * Where codecs look up types. Unknown objects and resources are not an error: lookups return
 * undefined and codecs fall back (TLV: opaque; SenML and LwM2M CBOR: the type the value carries).
 */
export interface ObjectModelRegistry {
  getObject(objectId: number): ObjectModel | undefined;
  getResource(objectId: number, resourceId: number): ResourceModel | undefined;
  /**
   * The registry of one device, whose registration's object links may state object versions ("ver");
   * absent: the same answers for every device.
   */
  forDevice?(links: Iterable<{ path: string; attributes: Record<string, string> }>): ObjectModelRegistry;
}
