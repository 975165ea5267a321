// Every Redis key of the campaigns, in one place. Two kinds of slot:
//   <p>{campaigns}:index     zset  campaign id -> createdAt (the list)
//   <p>{campaigns}:running   set   campaigns not over yet (the scheduler ticks these)
//   <p>{campaigns}:ep        hash  endpoint -> id of the unfinished campaign it belongs to (one at a time)
// and one slot per campaign, so that a device's transition, the counts, the queues and the log change in one
// Lua script (atomic on a single Redis, Sentinel or Cluster):
//   <p>{cmp:<id>}:meta    hash  def (the definition, JSON), state, phase, reason, upd, ended
//   <p>{cmp:<id>}:runs    hash  endpoint -> DeviceRun JSON
//   <p>{cmp:<id>}:n       hash  device state -> count; "c:<state>" the canary batch's
//   <p>{cmp:<id>}:q       zset  pending devices of the rollout -> earliest start (ms)
//   <p>{cmp:<id>}:qc      zset  pending devices of the canary batch -> earliest start
//   <p>{cmp:<id>}:active  zset  devices between start and a final state -> their attempt's deadline
//   <p>{cmp:<id>}:starts  zset  starts of the last minute (the devices-per-minute limit)
//   <p>{cmp:<id>}:resets  zset  interrupted devices whose reset is owed -> when it is due (resetNextAt)
//   <p>{cmp:<id>}:log     stream every transition: ep, from, to, at, active, downloading (after it)
import { DEFAULT_KEY_PREFIX } from '@lwm2m/registry';

export interface CampaignKeys {
  index: string;
  running: string;
  members: string;
  meta(id: string): string;
  runs(id: string): string;
  counts(id: string): string;
  queue(id: string): string;
  canaryQueue(id: string): string;
  active(id: string): string;
  starts(id: string): string;
  resets(id: string): string;
  log(id: string): string;
  /** Consumer group of the scheduler's campaign driver on the registry's event stream. */
  eventGroup: string;
}

/** Campaign ids are generated (`cmp-` + base64url); checked before they are put in a key. */
export const CAMPAIGN_ID = /^cmp-[A-Za-z0-9_-]{6,40}$/;

export function campaignKeys(prefix: string = DEFAULT_KEY_PREFIX): CampaignKeys {
  if (/[{}]/.test(prefix)) throw new Error(`key prefix must not contain braces: ${prefix}`);
  const of = (id: string, what: string) => {
    if (!CAMPAIGN_ID.test(id)) throw new Error(`not a campaign id: ${id}`);
    return `${prefix}{cmp:${id}}:${what}`;
  };
  return {
    index: `${prefix}{campaigns}:index`,
    running: `${prefix}{campaigns}:running`,
    members: `${prefix}{campaigns}:ep`,
    meta: (id) => of(id, 'meta'),
    runs: (id) => of(id, 'runs'),
    counts: (id) => of(id, 'n'),
    queue: (id) => of(id, 'q'),
    canaryQueue: (id) => of(id, 'qc'),
    active: (id) => of(id, 'active'),
    starts: (id) => of(id, 'starts'),
    resets: (id) => of(id, 'resets'),
    log: (id) => of(id, 'log'),
    eventGroup: 'campaigns',
  };
}
