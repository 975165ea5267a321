// How a multicast group's request is sent: once, through the group proxy's own forwarding and collection
// (libs/group-proxy, draft-ietf-core-groupcomm-proxy section 4.2: a NON request to the group address, every
// server's response until T', each named by Reply-From), in process. Each server's first response becomes
// one result keyed by its address ("coap://10.0.0.7:5683"); for an observe, each later notification of that
// server (RFC 7641, newer than every one before it, section 3.4) updates it. An answer in an LwM2M
// Content-Format is decoded to values with the unicast decoder (libs/server decodeSinglePayload).
import {
  CoapCode,
  codeClass,
  encodeUint,
  formatCode,
  getContentFormat,
  getObserve,
  NotificationOrder,
  OptionNumber,
} from '@lwm2m/coap';
import type { CoapMessage, CoapOption, Peer } from '@lwm2m/coap';
import { coapToHttpStatus, formatReplyFrom, type GroupProxy, submitGroupRequest } from '@lwm2m/group-proxy';
import {
  ContentFormat,
  defaultObjectModelRegistry,
  getNodeCodec,
  Lwm2mPath,
  type ObjectModelRegistry,
  SenmlJsonCodec,
} from '@lwm2m/lwm2m';
import { decodeSinglePayload, nodeFromJsonValues } from '@lwm2m/server';
import type { GroupOperationSpec, MemberResult } from './group-request';

export interface MulticastExchange {
  /** Ends the collection now (an Early Stop Request to the proxy; an observation ends with it). */
  stop(): void;
}

export interface MulticastHandlers {
  /** A server's first response: its result. */
  result(r: MemberResult): void;
  /**
   * An observe's later notification from a server that has a result (RFC 7641 section 3.2), newer than every
   * one before it (section 3.4): the server's result as of now, `notifications` counting them.
   */
  notification(r: MemberResult): void;
  ended(): void;
}

export interface MulticastSender {
  send(
    group: { address: string; port: number },
    spec: GroupOperationSpec,
    timeoutMs: number,
    handlers: MulticastHandlers,
  ): MulticastExchange;
}

/** The api's in-process client of the proxy, as its allow-list names it (never a routable address). */
export const IN_PROCESS_CLIENT: Peer = { address: 'in-process', port: 0 };

const TEXT_FORMATS = new Set<number | undefined>([
  undefined,
  ContentFormat.TEXT,
  ContentFormat.LINK,
  50, // application/json
  ContentFormat.SENML_JSON,
  ContentFormat.JSON,
]);

export class ProxyMulticastSender implements MulticastSender {
  private readonly models = defaultObjectModelRegistry();

  constructor(
    private readonly proxy: GroupProxy,
    private readonly client: Peer = IN_PROCESS_CLIENT,
    /** Servers kept per request (GROUP_MAX_MEMBERS): answers from more addresses are dropped and counted. */
    private readonly maxServers = 100_000,
  ) {}

  readonly counters = {
    /** Answers dropped because a request already had `maxServers` results. */
    dropped: 0,
    /** LwM2M answers whose payload did not decode (kept as payload, with an error). */
    undecodable: 0,
    /** Later notifications kept. */
    notifications: 0,
    /** Later notifications older than one kept before (RFC 7641 section 3.4), or not notifications at all. */
    ignored: 0,
  };

  send(
    group: { address: string; port: number },
    spec: GroupOperationSpec,
    timeoutMs: number,
    handlers: MulticastHandlers,
  ): MulticastExchange {
    this.proxy.addGroup({
      name: `mc:${group.address}:${group.port}`,
      address: group.address,
      port: group.port,
    });
    const path = Lwm2mPath.parse(spec.path);
    let code: number = CoapCode.GET;
    let payload: Buffer | undefined;
    const options: CoapOption[] = [];
    if (spec.op === 'write') {
      // LwM2M Write over multicast: PUT replaces, POST updates (TS Transport 6.4); SenML JSON payload.
      code = spec.replace === false ? CoapCode.POST : CoapCode.PUT;
      payload = SenmlJsonCodec.encode(
        nodeFromJsonValues(spec.values ?? [], path, this.models),
        path,
        this.models,
      );
      options.push({ number: OptionNumber.CONTENT_FORMAT, value: encodeUint(ContentFormat.SENML_JSON) });
    } else if (spec.op === 'execute') {
      code = CoapCode.POST;
      if (spec.args) payload = Buffer.from(spec.args);
    }
    /** The servers that answered; for an observe, the order of each one's notifications and their count. */
    const seen = new Map<string, { order: NotificationOrder; notifications: number }>();
    const observe = spec.op === 'observe';
    // A Read's or Observe's answer is the path's value (TS 1.2 Transport 6.4: both are a GET of it).
    const asValues = spec.op === 'read' || observe;
    const decode = (endpoint: string, msg: CoapMessage, at: number): MemberResult => {
      const r = resultOfResponse(endpoint, msg, at, asValues ? { path, models: this.models } : undefined);
      if (r.payload !== undefined && r.error !== undefined && r.state === 'succeeded')
        this.counters.undecodable++;
      return r;
    };
    return submitGroupRequest(
      this.proxy,
      {
        client: this.client,
        group,
        code,
        path: spec.path,
        options,
        ...(payload ? { payload } : {}),
        observe: spec.op === 'observe',
        // T' is whole seconds (section 2.1); the runner's deadline cuts the rest.
        timeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)),
      },
      {
        response: (origin, msg) => {
          if (!origin) return;
          const endpoint = formatReplyFrom(origin);
          const now = Date.now();
          const seq = getObserve(msg);
          const known = seen.get(endpoint);
          if (known) {
            // A read's duplicate answer is nothing new; an observation's notification is kept when it is
            // a 2.xx with Observe newer than every one this server sent before (RFC 7641 3.2, 3.4).
            if (!observe || seq === undefined || codeClass(msg.code) !== 2 || !known.order.accept(seq, now)) {
              this.counters.ignored++;
              return;
            }
            known.notifications++;
            this.counters.notifications++;
            handlers.notification({ ...decode(endpoint, msg, now), notifications: known.notifications });
            return;
          }
          if (seen.size >= this.maxServers) {
            this.counters.dropped++;
            return;
          }
          const order = new NotificationOrder();
          if (seq !== undefined) order.accept(seq, now);
          seen.set(endpoint, { order, notifications: 0 });
          handlers.result(decode(endpoint, msg, now));
        },
        refused: (c, detail) => {
          handlers.result({
            endpoint: `coap-proxy`,
            state: 'failed',
            status: coapToHttpStatus(c),
            coapCode: formatCode(c),
            error: detail || 'the group proxy refused the request',
            at: Date.now(),
          });
        },
        ended: () => handlers.ended(),
      },
    );
  }
}

/** The formats an LwM2M server answers a single path in (TS 1.2 Core 7.4): those the unicast path decodes. */
function isLwm2mFormat(cf: number | undefined, path: Lwm2mPath): boolean {
  if (cf === undefined || getNodeCodec(cf) === undefined) return false;
  // text/plain and opaque carry one resource (instance) value only (TS 1.2 Core 7.4.1, 7.4.2); a plain CoAP
  // server's text on another path is no LwM2M value.
  if (cf === ContentFormat.TEXT || cf === ContentFormat.OPAQUE) return path.depth >= 3;
  return true;
}

/**
 * A server's response as a member result: 2.xx succeeded, else failed. With `asValues`, a 2.xx in an LwM2M
 * Content-Format for its path carries `values` (decoded as a device's answer is); anything else its payload
 * as text or base64, as does an LwM2M payload that does not decode (with `error` saying why). Never throws.
 */
export function resultOfResponse(
  endpoint: string,
  msg: CoapMessage,
  at: number,
  asValues?: { path: Lwm2mPath; models: ObjectModelRegistry },
): MemberResult {
  const contentFormat = getContentFormat(msg);
  const seq = getObserve(msg);
  const out: MemberResult = {
    endpoint,
    state: codeClass(msg.code) === 2 ? 'succeeded' : 'failed',
    status: coapToHttpStatus(msg.code, msg.payload.length > 0),
    coapCode: formatCode(msg.code),
    ...(contentFormat !== undefined ? { contentFormat } : {}),
    ...(seq !== undefined ? { observe: seq } : {}),
    at,
  };
  if (msg.payload.length === 0) return out;
  if (out.state === 'succeeded' && asValues && isLwm2mFormat(contentFormat, asValues.path)) {
    const d = decodeSinglePayload(
      { code: msg.code, payload: msg.payload, contentFormat },
      asValues.path,
      contentFormat!,
      asValues.models,
    );
    if (d.ok) return { ...out, values: d.values };
    out.error = d.error ?? 'undecodable payload';
  }
  const text = msg.payload.toString('utf8');
  if (TEXT_FORMATS.has(contentFormat) && Buffer.from(text, 'utf8').equals(msg.payload)) out.payload = text;
  else {
    out.payload = msg.payload.toString('base64');
    out.payloadEncoding = 'base64';
  }
  if (out.state === 'failed') out.error = out.payloadEncoding ? 'the server answered an error' : text;
  return out;
}
