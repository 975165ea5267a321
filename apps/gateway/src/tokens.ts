import type { GatewayStores } from '@lwm2m/gateway';

export const GATEWAY_PORTS = Symbol('GatewayPorts');
export const GATEWAY_CONFIG = Symbol('GatewayConfig');

/** The shared state the gateway works on: Redis in the product, in-memory in unit tests. */
export type GatewayPorts = GatewayStores;
