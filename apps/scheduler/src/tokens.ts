import type { CommandBus, EventBus, RegistrationStore } from '@lwm2m/server';
import type { DeliveryEngine, RedisRequestStore, SchedulerConfig, WakeUpChannel } from '@lwm2m/scheduler';
import type { RedisClient } from '@lwm2m/registry';
import type { RedisCampaignStore } from '@lwm2m/campaigns';

export const SCHEDULER_CONFIG = Symbol('SchedulerConfig');
export const SCHEDULER_PORTS = Symbol('SchedulerPorts');
export const DELIVERY_ENGINE = Symbol('DeliveryEngine');
export const WAKE_UP_CHANNEL = Symbol('WakeUpChannel');
export const CAMPAIGN_ENGINE = Symbol('CampaignEngine');

/** BullMQ queues of the scheduler (BullMQ keys: bull:<name>:...). */
export const DELIVERY_QUEUE = 'lwm2m-delivery';
export const MAINTENANCE_QUEUE = 'lwm2m-maintenance';
export const WAKEUP_QUEUE = 'lwm2m-wakeup';
export const NOTIFY_QUEUE = 'lwm2m-notify';
export const CAMPAIGNS_QUEUE = 'lwm2m-campaigns';

/** The shared state the scheduler works on (Redis). */
export interface SchedulerPorts {
  registrations: RegistrationStore;
  commands: CommandBus;
  events: EventBus;
  requests: RedisRequestStore;
  /** For the event stream consumer group. */
  redis: RedisClient;
  /** The registry's event stream key. */
  eventStream: string;
  /** Firmware campaigns (libs/campaigns). */
  campaigns: RedisCampaignStore;
}

export type { DeliveryEngine, SchedulerConfig, WakeUpChannel };

/** BullMQ job ids may not contain ':'; endpoint names may. */
export function endpointJobKey(endpoint: string): string {
  return Buffer.from(endpoint, 'utf8').toString('base64url');
}
