// LwM2M TS 1.2 Core section 6 / Appendix D (Object definition): what the codecs need to know about objects.
import type { ResourceType } from '../value';

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
}

/**
 * Where codecs look up types. Unknown objects and resources are not an error: lookups return
 * undefined and codecs fall back (TLV: opaque; SenML and LwM2M CBOR: the type the value carries).
 */
export interface ObjectModelRegistry {
  getObject(objectId: number): ObjectModel | undefined;
  getResource(objectId: number, resourceId: number): ResourceModel | undefined;
}
