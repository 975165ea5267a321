// Public API of @lwm2m/campaigns: firmware update campaigns (LwM2M object 5), framework-free.
export * from './campaign';
export * from './device-run';
export * from './firmware-object';
export * from './update-object';
export * from './device-machine';
export * from './rollout';
export * from './keys';
export * from './campaign-store';
export * from './redis-campaign-store';
export * from './in-memory-campaign-store';
export * from './campaign-devices';
export * from './campaign-engine';
export * from './in-process-campaigns';
