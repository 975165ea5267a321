// Public API of @lwm2m/firmware: firmware images (stores), Pull over CoAP Block2 and Push with Block1.
export * from './image-store';
export * from './directory-image-store';
export * from './redis-image-store';
export * from './keys';
export * from './coap-resource';
export * from './push';
export * from './config';
