// What the single-node start mounts: see libs/group-observe/README.md, "Mounting".
export * from './config';
export * from './group-observer';
export * from './group-observer.module';
export * from './create-group-observer-app';
export { GROUP_OBSERVER } from './tokens';
