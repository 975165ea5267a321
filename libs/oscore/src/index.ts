export * from './algorithms';
export * from './context';
export * from './option';
export * from './plaintext';
export * from './aad';
export * from './sequence';
export * from './replay';
export * from './protect';
