export * from './numbers';
export * from './reply-from';
export * from './target';
export * from './access';
export * from './group-proxy';
export * from './group-proxy-client';
export * from './config';
export * from './http-cross-proxy';
