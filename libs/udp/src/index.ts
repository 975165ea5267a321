export * from './udp-transport';
