// LwM2M TS 1.2 Core section 6.3 (Device Management & Service Enablement) and 6.4 (Information Reporting),
// mapped to CoAP by TS 1.2 Transport section 6.4: the server -> device operations over a CoapEndpoint.
import { randomBytes } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import {
  CoapCode,
  type CoapEndpoint,
  CoapExchangeError,
  type CoapRequest,
  type CoapResponse,
  CoapTimeoutError,
  codeClass,
  formatCode,
  getLocationPath,
  type ObservationControl,
  type ObservationHandle,
  type Peer,
} from '@lwm2m/coap';
import {
  buildComposite,
  ContentFormat,
  decodeSenmlPatch,
  encodeSenmlPatch,
  isSenmlEtch,
  EncodeError,
  type Lwm2mNode,
  Lwm2mPath,
  type ObjectModelRegistry,
} from '@lwm2m/lwm2m';
import type { DeviceCommandResult } from './commands';
import { formatFor, getCompositeCodec, getNodeCodec, UnsupportedContentFormatError } from './content-formats';
import type { JsonPathValue } from './events';
import { fromJsonValues, InvalidValueError, nodeFromJsonValues, toJsonValues } from './json-values';
import type { Observation } from './ports';
import type { Registration } from './registration';

/** A DeviceCommandResult before the command id is attached. */
export type OperationResult = Omit<DeviceCommandResult, 'id'>;

export interface OperationOptions {
  /** Content-Format override; default: negotiated from the registration. */
  contentFormat?: number;
  /** How long to wait for the device, ms (default: the client's defaultTimeoutMs). */
  timeoutMs?: number;
}

/** What one notification (or Send) carried, decoded. */
export interface DecodedNotification {
  ok: boolean;
  coapCode: string;
  values: JsonPathValue[];
  /** A SenML-ETCH patch's removals (records with a null value, RFC 8790 section 5). */
  removed?: string[];
  contentFormat?: number;
  observe?: number;
  error?: string;
}

export interface ObserveResult {
  result: OperationResult;
  /** Hex token of an established observation. */
  token?: string;
  /** The first response's Observe number (RFC 7641 section 3.4 orders the notifications after it). */
  observe?: number;
}

/** What an observation's request is built from: an Observe or Observe-Composite command, or a stored one. */
export type ObservationSpec = Pick<Observation, 'paths' | 'composite' | 'contentFormat'>;

/** The registering request of an observation and the decoder of its notifications. */
interface ObservationRequest {
  req: CoapRequest;
  decode(res: CoapResponse): DecodedNotification;
}

export interface DeviceClientOptions {
  endpoint: CoapEndpoint;
  model: ObjectModelRegistry;
  defaultTimeoutMs?: number;
}

/** Answers to an iPATCH after which the partial update goes as a Write (POST) instead. */
const IPATCH_REFUSED = new Set<number>([
  CoapCode.METHOD_NOT_ALLOWED,
  CoapCode.UNSUPPORTED_CONTENT_FORMAT,
  CoapCode.BAD_OPTION,
  CoapCode.NOT_IMPLEMENTED,
]);

/** Write-Attributes names: TS 1.1 Core 5.1.2 (pmin..st), 1.1 epmin/epmax, 1.2 edge/con/hqmax. */
export const NOTIFICATION_ATTRIBUTES = [
  'pmin',
  'pmax',
  'gt',
  'lt',
  'st',
  'epmin',
  'epmax',
  'edge',
  'con',
  'hqmax',
];

/** The attributes LwM2M 1.2 added (TS 1.2 Core 5.1.2); a 1.0 or 1.1 client does not know them. */
const LWM2M_12_ATTRIBUTES = ['edge', 'con', 'hqmax'];
const INTEGER_ATTRIBUTES = ['pmin', 'pmax', 'epmin', 'epmax', 'hqmax'];
/** edge: 0 falling, 1 rising; con: 0 NON, 1 CON notifications (TS 1.2 Core 5.1.2). */
const FLAG_ATTRIBUTES = ['edge', 'con'];

/**
 * Why a Write-Attributes cannot be sent as given, or undefined. The rules of TS 1.1/1.2 Core 5.1.2 that a
 * client would otherwise refuse with a bare 4.00 (or worse, accept and behave oddly): periods are
 * non-negative integers, pmin <= pmax and epmin <= epmax, lt < gt, lt + 2*st < gt, st >= 0; the 1.2
 * attributes only for clients that registered with LwM2M 1.2. Checked among the attributes of this request
 * (the client holds the others; it checks the combination with them itself).
 */
export function attributeProblem(
  attributes: Record<string, number | null>,
  version: Registration['lwm2mVersion'],
): string | undefined {
  for (const [name, value] of Object.entries(attributes)) {
    if (!NOTIFICATION_ATTRIBUTES.includes(name)) return `unknown attribute "${name.slice(0, 16)}"`;
    if (LWM2M_12_ATTRIBUTES.includes(name) && version !== '1.2')
      return `${name} is a LwM2M 1.2 attribute; this device registered with LwM2M ${version}`;
    if (value === null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${name} must be a number`;
    if (INTEGER_ATTRIBUTES.includes(name) && (!Number.isInteger(value) || value < 0))
      return `${name} must be a non-negative integer`;
    if (FLAG_ATTRIBUTES.includes(name) && value !== 0 && value !== 1) return `${name} must be 0 or 1`;
    if (name === 'st' && value < 0) return 'st must not be negative';
  }
  const a = attributes;
  const set = (n: string): n is string => typeof a[n] === 'number';
  if (set('pmin') && set('pmax') && a.pmin! > a.pmax!) return 'pmin must not be greater than pmax';
  if (set('epmin') && set('epmax') && a.epmin! > a.epmax!) return 'epmin must not be greater than epmax';
  if (set('lt') && set('gt')) {
    if (a.lt! >= a.gt!) return 'lt must be lower than gt';
    if (set('st') && a.lt! + 2 * a.st! >= a.gt!) return 'lt + 2*st must be lower than gt';
  }
  return undefined;
}

/** TLV (current and LwM2M 1.0 legacy numbers): the one format that can leave the instance id out. */
function isTlv(cf: number): boolean {
  return cf === ContentFormat.TLV || cf === 1542;
}

/** The lowest instance id of `objectId` that the registration's object links do not list (MAX_ID 65535 is reserved). */
export function freeInstanceId(reg: Pick<Registration, 'objectLinks'>, objectId: number): number | undefined {
  const used = new Set<number>();
  const prefix = `/${objectId}/`;
  for (const link of reg.objectLinks) {
    if (!link.path.startsWith(prefix)) continue;
    const id = Number(link.path.slice(prefix.length).split('/')[0]);
    if (Number.isInteger(id)) used.add(id);
  }
  for (let id = 0; id < 65535; id++) if (!used.has(id)) return id;
  return undefined;
}

/** The HTTP-like status of a CoAP response code (DeviceCommandResult.status). */
export function httpStatusOf(code: number): number {
  switch (code) {
    case CoapCode.CREATED:
      return 201;
    case CoapCode.DELETED:
    case CoapCode.CHANGED:
      return 204;
    case CoapCode.CONTENT:
    case CoapCode.VALID:
      return 200;
    case CoapCode.BAD_REQUEST:
      return 400;
    case CoapCode.UNAUTHORIZED:
    case CoapCode.FORBIDDEN:
      return 403;
    case CoapCode.NOT_FOUND:
      return 404;
    case CoapCode.METHOD_NOT_ALLOWED:
      return 405;
    case CoapCode.NOT_ACCEPTABLE:
      return 406;
    case CoapCode.CONFLICT:
      return 409;
    case CoapCode.PRECONDITION_FAILED:
      return 412;
    case CoapCode.REQUEST_ENTITY_TOO_LARGE:
      return 413;
    case CoapCode.UNSUPPORTED_CONTENT_FORMAT:
      return 415;
  }
  const cls = codeClass(code);
  if (cls === 2) return 200;
  if (cls === 4) return 400;
  return 502;
}

const CODE_MEANING: Record<number, string> = {
  [CoapCode.BAD_REQUEST]: 'Bad Request',
  [CoapCode.UNAUTHORIZED]: 'Unauthorized',
  [CoapCode.FORBIDDEN]: 'Forbidden',
  [CoapCode.NOT_FOUND]: 'Not Found',
  [CoapCode.METHOD_NOT_ALLOWED]: 'Method Not Allowed',
  [CoapCode.NOT_ACCEPTABLE]: 'Not Acceptable',
  [CoapCode.REQUEST_ENTITY_INCOMPLETE]: 'Request Entity Incomplete',
  [CoapCode.CONFLICT]: 'Conflict',
  [CoapCode.PRECONDITION_FAILED]: 'Precondition Failed',
  [CoapCode.REQUEST_ENTITY_TOO_LARGE]: 'Request Entity Too Large',
  [CoapCode.UNSUPPORTED_CONTENT_FORMAT]: 'Unsupported Content-Format',
  [CoapCode.INTERNAL_SERVER_ERROR]: 'Internal Server Error',
  [CoapCode.NOT_IMPLEMENTED]: 'Not Implemented',
  [CoapCode.SERVICE_UNAVAILABLE]: 'Service Unavailable',
};

/** "device answered 4.04 Not Found: <diagnostic payload>" */
function errorText(code: number, payload: Buffer): string {
  const meaning = CODE_MEANING[code] ?? 'error';
  const diag = payload.length > 0 && payload.length <= 256 ? `: ${payload.toString('utf8')}` : '';
  return `device answered ${formatCode(code)} ${meaning}${diag}`;
}

/**
 * Decodes a single-path answer (Read, Observe and its notifications) into JSON values: an error code gives
 * `ok: false` with its text, a payload in a format without a codec or that does not decode gives `ok: false`
 * with why (never a throw). `requested` stands in for a missing Content-Format.
 */
export function decodeSinglePayload(
  res: Pick<CoapResponse, 'code' | 'payload' | 'contentFormat' | 'observe'>,
  path: Lwm2mPath,
  requested: number,
  model: ObjectModelRegistry,
): DecodedNotification {
  const head = decodeHead(res, requested, model);
  if ('done' in head) return head.done;
  const { out, cf } = head;
  const codec = getNodeCodec(cf);
  if (!codec) return { ...out, ok: false, error: `device answered in unsupported Content-Format ${cf}` };
  try {
    out.values = toJsonValues(codec.decode(res.payload, path, model), path);
  } catch (err) {
    return { ...out, ok: false, error: `undecodable ${codec.name} payload: ${(err as Error).message}` };
  }
  return out;
}

/**
 * What single and composite answers decode alike: the code (an error answer carries its text), Observe, the
 * Content-Format (`requested` when absent), an empty payload and a SenML-ETCH patch. `done`: nothing is left
 * for the format's codec.
 */
function decodeHead(
  res: Pick<CoapResponse, 'code' | 'payload' | 'contentFormat' | 'observe'>,
  requested: number,
  model: ObjectModelRegistry,
): { done: DecodedNotification } | { out: DecodedNotification; cf: number } {
  const out: DecodedNotification = {
    ok: codeClass(res.code) === 2,
    coapCode: formatCode(res.code),
    values: [],
  };
  if (res.observe !== undefined) out.observe = res.observe;
  if (!out.ok) {
    out.error = errorText(res.code, res.payload);
    return { done: out };
  }
  const cf = res.contentFormat ?? requested;
  out.contentFormat = cf;
  if (res.payload.length === 0) return { done: out };
  if (isSenmlEtch(cf)) return { done: decodePatch(out, res.payload, cf, model) };
  return { out, cf };
}

/** RFC 8790 section 5: a patch notification (SenML-ETCH): the values it sets and the paths it removes. */
function decodePatch(
  out: DecodedNotification,
  payload: Buffer,
  cf: number,
  model: ObjectModelRegistry,
): DecodedNotification {
  try {
    const patch = decodeSenmlPatch(payload, cf, model);
    for (const { path, node } of patch.set) out.values.push(...toJsonValues(node, path));
    out.removed = patch.removed.map((p) => p.toString());
    return out;
  } catch (err) {
    return {
      ...out,
      ok: false,
      values: [],
      error: `undecodable SenML-ETCH payload: ${(err as Error).message}`,
    };
  }
}

/** A failure before anything reached the device (bad operator input): status 400. */
export function badRequest(message: string): OperationResult {
  return { ok: false, status: 400, error: message };
}

function isInputError(err: unknown): err is Error {
  return (
    err instanceof InvalidValueError ||
    err instanceof EncodeError ||
    err instanceof DecodeError ||
    err instanceof UnsupportedContentFormatError
  );
}

function parsePath(text: string): Lwm2mPath {
  try {
    return Lwm2mPath.parse(text);
  } catch {
    throw new InvalidValueError(`"${String(text).slice(0, 40)}" is not an LwM2M path`);
  }
}

// TS 1.1 Core 5.4.5: arg = DIGIT ["=" "'" *CHAR "'"], args separated by ",".
const EXECUTE_ARGS = /^[0-9](='[^']*')?(,[0-9](='[^']*')?)*$/;

export class DeviceClient {
  private readonly endpoint: CoapEndpoint;
  private readonly model: ObjectModelRegistry;
  private readonly defaultTimeoutMs: number;
  private readonly handles = new Map<string, ObservationControl>();

  constructor(opts: DeviceClientOptions) {
    this.endpoint = opts.endpoint;
    this.model = opts.model;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 10_000;
  }

  // ------------------------------------------------------------ operations

  /** TS 1.2 Core 6.3.1 Read: GET with Accept. */
  read(reg: Registration, path: string, opts: OperationOptions = {}): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      const cf = opts.contentFormat ?? formatFor(reg, { single: p.depth >= 3 });
      const res = await this.send(reg, { code: CoapCode.GET, path: this.uri(reg, p), accept: cf }, opts);
      return this.withValues(res, p, cf, this.modelFor(reg));
    });
  }

  /** TS 1.2 Core 6.3.3 Write: PUT replaces, POST updates partially (instance level). */
  write(
    reg: Registration,
    path: string,
    values: JsonPathValue[],
    opts: OperationOptions & { replace?: boolean } = {},
  ): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      if (p.depth < 2) return badRequest('Write targets an object instance, resource or resource instance');
      const model = this.modelFor(reg);
      const node = nodeFromJsonValues(values, p, model);
      const single = node.kind === 'singleResource' || node.kind === 'resourceInstance';
      const cf = opts.contentFormat ?? formatFor(reg, { single });
      const payload = this.encode(node, p, cf, model);
      if (opts.replace === false && p.depth === 2 && opts.contentFormat === undefined) {
        const patched = await this.ipatch(reg, p, node, opts);
        if (patched !== undefined) return patched;
      }
      const code = opts.replace === false ? CoapCode.POST : CoapCode.PUT;
      const res = await this.send(reg, { code, path: this.uri(reg, p), contentFormat: cf, payload }, opts);
      return this.plain(res);
    });
  }

  /**
   * Issue 19: a partial update of an instance as an RFC 8132 iPATCH with a SenML-ETCH Patch Pack (RFC 8790
   * section 5) when the device declared a SenML-ETCH format in its root link's ct (CBOR first). A device
   * that answers 4.05 Method Not Allowed, 4.15 Unsupported Content-Format (or 4.02 / 5.01, what some stacks
   * answer an unknown method or option with) gets the partial-update Write (POST) instead: undefined here.
   */
  private async ipatch(
    reg: Registration,
    p: Lwm2mPath,
    node: Lwm2mNode,
    opts: OperationOptions,
  ): Promise<OperationResult | undefined> {
    const declared = reg.supportedContentFormats ?? [];
    const cf = [ContentFormat.SENML_ETCH_CBOR, ContentFormat.SENML_ETCH_JSON].find((f) =>
      declared.includes(f),
    );
    if (cf === undefined) return undefined;
    const payload = encodeSenmlPatch({ set: [{ path: p, node }], removed: [] }, cf);
    const res = await this.send(
      reg,
      { code: CoapCode.IPATCH, path: this.uri(reg, p), contentFormat: cf, payload },
      opts,
    );
    if (IPATCH_REFUSED.has(res.code)) return undefined;
    return { ...this.plain(res), method: 'iPATCH' };
  }

  /** TS 1.2 Core 6.3.5 Execute: POST on a resource, arguments as text (5.4.5 grammar). */
  execute(
    reg: Registration,
    path: string,
    args?: string,
    opts: OperationOptions = {},
  ): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      if (p.depth !== 3) return badRequest('Execute targets a resource');
      if (args !== undefined && args !== '' && (args.length > 1024 || !EXECUTE_ARGS.test(args))) {
        return badRequest(`execute arguments "${args.slice(0, 40)}" do not follow TS 1.1 Core 5.4.5`);
      }
      const req: CoapRequest = { code: CoapCode.POST, path: this.uri(reg, p) };
      if (args) req.payload = Buffer.from(args, 'utf8');
      return this.plain(await this.send(reg, req, opts));
    });
  }

  /** TS 1.2 Core 6.3.6 Create: POST /o with the new instance (its id in the values' paths). */
  create(
    reg: Registration,
    path: string,
    values: JsonPathValue[],
    opts: OperationOptions = {},
  ): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      if (p.depth !== 1 && p.depth !== 2)
        return badRequest('Create targets an object (/o) or a new instance (/o/i)');
      const model = this.modelFor(reg);
      let leaves = fromJsonValues(values, model);
      const first = leaves[0];
      if (first === undefined) return badRequest('Create needs at least one resource value');
      const cf = opts.contentFormat ?? formatFor(reg);
      const objectPath = new Lwm2mPath(p.objectId);
      // Without an instance id (a POST on the object), TLV carries only the Resource TLVs and the client picks
      // the id (TS 1.1 Core 7.4.3); SenML and LwM2M CBOR name every value by its full path, so there the server
      // names the instance: the lowest id the client did not register (its object links), never one that
      // exists. Either way the client answers 2.01 and Location-Path says which instance it made.
      const clientAssigns = p.depth === 1 && isTlv(cf);
      let instancePath = p.depth === 2 ? p : new Lwm2mPath(p.objectId, first.path.instanceId);
      if (p.depth === 1 && !clientAssigns) {
        const free = freeInstanceId(reg, p.objectId!);
        if (free === undefined) return badRequest(`object ${p.objectId} has no free instance id`);
        instancePath = new Lwm2mPath(p.objectId, free);
        leaves = leaves.map((l) => ({
          ...l,
          path: new Lwm2mPath(p.objectId, free, l.path.resourceId, l.path.resourceInstanceId),
        }));
      }
      let node: Lwm2mNode;
      try {
        node = buildComposite(leaves, model, 'create', [instancePath])[0].node;
      } catch (err) {
        throw new InvalidValueError(err instanceof Error ? err.message : String(err));
      }
      const payload = this.encode(node, clientAssigns ? instancePath : objectPath, cf, model);
      const res = await this.send(
        reg,
        { code: CoapCode.POST, path: this.uri(reg, objectPath), contentFormat: cf, payload },
        opts,
      );
      const out = this.plain(res);
      const loc = getLocationPath(res.message);
      if (out.ok) out.location = loc.length > 0 ? '/' + loc.join('/') : instancePath.toString();
      return out;
    });
  }

  /** TS 1.2 Core 6.3.7 Delete. */
  delete(reg: Registration, path: string, opts: OperationOptions = {}): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      return this.plain(await this.send(reg, { code: CoapCode.DELETE, path: this.uri(reg, p) }, opts));
    });
  }

  /** TS 1.2 Core 6.3.2 Discover: GET with Accept application/link-format. */
  discover(reg: Registration, path: string, opts: OperationOptions = {}): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      const res = await this.send(
        reg,
        { code: CoapCode.GET, path: this.uri(reg, p), accept: ContentFormat.LINK },
        opts,
      );
      const out = this.plain(res);
      if (out.ok) {
        out.links = res.payload.toString('utf8');
        out.contentFormat = res.contentFormat ?? ContentFormat.LINK;
      }
      return out;
    });
  }

  /** TS 1.2 Core 6.3.4 Write-Attributes: PUT with the attributes as Uri-Query, no payload. */
  writeAttributes(
    reg: Registration,
    path: string,
    attributes: Record<string, number | null>,
    opts: OperationOptions = {},
  ): Promise<OperationResult> {
    return this.guard(async () => {
      const p = parsePath(path);
      const problem = attributeProblem(attributes, reg.lwm2mVersion);
      if (problem !== undefined) return badRequest(problem);
      const query: string[] = [];
      for (const [name, value] of Object.entries(attributes)) {
        // No value removes the attribute (TS 1.1 Core 5.1.2).
        query.push(value === null ? name : `${name}=${value}`);
      }
      if (query.length === 0) return badRequest('no attribute to write');
      return this.plain(await this.send(reg, { code: CoapCode.PUT, path: this.uri(reg, p), query }, opts));
    });
  }

  /** TS 1.2 Core 6.3.8 Read-Composite: FETCH with the path list. */
  readComposite(reg: Registration, paths: string[], opts: OperationOptions = {}): Promise<OperationResult> {
    return this.guard(async () => {
      const ps = this.compositePaths(paths);
      const cf = opts.contentFormat ?? formatFor(reg, { composite: true });
      const codec = getCompositeCodec(cf);
      if (!codec) return badRequest(`Content-Format ${cf} cannot carry a Composite operation`);
      const req: CoapRequest = {
        code: CoapCode.FETCH,
        path: this.uri(reg, Lwm2mPath.ROOT),
        contentFormat: cf,
        accept: cf,
        payload: codec.encodePaths(ps),
      };
      return this.withCompositeValues(await this.send(reg, req, opts), cf, this.modelFor(reg));
    });
  }

  /** TS 1.2 Core 6.3.9 Write-Composite: iPATCH with the values. */
  writeComposite(
    reg: Registration,
    values: JsonPathValue[],
    opts: OperationOptions = {},
  ): Promise<OperationResult> {
    return this.guard(async () => {
      const cf = opts.contentFormat ?? formatFor(reg, { composite: true });
      const codec = getCompositeCodec(cf);
      if (!codec) return badRequest(`Content-Format ${cf} cannot carry a Composite operation`);
      const model = this.modelFor(reg);
      const leaves = fromJsonValues(values, model);
      if (leaves.length === 0) return badRequest('Write-Composite needs values');
      let payload: Buffer;
      try {
        payload = codec.encodeComposite(buildComposite(leaves, model, 'write-composite'), model);
      } catch (err) {
        throw new InvalidValueError(err instanceof Error ? err.message : String(err));
      }
      const req: CoapRequest = {
        code: CoapCode.IPATCH,
        path: this.uri(reg, Lwm2mPath.ROOT),
        contentFormat: cf,
        payload,
      };
      return this.plain(await this.send(reg, req, opts));
    });
  }

  /** TS 1.2 Core 6.4.1 Observe (RFC 7641): GET + Observe=0. Notifications go to `onNotification`. */
  observe(
    reg: Registration,
    path: string,
    onNotification: (n: DecodedNotification) => void,
    opts: OperationOptions = {},
  ): Promise<ObserveResult> {
    return this.guardObserve(async () => {
      const spec = { paths: [path], composite: false, contentFormat: opts.contentFormat };
      return this.startObservation(reg, this.observationRequest(reg, spec), opts, onNotification);
    });
  }

  /** TS 1.2 Core 6.4.3 Observe-Composite: FETCH + Observe=0 with the path list. */
  observeComposite(
    reg: Registration,
    paths: string[],
    onNotification: (n: DecodedNotification) => void,
    opts: OperationOptions = {},
  ): Promise<ObserveResult> {
    return this.guardObserve(async () => {
      const spec = { paths, composite: true, contentFormat: opts.contentFormat };
      return this.startObservation(reg, this.observationRequest(reg, spec), opts, onNotification);
    });
  }

  /**
   * Takes over an observation another node started (its ObservationStore record), e.g. after that node
   * crashed and this one took the device's session: registers its token with the endpoint as observe() or
   * observeComposite() would have after the first response, without sending anything, so its notifications
   * reach `onNotification` and cancelObservation / forgetObservation work here. `opts.peer`: where the
   * notification that revealed it came from (default: the registration's address), so it is matched under
   * that datagram's peer key. False when the stored paths or format cannot be rebuilt into a request.
   */
  resumeObservation(
    reg: Registration,
    obs: ObservationSpec & Pick<Observation, 'token'>,
    onNotification: (n: DecodedNotification) => void,
    opts: { peer?: Peer } = {},
  ): boolean {
    let request: ObservationRequest;
    try {
      request = this.observationRequest(reg, obs);
    } catch (err) {
      if (isInputError(err)) return false;
      throw err;
    }
    const token = obs.token;
    const handle = this.endpoint.resumeObservation(
      this.peer(reg, opts.peer),
      request.req,
      Buffer.from(token, 'hex'),
      this.notificationListener(token, request.decode, onNotification),
      { timeout: this.defaultTimeoutMs },
    );
    const previous = this.handles.get(token);
    this.handles.set(token, handle);
    // The endpoint replaced the previous registration of this token; its cancel no longer touches the new one.
    if (previous !== undefined) void previous.cancel({ proactive: false }).catch(() => undefined);
    return true;
  }

  /**
   * TS 1.2 Core 6.4.2 Cancel Observation. Proactive (RFC 7641 3.6: GET with Observe=1 and the same token)
   * by default; reactive just forgets the token, and the next notification is answered with RST.
   */
  async cancelObservation(
    token: string,
    opts: { proactive?: boolean; timeoutMs?: number } = {},
  ): Promise<boolean> {
    const handle = this.handles.get(token);
    if (handle === undefined) return false;
    this.handles.delete(token);
    try {
      await handle.cancel({ proactive: opts.proactive ?? true });
    } catch {
      // The device may be gone; the observation is forgotten here either way.
    }
    return true;
  }

  /** Forgets an observation without telling the device (re-registration, expiry, de-registration). */
  forgetObservation(token: string): void {
    const handle = this.handles.get(token);
    if (handle === undefined) return;
    this.handles.delete(token);
    void handle.cancel({ proactive: false }).catch(() => undefined);
  }

  hasObservation(token: string): boolean {
    return this.handles.has(token);
  }

  // ------------------------------------------------------------ decoding (also used by Send)

  /** The object models of this device: the object versions its registration states (TS 1.1 Core 6.2.1). */
  modelFor(reg: Pick<Registration, 'objectLinks'>): ObjectModelRegistry {
    return this.model.forDevice?.(reg.objectLinks) ?? this.model;
  }

  /** Decodes a single-path payload into JSON values (decodeSinglePayload with this device's models). */
  decodeSingle(
    res: Pick<CoapResponse, 'code' | 'payload' | 'contentFormat' | 'observe'>,
    path: Lwm2mPath,
    requested: number,
    model: ObjectModelRegistry = this.model,
  ): DecodedNotification {
    return decodeSinglePayload(res, path, requested, model);
  }

  /** Decodes a multi-path payload (Read-Composite, Observe-Composite, Send) into JSON values. */
  decodeComposite(
    res: Pick<CoapResponse, 'code' | 'payload' | 'contentFormat' | 'observe'>,
    requested: number,
    timestamped = false,
    model: ObjectModelRegistry = this.model,
  ): DecodedNotification {
    const head = decodeHead(res, requested, model);
    if ('done' in head) return head.done;
    const { out, cf } = head;
    const codec = getCompositeCodec(cf);
    if (!codec) return { ...out, ok: false, error: `Content-Format ${cf} cannot carry several paths` };
    try {
      if (timestamped) {
        for (const group of codec.decodeTimestamped(res.payload, model)) {
          for (const { path, node } of group.nodes) {
            for (const v of toJsonValues(node, path)) {
              out.values.push(group.time !== undefined ? { ...v, time: group.time } : v);
            }
          }
        }
      } else {
        for (const { path, node } of codec.decodeComposite(res.payload, model)) {
          out.values.push(...toJsonValues(node, path));
        }
      }
    } catch (err) {
      return {
        ...out,
        ok: false,
        values: [],
        error: `undecodable ${codec.name} payload: ${(err as Error).message}`,
      };
    }
    return out;
  }

  // ------------------------------------------------------------ internals

  private uri(reg: Registration, path: Lwm2mPath): string[] {
    const root = reg.rootPath.split('/').filter((s) => s.length > 0);
    return [...root, ...path.segments()];
  }

  /** Where and how the device of `reg` is addressed (its DTLS session or OSCORE context): block-wise pushes. */
  peerOf(reg: Registration): Peer {
    return this.peer(reg);
  }

  private peer(reg: Registration, seen?: Peer): Peer {
    // The recorded peer key lets a DTLS transport find the session by its CID even when the address is stale.
    const peer: Peer = seen ?? { address: reg.address.address, port: reg.address.port, ref: reg.session };
    // A device that registered over OSCORE is addressed with its endpoint's OSCORE context (the gateway's
    // seam protects the request; none is sent in the clear).
    if (reg.security === 'oscore') {
      return peer.identity?.type === 'oscore'
        ? peer
        : { ...peer, identity: { type: 'oscore', endpoint: reg.endpoint } };
    }
    // A device that registered over DTLS is only ever addressed over DTLS (libs/coap Peer.secure).
    if (reg.security !== 'nosec' && peer.secure !== true) return { ...peer, secure: true };
    return peer;
  }

  /**
   * TS 1.2 Core 6.4.1 Observe (GET on one path) or 6.4.3 Observe-Composite (FETCH with the path list), the
   * Observe option left to the endpoint: what observe(), observeComposite() and resumeObservation() send.
   */
  private observationRequest(reg: Registration, spec: ObservationSpec): ObservationRequest {
    if (!spec.composite) {
      const p = parsePath(spec.paths[0] ?? '');
      const cf = spec.contentFormat ?? formatFor(reg, { single: p.depth >= 3 });
      // The device's object versions, read from its links once per observation, not per notification.
      const model = this.modelFor(reg);
      return {
        req: { code: CoapCode.GET, path: this.uri(reg, p), accept: cf },
        decode: (res) => this.decodeSingle(res, p, cf, model),
      };
    }
    const ps = this.compositePaths(spec.paths);
    const cf = spec.contentFormat ?? formatFor(reg, { composite: true });
    const codec = getCompositeCodec(cf);
    if (!codec) throw new InvalidValueError(`Content-Format ${cf} cannot carry a Composite operation`);
    const model = this.modelFor(reg);
    return {
      req: {
        code: CoapCode.FETCH,
        path: this.uri(reg, Lwm2mPath.ROOT),
        contentFormat: cf,
        accept: cf,
        payload: codec.encodePaths(ps),
      },
      decode: (res) => this.decodeComposite(res, cf, false, model),
    };
  }

  /** The endpoint's notification callback: decodes, and forgets the token when the observation ends. */
  private notificationListener(
    token: string,
    decode: (res: CoapResponse) => DecodedNotification,
    onNotification: (n: DecodedNotification) => void,
  ): (res: CoapResponse) => void {
    return (res) => {
      const n = decode(res);
      // RFC 7641 3.2: an error or a response without Observe ends the observation.
      if (codeClass(res.code) !== 2 || res.observe === undefined) this.handles.delete(token);
      onNotification(n);
    };
  }

  private compositePaths(paths: string[]): Lwm2mPath[] {
    if (paths.length === 0) throw new InvalidValueError('a Composite operation needs at least one path');
    if (paths.length > 256) throw new InvalidValueError('at most 256 paths per Composite operation');
    return paths.map(parsePath);
  }

  private encode(node: Lwm2mNode, path: Lwm2mPath, cf: number, model: ObjectModelRegistry): Buffer {
    const codec = getNodeCodec(cf);
    if (!codec) throw new InvalidValueError(`no encoder for Content-Format ${cf}`);
    return codec.encode(node, path, model);
  }

  private async send(reg: Registration, req: CoapRequest, opts: OperationOptions): Promise<CoapResponse> {
    const timeout = opts.timeoutMs ?? this.defaultTimeoutMs;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    try {
      return await this.endpoint.request(this.peer(reg), req, { timeout, signal: ctl.signal });
    } catch (err) {
      if (ctl.signal.aborted) throw new CoapTimeoutError(`no answer within ${timeout} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async startObservation(
    reg: Registration,
    { req, decode }: ObservationRequest,
    opts: OperationOptions,
    onNotification: (n: DecodedNotification) => void,
  ): Promise<ObserveResult> {
    const timeout = opts.timeoutMs ?? this.defaultTimeoutMs;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    const tokenBytes = randomBytes(8);
    const token = tokenBytes.toString('hex');
    let handle: ObservationHandle;
    try {
      handle = await this.endpoint.observe(
        this.peer(reg),
        { ...req, token: tokenBytes },
        this.notificationListener(token, decode, onNotification),
        { timeout, signal: ctl.signal },
      );
    } catch (err) {
      if (ctl.signal.aborted) throw new CoapTimeoutError(`no answer within ${timeout} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    const first = decode(handle.response);
    const result: OperationResult = {
      ok: first.ok,
      status: first.ok ? 200 : httpStatusOf(handle.response.code),
      coapCode: first.coapCode,
      values: first.values,
    };
    if (first.contentFormat !== undefined) result.contentFormat = first.contentFormat;
    if (first.error !== undefined) result.error = first.error;
    if (first.ok && codeClass(handle.response.code) === 2 && !first.error) {
      if (!handle.established) {
        result.error = 'the device answered without Observe: not observable';
        return { result };
      }
      this.handles.set(token, handle);
      return {
        result,
        token,
        ...(handle.response.observe !== undefined ? { observe: handle.response.observe } : {}),
      };
    }
    if (codeClass(handle.response.code) === 2) result.status = 502;
    return { result };
  }

  private plain(res: CoapResponse): OperationResult {
    const ok = codeClass(res.code) === 2;
    const out: OperationResult = { ok, status: httpStatusOf(res.code), coapCode: formatCode(res.code) };
    if (!ok) out.error = errorText(res.code, res.payload);
    return out;
  }

  private withValues(
    res: CoapResponse,
    path: Lwm2mPath,
    cf: number,
    model: ObjectModelRegistry,
  ): OperationResult {
    return this.fromDecoded(res, this.decodeSingle(res, path, cf, model));
  }

  private withCompositeValues(res: CoapResponse, cf: number, model: ObjectModelRegistry): OperationResult {
    return this.fromDecoded(res, this.decodeComposite(res, cf, false, model));
  }

  private fromDecoded(res: CoapResponse, d: DecodedNotification): OperationResult {
    const out = this.plain(res);
    if (!out.ok) return out;
    if (!d.ok) return { ok: false, status: 502, coapCode: out.coapCode, error: d.error };
    out.values = d.values;
    if (d.contentFormat !== undefined) out.contentFormat = d.contentFormat;
    return out;
  }

  private async guard(run: () => Promise<OperationResult>): Promise<OperationResult> {
    try {
      return await run();
    } catch (err) {
      return failure(err);
    }
  }

  private async guardObserve(run: () => Promise<ObserveResult>): Promise<ObserveResult> {
    try {
      return await run();
    } catch (err) {
      return { result: failure(err) };
    }
  }
}

/** Exceptions of an operation as a result: bad input 400, no answer 504, transport trouble 502. */
export function failure(err: unknown): OperationResult {
  if (isInputError(err)) return badRequest(err.message);
  if (err instanceof CoapTimeoutError)
    return { ok: false, status: 504, error: 'the device did not answer in time' };
  if (err instanceof CoapExchangeError) {
    if (err.reason === 'reset')
      return { ok: false, status: 502, error: 'the device reset the request (RST)' };
    return { ok: false, status: 502, error: `exchange failed: ${err.message}` };
  }
  throw err;
}
