// The gateway's environment is validated in libs/gateway (the stack reads it); re-exported for the apps.
export { type GatewayConfig, validateGatewayConfig } from '@lwm2m/gateway';
