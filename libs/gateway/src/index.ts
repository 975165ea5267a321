// @lwm2m/gateway: the gateway's datagram pipeline as one framework-free stack (createGatewayStack), its
// configuration, and the pieces it is built from.
export * from './bootstrap';
export * from './config';
export * from './coaps';
export * from './firmware';
export * from './gateway-transport';
export * from './ports';
export * from './redis-stores';
export * from './stack';
export * from './oscore';
export * from './workers';
