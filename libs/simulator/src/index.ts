// Public API of @lwm2m/simulator: simulated LwM2M clients (objects 0, 1, 3, 3303) for tests and benchmarks.
export * from './attributes';
export * from './device-fleet';
export * from './device-objects';
export * from './dm-error';
export * from './dm-handler';
export * from './firmware-object';
export * from './formats';
export * from './object-tree';
export * from './model-objects';
export * from './observation-scheduler';
export * from './registration';
export * from './simulated-device';
export * from './sleeping-transport';
export * from './temperature-object';
export * from './dtls-transport';
export * from './bootstrap-client';
export * from './oscore';
