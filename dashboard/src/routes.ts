// Every API route the dashboard calls, in one table: the page's client (api.ts) can reach no other, and
// test/dashboard/routes-unauthorised.spec.ts calls each of them without a key and expects 401. Pure data
// (no DOM) so the test imports it as it is.

export type Role = 'read' | 'write' | 'admin';
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDef {
  method: Method;
  /** With {name} placeholders; {path} is an LwM2M path without its leading slash (3/0/15). */
  path: string;
  /** The least role the api lets through (read: GET only; see apps/api/src/auth/api-key.guard.ts). */
  role: Role;
  /** Served by the api without a key on purpose (Prometheus scrapes /metrics). */
  public?: true;
  /** Built by another feature; the page says "not available" when the server answers 404. */
  feature?: 'groups' | 'campaigns' | 'firmware';
}

const r = (method: Method, path: string, role: Role, extra: Partial<RouteDef> = {}): RouteDef => ({
  method,
  path,
  role,
  ...extra,
});

const DEVICE = '/api/v1/devices/{endpoint}';

export const ROUTES = {
  eventToken: r('POST', '/api/v1/events/token', 'read'),
  events: r('GET', '/api/v1/events', 'read'),
  devices: r('GET', '/api/v1/devices', 'read'),
  device: r('GET', DEVICE, 'read'),
  deregister: r('DELETE', DEVICE, 'admin'),
  read: r('GET', `${DEVICE}/data/{path}`, 'read'),
  write: r('PUT', `${DEVICE}/data/{path}`, 'write'),
  execute: r('POST', `${DEVICE}/data/{path}/execute`, 'write'),
  create: r('POST', `${DEVICE}/data/{objectId}`, 'write'),
  deleteInstance: r('DELETE', `${DEVICE}/data/{path}`, 'write'),
  discover: r('GET', `${DEVICE}/discover/{path}`, 'read'),
  attributes: r('PUT', `${DEVICE}/attributes/{path}`, 'write'),
  observe: r('POST', `${DEVICE}/observations`, 'write'),
  observations: r('GET', `${DEVICE}/observations`, 'read'),
  cancelObservation: r('DELETE', `${DEVICE}/observations/{id}`, 'write'),
  values: r('GET', `${DEVICE}/values`, 'read'),
  deviceRequests: r('GET', `${DEVICE}/requests`, 'read'),
  request: r('GET', '/api/v1/requests/{id}', 'read'),
  cancelRequest: r('DELETE', '/api/v1/requests/{id}', 'write'),
  credentials: r('GET', `${DEVICE}/credentials`, 'read'),
  audit: r('GET', '/api/v1/audit', 'admin'),
  model: r('GET', '/api/v1/models/{id}', 'read'),
  clusterNodes: r('GET', '/api/v1/cluster/nodes', 'read'),
  bootstrapConfig: r('GET', '/api/v1/bootstrap/configs/{endpoint}', 'admin'),
  deleteBootstrapConfig: r('DELETE', '/api/v1/bootstrap/configs/{endpoint}', 'admin'),
  // Group operations (branch group-ops): groups, a request across one, the recent requests, one's progress,
  // its cancel.
  groups: r('GET', '/api/v1/groups', 'read', { feature: 'groups' }),
  groupOperation: r('POST', '/api/v1/groups/{name}/{op}', 'write', { feature: 'groups' }),
  groupRequests: r('GET', '/api/v1/group-requests', 'read', { feature: 'groups' }),
  groupRequest: r('GET', '/api/v1/group-requests/{id}', 'read', { feature: 'groups' }),
  cancelGroupRequest: r('DELETE', '/api/v1/group-requests/{id}', 'write', { feature: 'groups' }),
  // Firmware campaigns (branches firmware-delivery and campaigns).
  campaigns: r('GET', '/api/v1/campaigns', 'read', { feature: 'campaigns' }),
  pauseCampaign: r('POST', '/api/v1/campaigns/{id}/pause', 'write', { feature: 'campaigns' }),
  resumeCampaign: r('POST', '/api/v1/campaigns/{id}/resume', 'write', { feature: 'campaigns' }),
  cancelCampaign: r('POST', '/api/v1/campaigns/{id}/cancel', 'write', { feature: 'campaigns' }),
  firmwareImages: r('GET', '/api/v1/firmware', 'read', { feature: 'firmware' }),
  metrics: r('GET', '/metrics', 'read', { public: true }),
} satisfies Record<string, RouteDef>;

export type RouteName = keyof typeof ROUTES;

const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 };

/** Whether a key of `role` may use the route (the UI shows only what the api would let through). */
export function allowed(role: Role, route: RouteName): boolean {
  return RANK[role] >= RANK[ROUTES[route].role];
}

/**
 * The URL of a route: each {name} replaced by its parameter, percent-encoded; {path} keeps its slashes
 * (each segment encoded). A missing parameter is an error, never a literal "{name}".
 */
export function routeUrl(
  route: RouteName,
  params: Record<string, string | number> = {},
  query: Record<string, string | number | undefined> = {},
): string {
  const path = ROUTES[route].path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`route ${route}: missing parameter ${name}`);
    const s = String(v);
    return name === 'path'
      ? s.replace(/^\//, '').split('/').map(encodeURIComponent).join('/')
      : encodeURIComponent(s);
  });
  const qs = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return qs ? `${path}?${qs}` : path;
}
