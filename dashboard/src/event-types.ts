// Kept apart from api.ts (which needs the DOM) so that a Node test can compare it with libs/server's list.
/** The SSE "event:" names the api sends (LWM2M_EVENT_TYPES, libs/server). */
export const EVENT_TYPES = [
  'registered',
  'updated',
  'deregistered',
  'expired',
  'awake',
  'notification',
  'send',
  'response',
  'request',
  'reobserved',
  'bootstrap-started',
  'bootstrap-finished',
  'bootstrap-failed',
  'campaign',
] as const;
