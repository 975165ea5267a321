export * from './compare-paths';
export * from './observation-store';
export * from './value-store';
export * from './registration-store';
export * from './event-bus';
export * from './command-bus';
export * from './credential-store';
export * from './create-in-memory-stores';
