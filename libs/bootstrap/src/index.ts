export * from './config';
export * from './ports';
export * from './memory-stores';
export * from './plan';
export * from './bootstrap-request';
export * from './bootstrap-server';
export * from './create-bootstrap-server';
export * from './x509-issue';
