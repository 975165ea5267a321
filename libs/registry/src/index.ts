export * from './keys';
export * from './redis-registration-store';
export * from './redis-observation-store';
export * from './redis-value-store';
export * from './redis-event-bus';
export * from './redis-command-bus';
export * from './create-redis-stores';
export * from './local-redis';
