import type { BootstrapConfigStore, BootstrapSessionStore } from '@lwm2m/bootstrap';
import type { GatewayStores } from '@lwm2m/gateway';

export const GATEWAY_PORTS = Symbol('GatewayPorts');
export const GATEWAY_CONFIG = Symbol('GatewayConfig');

/** The shared state the gateway works on: Redis in the product, in-memory in unit tests. */
export type GatewayPorts = GatewayStores & {
  /** The Bootstrap-Server's stores (BOOTSTRAP_ENABLED): without them it does not start. */
  bootstrapConfigs?: BootstrapConfigStore;
  bootstrapSessions?: BootstrapSessionStore;
};
