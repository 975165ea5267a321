// LwM2M TS 1.2 Core section 6.2 / Transport section 6.4 (TS 1.1 Core 5.3): the Client Registration
// Interface on the server side: Register (POST /rd), Update (POST /rd/{id}), De-register (DELETE /rd/{id}).
import { randomBytes } from 'node:crypto';
import {
  CoapCode,
  type EchoGuard,
  type IncomingRequest,
  OptionNumber,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { sessionRefOf } from '@lwm2m/transport';
import { ContentFormat, decodeLwm2mLinks, type Lwm2mLink } from '@lwm2m/lwm2m';
import type { LostObservation, Lwm2mEvent } from './events';
import { CredentialBinding, type SecurityPolicy } from './credential-binding';
import type { X509EndpointFrom } from './security';
import type { CredentialStore, EventBus, Observation, RegistrationStore, UpdateAnnouncement } from './ports';
import type { Lwm2mVersion, ObjectLinkInfo, Registration } from './registration';

export interface RegistrationLimits {
  /** Bytes of the link-format payload (Register/Update). */
  maxPayloadBytes: number;
  maxLinks: number;
  maxEndpointLength: number;
  /** Seconds; a larger "lt" is refused. */
  maxLifetime: number;
  maxQueryParams: number;
}

export const DEFAULT_REGISTRATION_LIMITS: RegistrationLimits = {
  maxPayloadBytes: 64 * 1024,
  maxLinks: 2048,
  maxEndpointLength: 255,
  // uint32 would do for the Server object's Lifetime; 2^31-1 s keeps expiresAt far inside Date's range.
  maxLifetime: 2 ** 31 - 1,
  maxQueryParams: 32,
};

/** TS 1.1 Core 6.2.1: "lt" is optional, 86400 s when absent. */
export const DEFAULT_LIFETIME = 86400;

const SUPPORTED_VERSIONS: readonly Lwm2mVersion[] = ['1.0', '1.1', '1.2'];

export interface RegistrationHooks {
  /** Registrations (new or replaced) and their cancelled observations: release local handles. */
  onRegistered?(reg: Registration, replaced?: Registration, cancelled?: Observation[]): void;
  onUpdated?(reg: Registration): void;
  onRemoved?(reg: Registration, cancelled: Observation[]): void;
}

export interface RegistrationHandlerOptions {
  store: RegistrationStore;
  events: EventBus;
  now?: () => number;
  /** Recorded as Registration.gatewayNode. */
  nodeId?: string;
  newRegistrationId?: () => string;
  limits?: Partial<RegistrationLimits>;
  hooks?: RegistrationHooks;
  /** Security mode of peers without an identity (NoSec); a secured peer's mode is its identity's. */
  security?: Registration['security'];
  /** Binds DTLS identities to endpoint names (4.03 on a mismatch); without it every identity is unknown. */
  credentials?: CredentialStore;
  /** NoSec for endpoints without a credential (default) or for none (credential-binding.ts). */
  securityPolicy?: SecurityPolicy;
  /** RFC 9175 section 2.4: a NoSec Register proves its source address with an Echo round trip first. */
  echo?: EchoGuard;
  /** Which certificate field names the endpoint of an X.509 client (X509_ENDPOINT_FROM, default auto). */
  x509EndpointFrom?: X509EndpointFrom;
}

/** A request refused with a CoAP error and a diagnostic payload (RFC 7252 section 5.5.2). */
class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string): Refusal => new Refusal(CoapCode.BAD_REQUEST, message);

export function refuse(code: number, message: string): OutgoingResponse {
  return { code, payload: Buffer.from(message, 'utf8') };
}

/** Url-safe, 16 chars, 96 random bits. */
export function newRegistrationId(): string {
  return randomBytes(12).toString('base64url');
}

interface ParsedQuery {
  params: Map<string, string | undefined>;
}

const PARAM_NAME = /^[A-Za-z0-9_.~-]{1,32}$/;

function parseQuery(query: string[], limits: RegistrationLimits): ParsedQuery {
  if (query.length > limits.maxQueryParams)
    throw bad(`too many query parameters (max ${limits.maxQueryParams})`);
  const params = new Map<string, string | undefined>();
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    const value = eq < 0 ? undefined : q.slice(eq + 1);
    if (!PARAM_NAME.test(name)) throw bad(`bad query parameter name "${name.slice(0, 32)}"`);
    if (params.has(name)) throw bad(`query parameter "${name}" given twice`);
    params.set(name, value);
  }
  return { params };
}

function parseLifetime(raw: string | undefined, limits: RegistrationLimits): number {
  if (raw === undefined || !/^[0-9]{1,12}$/.test(raw)) {
    throw bad(`lt must be a positive integer number of seconds, got "${String(raw).slice(0, 32)}"`);
  }
  const lt = Number(raw);
  if (lt < 1 || lt > limits.maxLifetime)
    throw bad(`lt must be within 1..${limits.maxLifetime} s, got ${raw}`);
  return lt;
}

function parseVersion(raw: string | undefined): Lwm2mVersion {
  if (raw === undefined) return '1.0'; // TS 1.1 Core 6.2.1: absent means LwM2M 1.0
  if (!/^[0-9]{1,3}\.[0-9]{1,3}$/.test(raw))
    throw bad(`lwm2m must be "major.minor", got "${raw.slice(0, 32)}"`);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(raw)) {
    // 4.00 with the reason, like every other refused Register parameter (the product's contract, see
    // README "Registration"); LwM2M 1.1 servers may instead answer 4.12 Precondition Failed here.
    throw bad(`LwM2M version ${raw} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  return raw as Lwm2mVersion;
}

/**
 * TS 1.0 5.3.1: U, UQ, S, SQ, US, UQS. TS 1.1 Core 6.2.1.1: any of U, T, S, N, queue mode moved to "Q"
 * (a Q letter is still accepted from 1.1 clients for compatibility).
 */
function parseBinding(raw: string | undefined, version: Lwm2mVersion): { binding: string; queue: boolean } {
  if (raw === undefined) return { binding: 'U', queue: false };
  const letters = version === '1.0' ? 'USQ' : 'UTSNQ';
  if (raw.length === 0 || raw.length > 5 || [...raw].some((c) => !letters.includes(c))) {
    throw bad(`b="${raw.slice(0, 16)}" is not a LwM2M ${version} binding (letters ${letters})`);
  }
  if (new Set(raw).size !== raw.length) throw bad(`b="${raw}" repeats a binding letter`);
  if (raw === 'Q') throw bad('b="Q" names no transport');
  return { binding: raw, queue: raw.includes('Q') };
}

function parseSms(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^\+?[0-9]{1,20}$/.test(raw)) throw bad(`sms="${raw.slice(0, 24)}" is not an MSISDN`);
  return raw;
}

function parseEndpoint(raw: string | undefined, limits: RegistrationLimits): string {
  if (raw === undefined || raw.length === 0) throw bad('missing endpoint client name (ep)');
  if (raw.length > limits.maxEndpointLength)
    throw bad(`ep longer than ${limits.maxEndpointLength} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw bad('ep contains control characters');
  return raw;
}

interface ParsedLinks {
  rootPath: string;
  objectLinks: ObjectLinkInfo[];
  supportedContentFormats: number[];
}

function linkAttributes(l: Lwm2mLink): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of l.raw) if (!(a.name in out)) out[a.name] = a.value ?? '';
  return out;
}

/** TS 1.1 Core 6.2.1: the payload lists Objects and Object Instances in CoRE Link Format. */
function parseLinks(req: IncomingRequest, limits: RegistrationLimits): ParsedLinks {
  if (req.contentFormat !== undefined && req.contentFormat !== ContentFormat.LINK) {
    throw bad(
      `the object links must be application/link-format (40), got Content-Format ${req.contentFormat}`,
    );
  }
  if (req.payload.length > limits.maxPayloadBytes) {
    throw bad(`link list of ${req.payload.length} bytes exceeds ${limits.maxPayloadBytes}`);
  }
  // Each link needs at least "<>"; a cheap bound before parsing.
  let commas = 0;
  for (const b of req.payload) if (b === 0x2c) commas++;
  if (commas + 1 > limits.maxLinks * 4) throw bad(`more than ${limits.maxLinks} links`);
  let links: Lwm2mLink[];
  try {
    links = decodeLwm2mLinks(req.payload);
  } catch (err) {
    throw bad(`malformed link list: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (links.length > limits.maxLinks)
    throw bad(`${links.length} links exceed the limit of ${limits.maxLinks}`);
  const root = links.find((l) => l.path === undefined && l.attributes.rt === 'oma.lwm2m');
  const rootPath = root ? root.target : '/';
  const supportedContentFormats = root?.attributes.ct ?? [];
  const objectLinks: ObjectLinkInfo[] = [];
  for (const l of links) {
    if (l.path === undefined) {
      if (l !== root && l.target !== '/' && l.target !== rootPath) {
        throw bad(`link ${l.target.slice(0, 64)} is not an object or object instance`);
      }
      objectLinks.push({ path: '/', attributes: linkAttributes(l) });
      continue;
    }
    if (l.path.depth > 2) throw bad(`link ${l.path.toString()} is not an object or object instance`);
    objectLinks.push({ path: l.path.toString(), attributes: linkAttributes(l) });
  }
  return { rootPath, objectLinks, supportedContentFormats };
}

/** What the event stream keeps of a cancelled observation (the scheduler re-establishes it). */
export function lostObservation(o: Observation): LostObservation {
  return {
    id: o.id,
    paths: o.paths,
    composite: o.composite,
    ...(o.contentFormat !== undefined ? { contentFormat: o.contentFormat } : {}),
    ...(o.notifications !== undefined ? { notifications: o.notifications } : {}),
  };
}

/** Handles requests under /rd. Never throws for bad input: it answers with a CoAP error. */
export class RegistrationHandler {
  private readonly store: RegistrationStore;
  private readonly events: EventBus;
  private readonly now: () => number;
  private readonly nodeId?: string;
  private readonly newId: () => string;
  private readonly limits: RegistrationLimits;
  private readonly hooks: RegistrationHooks;
  private readonly security: Registration['security'];
  /** The credential check of secured peers, with its counters. */
  readonly binding: CredentialBinding;
  private readonly echo?: EchoGuard;

  constructor(opts: RegistrationHandlerOptions) {
    this.store = opts.store;
    this.events = opts.events;
    this.now = opts.now ?? Date.now;
    this.nodeId = opts.nodeId;
    this.newId = opts.newRegistrationId ?? newRegistrationId;
    this.limits = { ...DEFAULT_REGISTRATION_LIMITS, ...opts.limits };
    this.hooks = opts.hooks ?? {};
    this.security = opts.security ?? 'nosec';
    this.binding = new CredentialBinding(opts.credentials, opts.securityPolicy, opts.x509EndpointFrom);
    this.echo = opts.echo;
  }

  /** `req.path[0]` is "rd". */
  async handle(req: IncomingRequest): Promise<OutgoingResponse> {
    try {
      if (req.path.length === 1) {
        if (req.code !== CoapCode.POST)
          return refuse(CoapCode.METHOD_NOT_ALLOWED, 'only POST /rd (Register)');
        return await this.register(req);
      }
      if (req.path.length === 2) {
        if (req.code === CoapCode.POST) return await this.update(req, req.path[1]);
        if (req.code === CoapCode.DELETE) return await this.deregister(req, req.path[1]);
        return refuse(CoapCode.METHOD_NOT_ALLOWED, 'POST (Update) or DELETE (De-register) only');
      }
      return refuse(CoapCode.NOT_FOUND, 'no such registration resource');
    } catch (err) {
      if (err instanceof Refusal) return refuse(err.code, err.message);
      throw err;
    }
  }

  /** 4.03 with a diagnostic when the peer's DTLS credential is not the endpoint's (credential-binding.ts). */
  private async checkBinding(
    req: IncomingRequest,
    endpoint: string,
    registeredWith?: Registration['security'],
  ): Promise<void> {
    const denied = await this.binding.refusal(req.peer.identity, endpoint, registeredWith);
    if (denied !== undefined) throw new Refusal(CoapCode.FORBIDDEN, denied);
  }

  private async register(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.peer.identity === undefined && this.echo !== undefined) {
      // Before any parsing or store access: a forged source costs no state and gets no larger answer.
      const routable = this.echo.check(req);
      if (!routable.ok) return routable.response;
    }
    const { params } = parseQuery(req.query, this.limits);
    const endpoint = parseEndpoint(params.get('ep'), this.limits);
    await this.checkBinding(req, endpoint);
    const lifetime = params.has('lt') ? parseLifetime(params.get('lt'), this.limits) : DEFAULT_LIFETIME;
    const lwm2mVersion = parseVersion(params.get('lwm2m'));
    const { binding, queue } = parseBinding(params.get('b'), lwm2mVersion);
    const smsNumber = parseSms(params.get('sms'));
    if (params.has('Q') && params.get('Q') !== undefined && params.get('Q') !== '') {
      throw bad('Q takes no value');
    }
    const links = parseLinks(req, this.limits);
    const extra: Record<string, string> = {};
    for (const [k, v] of params) {
      if (!['ep', 'lt', 'lwm2m', 'b', 'sms', 'Q'].includes(k)) extra[k] = v ?? '';
    }
    const now = this.now();
    const reg: Registration = {
      registrationId: this.newId(),
      endpoint,
      lwm2mVersion,
      lifetime,
      binding,
      queueMode: queue || (lwm2mVersion !== '1.0' && params.has('Q')),
      address: { address: req.peer.address, port: req.peer.port },
      session: sessionRefOf(req.peer),
      rootPath: links.rootPath,
      objectLinks: links.objectLinks,
      supportedContentFormats: links.supportedContentFormats,
      registeredAt: now,
      lastUpdate: now,
      lastSeen: now,
      expiresAt: now + lifetime * 1000,
      security: req.peer.identity?.type ?? this.security,
    };
    if (smsNumber !== undefined) reg.smsNumber = smsNumber;
    if (this.nodeId !== undefined) reg.gatewayNode = this.nodeId;
    if (Object.keys(extra).length > 0) reg.extraAttributes = extra;
    // The store may append the event in the same call as the record (issue 12: one Redis call per Register).
    const { replaced, cancelledObservations, eventId } = await this.store.register(reg, {
      type: 'registered',
      endpoint,
      registration: reg,
    });
    this.hooks.onRegistered?.(reg, replaced, cancelledObservations);
    if (eventId !== undefined) {
      this.events.appended?.(
        {
          type: 'registered',
          endpoint,
          registration: reg,
          ...(replaced ? { replaced: replaced.registrationId } : {}),
        },
        eventId,
      );
    } else {
      await this.events.publish({
        type: 'registered',
        endpoint,
        registration: reg,
        ...(replaced ? { replaced: replaced.registrationId } : {}),
        ...(cancelledObservations.length > 0
          ? { cancelledObservations: cancelledObservations.map(lostObservation) }
          : {}),
      });
    }
    return {
      code: CoapCode.CREATED,
      options: [
        { number: OptionNumber.LOCATION_PATH, value: Buffer.from('rd') },
        { number: OptionNumber.LOCATION_PATH, value: Buffer.from(reg.registrationId) },
      ],
    };
  }

  private async update(req: IncomingRequest, id: string): Promise<OutgoingResponse> {
    const { params } = parseQuery(req.query, this.limits);
    const current = await this.store.getById(id);
    if (current === undefined) return refuse(CoapCode.NOT_FOUND, `no registration ${id.slice(0, 64)}`);
    await this.checkBinding(req, current.endpoint, current.security);
    const now = this.now();
    const patch: Parameters<RegistrationStore['update']>[1] = {
      address: { address: req.peer.address, port: req.peer.port },
      session: sessionRefOf(req.peer),
      lastSeen: now,
      lastUpdate: now,
    };
    const lifetime = params.has('lt') ? parseLifetime(params.get('lt'), this.limits) : current.lifetime;
    if (params.has('lt')) patch.lifetime = lifetime;
    if (params.has('b')) {
      const { binding, queue } = parseBinding(params.get('b'), current.lwm2mVersion);
      patch.binding = binding;
      patch.queueMode = queue || (current.lwm2mVersion !== '1.0' && params.has('Q'));
    } else if (params.has('Q') && current.lwm2mVersion !== '1.0') {
      patch.queueMode = true;
    }
    if (params.has('sms')) patch.smsNumber = parseSms(params.get('sms'));
    if (req.payload.length > 0) {
      const links = parseLinks(req, this.limits);
      patch.objectLinks = links.objectLinks;
      if (links.supportedContentFormats.length > 0)
        patch.supportedContentFormats = links.supportedContentFormats;
    }
    patch.expiresAt = now + lifetime * 1000;
    if (this.nodeId !== undefined) patch.gatewayNode = this.nodeId;
    const announce: UpdateAnnouncement = {
      event: (registration) => ({ type: 'updated', endpoint: registration.endpoint, registration }),
    };
    const updated = await this.store.update(id, patch, announce);
    if (updated === undefined) return refuse(CoapCode.NOT_FOUND, `no registration ${id.slice(0, 64)}`);
    this.hooks.onUpdated?.(updated);
    if (announce.appended !== undefined) this.events.appended?.(announce.event(updated), announce.appended);
    else await this.events.publish(announce.event(updated));
    return { code: CoapCode.CHANGED };
  }

  private async deregister(req: IncomingRequest, id: string): Promise<OutgoingResponse> {
    const current = await this.store.getById(id);
    if (current !== undefined) await this.checkBinding(req, current.endpoint, current.security);
    const event = (endpoint: string): Lwm2mEvent => ({
      type: 'deregistered',
      endpoint,
      registrationId: id,
      reason: 'device',
    });
    const removed = await this.store.deregister(id, current && event(current.endpoint));
    if (removed === undefined) return refuse(CoapCode.NOT_FOUND, `no registration ${id.slice(0, 64)}`);
    this.hooks.onRemoved?.(removed.registration, removed.cancelledObservations);
    if (removed.eventId !== undefined)
      this.events.appended?.(event(removed.registration.endpoint), removed.eventId);
    else await this.events.publish(event(removed.registration.endpoint));
    return { code: CoapCode.DELETED };
  }
}
