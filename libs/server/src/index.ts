export * from './registration';
export * from './events';
export * from './commands';
export * from './ports';
