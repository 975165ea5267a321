// Public API of @lwm2m/lwm2m: the LwM2M object model, node tree and content-format codecs.
export * from './path';
export * from './value';
export * from './node';
export * from './tree';
export * from './model/object-model';
export * from './model/core-objects';
export * from './model/registry';
export * from './formats/codec';
export * from './formats/values';
export * from './formats/text';
export * from './formats/opaque';
export * from './formats/tlv';
export * from './formats/json';
export * from './formats/link';
export * from './formats/senml-json';
export * from './formats/senml-cbor';
export * from './formats/lwm2m-cbor';
