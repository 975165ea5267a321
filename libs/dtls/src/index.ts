// @lwm2m/dtls: DTLS 1.2 (RFC 6347) with Connection ID (RFC 9146), server and client roles.
export * from './constants';
export * from './errors';
export * from './counters';
export * from './options';
export * from './connection';
export * from './peer';
export * from './server';
export * from './client';
export * from './session-cache';
export * from './snapshot';
export * from './cookie';
export * from './rate-limit';
export * from './record/record';
export * from './record/replay-window';
export * from './crypto/prf';
export * from './crypto/aead';
export * from './crypto/suites';
export {
  generateEphemeral,
  ecdh,
  signDer,
  verifyDer,
  spkiFromRaw,
  rawFromSpki,
  loadPrivateKey,
} from './crypto/ecc';
export type { PrivateKeyInput, LoadedKey, EcKeyPair } from './crypto/ecc';
export { validateChain, loadCertificates } from './crypto/certificates';
export * from './handshake/header';
export * from './handshake/hello';
export * from './handshake/extensions';
export * from './handshake/key-exchange';
export * from './handshake/certificate';
export { HandshakeReassembler } from './handshake/reassembler';
export type { PskLookup } from './handshake/server-handshake';
export { CipherCache, type CipherHolder } from './cipher-cache';
export { AesCcm } from './crypto/ccm';
export { pooledRandomBytes } from './crypto/random';
