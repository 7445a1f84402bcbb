/**
 * Public surface of the Creative Force layer: the contract, the response schemas, the shared rate
 * limiter (and the local one of `check`), the token store and the gateway client. Code outside
 * this folder imports the client layer from here; http.ts and internal.ts stay private.
 */
export * from './contract.ts';
export { type GatewayAccessDeps, gatewayClientOf, gatewayLimiter, gatewayTokenStore } from './gateway-access.ts';
export {
  CreativeForceClient,
  type CreativeForceClientOptions,
  type OutfitProduct,
  type PresignFile,
  type StylingAsset,
} from './gateway-client.ts';
export { closeSharedDispatcher } from './http.ts';
export { LocalRateLimiter } from './local-rate-limiter.ts';
export {
  type RateLimiter,
  type RateLimiterState,
  type RateLimitGrant,
  RedisRateLimiter,
  type RedisRateLimiterOptions,
} from './rate-limiter.ts';
export * from './schemas.ts';
export { SharedCalls, type SharedCallsOptions } from './shared-calls.ts';
export { type ConnectionCredentials, type TokenProvider, TokenStore, type TokenStoreOptions } from './token-store.ts';
