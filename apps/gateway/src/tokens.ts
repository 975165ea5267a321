import type { CommandBus, EventBus, ObservationStore, RegistrationStore, ValueStore } from '@lwm2m/server';

export const GATEWAY_PORTS = Symbol('GatewayPorts');
export const GATEWAY_CONFIG = Symbol('GatewayConfig');

/** The shared state the gateway works on: Redis in the product, in-memory in unit tests. */
export interface GatewayPorts {
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  commands: CommandBus;
}
