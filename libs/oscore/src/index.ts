export * from './algorithms';
export * from './context';
export * from './option';
export * from './plaintext';
export * from './aad';
export * from './sequence';
export * from './replay';
export {
  type ContextLookup,
  type OscoreFailure,
  type OscoreFailureReason,
  protectRequest,
  type ProtectRequestOptions,
  protectResponse,
  type ProtectResponseOptions,
  type ProtectResponseResult,
  type ProtectResult,
  type RequestBinding,
  verifyRequest,
  type VerifyRequestResult,
  verifyResponse,
  type VerifyResponseOptions,
  type VerifyResponseResult,
} from './protect';
export * from './rederivation';
export * from './outer-block';
export * from './signature';
export * from './group';
export * from './seam';
