// LwM2M TS 1.2 Core Appendix C: Data Types.

/** The resource data types of LwM2M 1.1/1.2 ('none' is the type of executable resources). */
export type ResourceType =
  'string' | 'integer' | 'unsigned' | 'float' | 'boolean' | 'opaque' | 'time' | 'objlnk' | 'corelnk' | 'none';

/** Objlnk: "ObjectID:InstanceID", each 16 bits (Appendix C). */
export interface ObjectLink {
  objectId: number;
  instanceId: number;
}

/**
 * In-memory value of one resource (instance). Mapping per type:
 * string/corelnk -> string; integer/unsigned -> number, or bigint past 2^53; float -> number;
 * boolean -> boolean; opaque -> Buffer; time -> Date (whole seconds on the wire);
 * objlnk -> ObjectLink.
 */
export type Lwm2mValue = string | number | bigint | boolean | Buffer | Date | ObjectLink;

export function isObjectLink(v: unknown): v is ObjectLink {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Buffer.isBuffer(v) &&
    !(v instanceof Date) &&
    typeof (v as ObjectLink).objectId === 'number' &&
    typeof (v as ObjectLink).instanceId === 'number'
  );
}
