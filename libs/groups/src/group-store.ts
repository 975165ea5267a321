// Where groups and group requests live: Redis in the product (redis-group-store.ts), memory in memory mode
// and unit tests (in-memory-group-store.ts); both pass test/contracts/group-store.contract.ts.
import type { Group } from './group';
import type { GroupRequest, GroupRequestState, MemberResult, MemberState } from './group-request';

export type NewGroupRequest = Omit<GroupRequest, 'counts' | 'total' | 'state' | 'finishedAt'>;

export interface GroupRequestQuery {
  limit: number;
  /** nextCursor of the previous page: continue with older requests. */
  cursor?: string;
  group?: string;
  state?: GroupRequestState;
}

export interface GroupRequestPage {
  /** Newest first. A filtered page may hold fewer than `limit` items and still have a next page. */
  items: GroupRequest[];
  nextCursor?: string;
}

/**
 * A request's place in the list of requests, newest first: its creation time (15 digits, so the text
 * order is the time order) and its id (requests created in the same ms). The list's cursors are these.
 */
export function requestListEntry(req: Pick<GroupRequest, 'createdAt' | 'id'>): string {
  return `${String(req.createdAt).padStart(15, '0')}:${req.id}`;
}
/** What a cursor of the list looks like (a request id is a UUID, or in tests a short name). */
export const GROUP_REQUEST_CURSOR = /^\d{15}:[A-Za-z0-9._-]{1,64}$/;

export interface GroupStore {
  /** 'full' once `maxGroups` groups exist. */
  createGroup(group: Group, maxGroups: number): Promise<'created' | 'exists' | 'full'>;
  getGroup(name: string): Promise<Group | undefined>;
  /** Every group, by name (their number is bounded by GROUP_MAX_GROUPS). */
  listGroups(): Promise<Group[]>;
  deleteGroup(name: string): Promise<boolean>;

  /** Stores a running request with its members, all pending, in dispatch order. */
  createRequest(req: NewGroupRequest, members: string[]): Promise<void>;
  getRequest(id: string): Promise<GroupRequest | undefined>;
  /**
   * Requests kept (running, or finished and not yet past their retention), newest first, paged by cursor,
   * optionally only one group's or one state's.
   */
  listRequests(query: GroupRequestQuery): Promise<GroupRequestPage>;
  /** Ids of requests not finished (running or cancelling): what a runner resumes. */
  activeRequests(): Promise<string[]>;
  /** Moves up to `n` pending members to `dispatching`, in order; none once the request is not running. */
  takePending(id: string, n: number, now: number): Promise<string[]>;
  /**
   * Sets a member's state unless it is final already (a late answer after a cancel or the deadline changes
   * nothing); a final state appends the result to the request's results. True when it changed.
   */
  settle(id: string, result: MemberResult): Promise<boolean>;
  /**
   * A multicast request's result from a server not known before: a new member, final at once, counted in
   * `total`. False when that server already has a result or the request is not running.
   */
  addResult(id: string, result: MemberResult): Promise<boolean>;
  /**
   * A multicast observation's later notification (RFC 7641) from a server with a result in `result.state`:
   * replaces that result (the member, and its place in the results) and, while the request has fewer than
   * `maxLogged`, appends it to the request's notifications. False when that server has no such result or the
   * request is not running.
   */
  notify(id: string, result: MemberResult, maxLogged: number): Promise<boolean>;
  /** The logged notifications in the order they came, from `offset`. */
  notifications(id: string, offset: number, limit: number): Promise<MemberResult[]>;
  /** A multicast request's one send: true for the first caller only (a runner taking over never resends). */
  claimSend(id: string): Promise<boolean>;
  /** The members in one of the unfinished states after dispatch. */
  membersIn(id: string, state: 'queued' | 'dispatching'): Promise<MemberResult[]>;
  getMember(id: string, endpoint: string): Promise<MemberResult | undefined>;
  /** Ends up to `n` pending members with `state`; returns how many it ended. */
  endPending(
    id: string,
    state: 'cancelled' | 'timed-out',
    reason: string,
    n: number,
    now: number,
  ): Promise<number>;
  /** Final results in the order they came, from `offset`. */
  results(id: string, offset: number, limit: number): Promise<MemberResult[]>;
  /** running -> cancelling; false when it was not running. */
  requestCancel(id: string): Promise<boolean>;
  /**
   * When no member is unfinished: running -> completed, cancelling -> cancelled, and the request is kept
   * for `retentionMs`. Returns the state after the call.
   */
  finishIfDone(id: string, now: number, retentionMs: number): Promise<GroupRequestState | undefined>;
  /** Takes or renews the lease on a request's fan-out; false when another owner holds it. */
  lease(id: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(id: string, owner: string): Promise<void>;
}

export function isUnfinished(state: MemberState): boolean {
  return state === 'pending' || state === 'dispatching' || state === 'queued';
}
