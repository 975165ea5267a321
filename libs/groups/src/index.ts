export * from './group';
export * from './group-request';
export * from './group-store';
export * from './in-memory-group-store';
export * from './redis-group-store';
export * from './member-dispatcher';
export * from './group-runner';
export * from './group-operations';
