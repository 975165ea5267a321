export * from './udp-transport';
export * from './udp-multicast';
