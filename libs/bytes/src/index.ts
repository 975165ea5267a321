export * from './byte-reader';
export * from './byte-writer';
export * from './decode-error';
export * from './seal';
export * from './replay-window';
