// The domain side of /api/v1/groups and /api/v1/group-requests: groups defined and validated, a group
// request's members resolved and stored, its runner kicked; the REST layer only maps GroupError codes.
import { randomUUID } from 'node:crypto';
import type { RegistrationStore } from '@lwm2m/server';
import {
  type Group,
  GroupError,
  type GroupLimits,
  DEFAULT_GROUP_LIMITS,
  validateGroupName,
  validateGroupSelector,
} from './group';
import type { GroupOperationSpec, GroupRequest, MemberResult, RateLimit } from './group-request';
import type { GroupRequestPage, GroupRequestQuery, GroupStore } from './group-store';

export interface GroupRequestDefaults {
  /** How long a group request collects results when the caller gives no deadline, ms. */
  deadlineMs: number;
  maxDeadlineMs: number;
  /** Each device's answer timeout, ms. */
  timeoutMs: number;
  rate: RateLimit;
  maxRate: RateLimit;
}

export const DEFAULT_GROUP_REQUEST_DEFAULTS: GroupRequestDefaults = {
  deadlineMs: 5 * 60_000,
  maxDeadlineMs: 86_400_000,
  timeoutMs: 10_000,
  rate: { perSecond: 100, maxInFlight: 100 },
  maxRate: { perSecond: 10_000, maxInFlight: 1_000 },
};

export interface GroupOperationsOptions {
  store: GroupStore;
  registrations: Pick<RegistrationStore, 'list'>;
  limits?: Partial<GroupLimits>;
  defaults?: Partial<GroupRequestDefaults>;
  /** Multicast groups' requests can be sent (the runner has a MulticastSender); else they answer 501. */
  multicast?: boolean;
  /** Told of a new or cancelled request, so the local runner drives it at once (else its next scan). */
  kick?: (id: string) => void;
  now?: () => number;
}

export interface StartOptions {
  deadlineMs?: number;
  timeoutMs?: number;
  perSecond?: number;
  maxInFlight?: number;
}

const LIST_PAGE = 1000;

export class GroupOperations {
  readonly limits: GroupLimits;
  readonly defaults: GroupRequestDefaults;
  private readonly now: () => number;

  constructor(private readonly opts: GroupOperationsOptions) {
    this.limits = { ...DEFAULT_GROUP_LIMITS, ...opts.limits };
    this.defaults = { ...DEFAULT_GROUP_REQUEST_DEFAULTS, ...opts.defaults };
    this.now = opts.now ?? Date.now;
  }

  async createGroup(name: unknown, body: Record<string, unknown>, createdBy: string): Promise<Group> {
    const group: Group = {
      name: validateGroupName(name),
      ...validateGroupSelector(body, this.limits),
      createdAt: this.now(),
      createdBy,
    };
    const r = await this.opts.store.createGroup(group, this.limits.maxGroups);
    if (r === 'exists') throw new GroupError('group-exists', `a group named "${group.name}" exists`);
    if (r === 'full') throw new GroupError('too-many-groups', `at most ${this.limits.maxGroups} groups`);
    return group;
  }

  async getGroup(name: string): Promise<Group> {
    const g = await this.opts.store.getGroup(validateGroupName(name));
    if (!g) throw new GroupError('unknown-group', `no group named "${name}"`);
    return g;
  }

  listGroups(): Promise<Group[]> {
    return this.opts.store.listGroups();
  }

  async deleteGroup(name: string): Promise<void> {
    if (!(await this.opts.store.deleteGroup(validateGroupName(name)))) {
      throw new GroupError('unknown-group', `no group named "${name}"`);
    }
  }

  /** Resolves the group's members now (a filter: the devices registered at this moment) and starts the fan-out. */
  async start(
    name: string,
    spec: GroupOperationSpec,
    options: StartOptions,
    createdBy: string,
  ): Promise<GroupRequest> {
    const group = await this.getGroup(name);
    if (group.kind === 'multicast' && !this.opts.multicast) {
      throw new GroupError(
        'not-implemented',
        `group "${name}" is a CoAP multicast group and this api sends no multicast (GROUP_MULTICAST=off)`,
      );
    }
    const d = this.defaults;
    const deadlineMs = bounded('deadline', options.deadlineMs ?? d.deadlineMs, 1000, d.maxDeadlineMs);
    const timeoutMs = bounded('timeout', options.timeoutMs ?? d.timeoutMs, 100, 300_000);
    const perSecond = bounded('rate', options.perSecond ?? d.rate.perSecond, 1, d.maxRate.perSecond);
    const maxInFlight = bounded(
      'maxInFlight',
      options.maxInFlight ?? d.rate.maxInFlight,
      1,
      d.maxRate.maxInFlight,
    );
    // A multicast group's servers are known only when they answer: each adds its result (addResult).
    const members = group.kind === 'multicast' ? [] : await this.membersOf(group);
    const now = this.now();
    const req = {
      id: randomUUID(),
      group: group.name,
      spec,
      createdAt: now,
      createdBy,
      deadline: now + deadlineMs,
      timeoutMs,
      rate: { perSecond, maxInFlight },
      ...(group.kind === 'multicast' ? { multicast: group.multicast } : {}),
    };
    await this.opts.store.createRequest(req, members);
    this.opts.kick?.(req.id);
    return (await this.opts.store.getRequest(req.id))!;
  }

  /**
   * A device group's members now: its endpoints, or the devices its filter matches (at most maxMembers).
   * Also what a firmware campaign's `{group}` target resolves to. A multicast group has no endpoints to
   * give: 'invalid' (its servers are known only by the addresses that answer).
   */
  async members(name: string): Promise<string[]> {
    const group = await this.getGroup(name);
    if (group.kind === 'multicast') {
      throw new GroupError(
        'invalid',
        `group "${name}" is a CoAP multicast group: its members are not LwM2M endpoints known in advance`,
      );
    }
    return this.membersOf(group);
  }

  private membersOf(group: Group & { kind: 'filter' | 'endpoints' }): Promise<string[]> {
    return group.kind === 'endpoints' ? Promise.resolve(group.endpoints) : this.matching(group.filter.q);
  }

  /** The registered devices whose endpoint contains `q` (as GET /api/v1/devices?q=), at most maxMembers. */
  private async matching(q: string): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.opts.registrations.list({
        limit: LIST_PAGE,
        ...(cursor !== undefined ? { cursor } : {}),
        ...(q !== '' ? { q } : {}),
      });
      for (const reg of page.items) out.push(reg.endpoint);
      if (out.length > this.limits.maxMembers) {
        throw new GroupError(
          'too-many-members',
          `the filter matches more than ${this.limits.maxMembers} devices (GROUP_MAX_MEMBERS): narrow it`,
        );
      }
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  async getRequest(id: string): Promise<GroupRequest> {
    const r = await this.opts.store.getRequest(id);
    if (!r) throw new GroupError('unknown-group-request', `no group request "${id}"`);
    return r;
  }

  /** Requests kept, newest first (the store's page: see GroupStore.listRequests). */
  listRequests(query: GroupRequestQuery): Promise<GroupRequestPage> {
    return this.opts.store.listRequests(query);
  }

  /** Final results from `offset` (the order they came in), and the offset of the next page. */
  async results(id: string, offset: number, limit: number): Promise<{ items: MemberResult[]; next: number }> {
    await this.getRequest(id);
    const items = await this.opts.store.results(id, offset, limit);
    return { items, next: offset + items.length };
  }

  /** A multicast observation's later notifications from `offset` (the order they came in), and the next offset. */
  async notifications(
    id: string,
    offset: number,
    limit: number,
  ): Promise<{ items: MemberResult[]; next: number }> {
    await this.getRequest(id);
    const items = await this.opts.store.notifications(id, offset, limit);
    return { items, next: offset + items.length };
  }

  async member(id: string, endpoint: string): Promise<MemberResult> {
    await this.getRequest(id);
    const m = await this.opts.store.getMember(id, endpoint);
    if (!m)
      throw new GroupError('unknown-group-request', `"${endpoint}" is not a member of group request "${id}"`);
    return m;
  }

  /** Stops the dispatch: devices not yet sent to and queued requests are cancelled; answers under way are kept. */
  async cancel(id: string): Promise<GroupRequest> {
    const r = await this.getRequest(id);
    if (r.state === 'completed' || r.state === 'cancelled') {
      throw new GroupError('finished', `group request "${id}" is ${r.state}`);
    }
    await this.opts.store.requestCancel(id);
    this.opts.kick?.(id);
    return this.getRequest(id);
  }
}

function bounded(name: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new GroupError('invalid', `${name} must be between ${min} and ${max}`);
  }
  return Math.floor(v);
}
