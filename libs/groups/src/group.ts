// Named groups of devices for fleet group operations (issue 15 item 3): who a group request reaches. A group
// is a device filter (the device list's endpoint substring), a list of endpoints, or a CoAP multicast group
// address that the group proxy (libs/group-proxy, draft-ietf-core-groupcomm-proxy) will serve.

/** The members of a group, by kind. */
export type GroupSelector =
  | { kind: 'filter'; filter: { q: string } }
  | { kind: 'endpoints'; endpoints: string[] }
  /** draft-ietf-core-groupcomm-proxy: the group's IP multicast address and CoAP port. */
  | { kind: 'multicast'; multicast: { address: string; port: number } };

export type Group = GroupSelector & {
  name: string;
  createdAt: number;
  /** The API key's name that made it (never the key). */
  createdBy: string;
};

/** A group's name: a path segment that needs no escaping, so it is also safe in Redis keys and URLs. */
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** LwM2M endpoint names in a list: printable, no separators our keys or URLs would misread. */
const ENDPOINT = /^[\x21-\x7e]{1,256}$/;

export interface GroupLimits {
  /** Endpoints in one list group (GROUP_MAX_ENDPOINTS). */
  maxEndpoints: number;
  /** Groups stored at most (GROUP_MAX_GROUPS). */
  maxGroups: number;
  /** Devices one group request may reach (GROUP_MAX_MEMBERS): a filter matching more is refused. */
  maxMembers: number;
}

export const DEFAULT_GROUP_LIMITS: GroupLimits = {
  maxEndpoints: 10_000,
  maxGroups: 1_000,
  maxMembers: 100_000,
};

/** Why a group or a group request was refused; the REST layer maps `code` to an HTTP status. */
export type GroupErrorCode =
  | 'invalid'
  | 'unknown-group'
  | 'group-exists'
  | 'too-many-groups'
  | 'too-many-members'
  | 'unknown-group-request'
  | 'finished'
  | 'not-implemented';

export class GroupError extends Error {
  constructor(
    readonly code: GroupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function validateGroupName(name: unknown): string {
  if (typeof name !== 'string' || !GROUP_NAME.test(name)) {
    throw new GroupError(
      'invalid',
      'a group name is 1-64 characters of A-Z a-z 0-9 . _ - and starts with a letter or digit',
    );
  }
  return name;
}

/**
 * Checks a group definition from REST (already JSON): exactly one of `filter`, `endpoints`, `multicast`.
 * Endpoint lists are bounded and de-duplicated; multicast addresses must be IPv4 224.0.0.0/4 or IPv6 ff00::/8.
 */
export function validateGroupSelector(body: Record<string, unknown>, limits: GroupLimits): GroupSelector {
  const given = (['filter', 'endpoints', 'multicast'] as const).filter((k) => body[k] !== undefined);
  if (given.length !== 1) {
    throw new GroupError('invalid', 'give exactly one of "filter", "endpoints" or "multicast"');
  }
  const kind = given[0]!;
  if (kind === 'filter') {
    const f = body.filter as { q?: unknown } | null;
    if (typeof f !== 'object' || f === null || Array.isArray(f) || Object.keys(f).some((k) => k !== 'q')) {
      throw new GroupError('invalid', '"filter" is {"q": "<substring of the endpoint name>"}');
    }
    // The same filter as GET /api/v1/devices?q=: a literal substring (never a pattern), at most 256 long.
    if (typeof f.q !== 'string' || f.q.length > 256) {
      throw new GroupError('invalid', '"filter.q" is a string of at most 256 characters ("" = every device)');
    }
    return { kind, filter: { q: f.q } };
  }
  if (kind === 'endpoints') {
    const list = body.endpoints;
    if (!Array.isArray(list) || list.length === 0) {
      throw new GroupError('invalid', '"endpoints" is a non-empty list of endpoint names');
    }
    if (list.length > limits.maxEndpoints) {
      throw new GroupError('too-many-members', `a group lists at most ${limits.maxEndpoints} endpoints`);
    }
    const seen = new Set<string>();
    for (const ep of list) {
      if (typeof ep !== 'string' || !ENDPOINT.test(ep)) {
        throw new GroupError('invalid', 'each endpoint is 1-256 printable ASCII characters without spaces');
      }
      seen.add(ep);
    }
    return { kind, endpoints: [...seen] };
  }
  const m = body.multicast as { address?: unknown; port?: unknown } | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw new GroupError('invalid', '"multicast" is {"address": "239.x.y.z" | "ff0x::..", "port"?: 5683}');
  }
  const address = m.address;
  const port = m.port ?? 5683;
  if (typeof address !== 'string' || !isMulticast(address)) {
    throw new GroupError(
      'invalid',
      '"multicast.address" must be an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address',
    );
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new GroupError('invalid', '"multicast.port" is a UDP port (1-65535)');
  }
  return { kind, multicast: { address, port } };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** IPv4 224.0.0.0/4 (RFC 5771) or IPv6 ff00::/8 (RFC 4291 2.7); the URL parser checks an IPv6 literal. */
function isMulticast(address: string): boolean {
  if (IPV4.test(address)) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  if (!/^ff[0-9a-f]{2}:[0-9a-f:]*$/i.test(address) || address.length > 39) return false;
  try {
    return new URL(`coap://[${address}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
