// What an audit entry says about a request: its target (endpoint, LwM2M paths), non-secret details and the
// outcome. Never a secret: no PSK or private key, no written value (a value may be a key too, e.g. a Security
// object resource), no execute argument; only their paths, count, types and sizes.
import type { AuditEntry, AuditOutcome } from '@lwm2m/server';
import type { ApiKey } from '../auth/api-keys';
import type { ProblemDetails } from '../problem/problem';
import type { AuditAction } from './audited';

/** The parts of Express's request the audit reads (the repo has no @types/express). */
export interface AuditedRequest {
  method: string;
  url: string;
  originalUrl?: string;
  params?: Record<string, string | string[] | undefined>;
  query?: Record<string, unknown>;
  body?: unknown;
}

const MAX_PATHS = 32;
const MAX_TEXT = 256;

type Details = NonNullable<AuditEntry['details']>;

function text(v: unknown, max = MAX_TEXT): string {
  return String(v).slice(0, max);
}

function lwm2mPath(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const joined = Array.isArray(raw) ? raw.join('/') : raw;
  return text(`/${joined.replace(/^\/+/, '')}`, 64);
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Paths, count, declared or JSON types and total JSON size of written values: never the values. */
function describeValues(values: unknown, d: Details): string[] {
  const list = Array.isArray(values) ? values : [];
  const types = new Set<string>();
  const paths: string[] = [];
  for (const item of list) {
    const o = asObject(item);
    types.add(typeof o.type === 'string' ? text(o.type, 16) : o.value === null ? 'null' : typeof o.value);
    if (typeof o.path === 'string' && paths.length < MAX_PATHS) paths.push(text(o.path, 64));
  }
  d.values = list.length;
  d.types = [...types].slice(0, 8);
  d.bytes = Buffer.byteLength(JSON.stringify(values ?? null));
  return paths;
}

/** Target and details of a request, by action. */
export function describeRequest(
  action: AuditAction,
  req: AuditedRequest,
): Pick<AuditEntry, 'endpoint' | 'paths' | 'details'> {
  const params = req.params ?? {};
  const body = asObject(req.body);
  const details: Details = {};
  const endpoint = typeof params.endpoint === 'string' ? text(params.endpoint, 255) : undefined;
  let paths: string[] = [];
  const path = lwm2mPath(params.path);
  switch (action) {
    case 'write':
      if (path) paths = [path];
      if (body.value !== undefined) describeValues([{ value: body.value, type: body.type }], details);
      else describeValues(body.values, details);
      details.replace = asObject(req.query).replace !== 'false';
      break;
    case 'write-composite':
      paths = describeValues(body.values, details);
      break;
    case 'create': {
      const object = typeof params.objectId === 'string' ? text(params.objectId, 8) : '?';
      paths = [typeof body.instanceId === 'number' ? `/${object}/${body.instanceId}` : `/${object}`];
      describeValues(body.values, details);
      break;
    }
    case 'execute':
      if (path) paths = [path];
      if (typeof body.args === 'string') details.argsBytes = Buffer.byteLength(body.args);
      break;
    case 'write-attributes':
      if (path) paths = [path];
      // Notification attributes are numbers (pmin, pmax, gt...): not secret.
      for (const [k, v] of Object.entries(body).slice(0, 10)) {
        if (typeof v === 'number' || v === null) details[text(k, 16)] = v === null ? 'removed' : v;
      }
      break;
    case 'observe':
      if (Array.isArray(body.paths)) paths = body.paths.slice(0, MAX_PATHS).map((p) => text(p, 64));
      break;
    case 'cancel-observation':
      if (typeof params.id === 'string') details.observationId = text(params.id, 64);
      break;
    case 'credential-put': {
      // The credential's kind and public identifier only: the PSK key never enters an entry.
      const kind = (['psk', 'rpk', 'x509', 'oscore'] as const).find((k) => body[k] !== undefined);
      if (kind) details.type = kind;
      const psk = asObject(body.psk);
      if (kind === 'psk' && typeof psk.identity === 'string') details.identity = text(psk.identity, 128);
      const x509 = asObject(body.x509);
      if (kind === 'x509' && typeof x509.subject === 'string') details.subject = text(x509.subject, 128);
      // OSCORE: the kid (the device's Sender ID) only; never the Master Secret or Salt.
      const oscore = asObject(body.oscore);
      if (kind === 'oscore' && typeof oscore.recipientId === 'string')
        details.kid = text(oscore.recipientId, 16);
      break;
    }
    case 'request-cancel':
      if (typeof params.id === 'string') details.requestId = text(params.id, 64);
      break;
    case 'delete':
      if (path) paths = [path];
      break;
    case 'group-create':
      if (typeof body.name === 'string') details.group = text(body.name, 64);
      details.kind =
        (['filter', 'endpoints', 'multicast'] as const).find((k) => body[k] !== undefined) ?? '?';
      if (Array.isArray(body.endpoints)) details.members = body.endpoints.length;
      break;
    case 'group-delete':
      if (typeof params.name === 'string') details.group = text(params.name, 64);
      break;
    case 'group-operation':
      // The group and the operation; written values only by size, as for a device's write.
      if (typeof params.name === 'string') details.group = text(params.name, 64);
      if (typeof params.op === 'string') details.op = text(params.op, 16);
      if (typeof body.path === 'string') paths = [text(body.path, 64)];
      if (body.value !== undefined) describeValues([{ value: body.value, type: body.type }], details);
      else if (body.values !== undefined) describeValues(body.values, details);
      break;
    case 'group-request-cancel':
      if (typeof params.id === 'string') details.groupRequestId = text(params.id, 64);
      break;
    case 'campaign-create':
      if (typeof body.imageId === 'string') details.imageId = text(body.imageId, 128);
      if (typeof body.mode === 'string') details.mode = text(body.mode, 8);
      break;
    case 'campaign-pause':
    case 'campaign-resume':
    case 'campaign-cancel':
      if (typeof params.id === 'string') details.campaignId = text(params.id, 64);
      break;
    case 'credential-delete':
    case 'requests-cancel-all':
    case 'deregister':
      break;
  }
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(paths.length > 0 ? { paths } : {}),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

/** The outcome of an answered request (2xx). */
export function successOutcome(status: number, answer: unknown): AuditOutcome {
  const body = asObject(answer);
  return {
    result: status === 202 ? 'accepted' : 'success',
    status,
    ...(typeof body.requestId === 'string' ? { requestId: body.requestId } : {}),
  };
}

/** The outcome of a failed request, from the problem it is answered with. */
export function failureOutcome(problem: ProblemDetails): AuditOutcome {
  const detail = problem.detail ? `: ${problem.detail}` : '';
  return {
    result: 'failure',
    status: problem.status,
    error: text(`${problem.title}${detail}`, 300),
    ...(typeof problem.coapCode === 'string' ? { coapCode: problem.coapCode } : {}),
    ...(typeof problem.requestId === 'string' ? { requestId: problem.requestId } : {}),
  };
}

/** The whole entry. */
export function auditEntry(
  action: AuditAction,
  key: ApiKey,
  req: AuditedRequest,
  outcome: AuditOutcome,
  extra: AuditEntry['details'] = {},
): AuditEntry {
  const target = describeRequest(action, req);
  const details = { ...target.details, ...extra };
  return {
    at: Date.now(),
    actor: key.name,
    action,
    request: { method: req.method, path: text((req.originalUrl ?? req.url).split('?')[0], 512) },
    ...(target.endpoint !== undefined ? { endpoint: target.endpoint } : {}),
    ...(target.paths ? { paths: target.paths } : {}),
    outcome,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}
