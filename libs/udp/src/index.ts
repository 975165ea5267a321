export * from './udp-transport';
export * from './udp-multicast';
export * from './fair-receive-queue';
export * from './worker-batch';
export * from './worker-dispatcher';
export * from './port-transport';
export * from './run-workers';
