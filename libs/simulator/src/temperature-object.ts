// The simulator's temperature sensor is IPSO object 3303, whose model libs/lwm2m knows by default.
import { defaultObjectModelRegistry, TEMPERATURE_OBJECT, type StaticObjectModelRegistry } from '@lwm2m/lwm2m';

export const TEMPERATURE_OBJECT_ID = TEMPERATURE_OBJECT.id;

/** The model registry a simulated device uses (core objects 0-7, 21 and 3303). */
export function simulatorObjectModelRegistry(): StaticObjectModelRegistry {
  return defaultObjectModelRegistry();
}
