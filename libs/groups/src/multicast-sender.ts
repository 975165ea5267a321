// How a multicast group's request is sent: once, through the group proxy's own forwarding and collection
// (libs/group-proxy, draft-ietf-core-groupcomm-proxy section 4.2: a NON request to the group address, every
// server's response until T', each named by Reply-From), in process. Each server's first response becomes
// one result keyed by its address ("coap://10.0.0.7:5683").
import { CoapCode, codeClass, encodeUint, formatCode, getOption, OptionNumber } from '@lwm2m/coap';
import type { CoapMessage, CoapOption, Peer } from '@lwm2m/coap';
import { coapToHttpStatus, formatReplyFrom, type GroupProxy, submitGroupRequest } from '@lwm2m/group-proxy';
import { ContentFormat, defaultObjectModelRegistry, Lwm2mPath, SenmlJsonCodec } from '@lwm2m/lwm2m';
import { nodeFromJsonValues } from '@lwm2m/server';
import type { GroupOperationSpec, MemberResult } from './group-request';

export interface MulticastExchange {
  /** Ends the collection now (an Early Stop Request to the proxy; an observation ends with it). */
  stop(): void;
}

export interface MulticastSender {
  send(
    group: { address: string; port: number },
    spec: GroupOperationSpec,
    timeoutMs: number,
    handlers: { result(r: MemberResult): void; ended(): void },
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

  /** Answers dropped because a request already had `maxServers` results. */
  dropped = 0;

  send(
    group: { address: string; port: number },
    spec: GroupOperationSpec,
    timeoutMs: number,
    handlers: { result(r: MemberResult): void; ended(): void },
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
    const seen = new Set<string>();
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
          // One result per server: its first response (an observation's later notifications are not kept).
          if (seen.has(endpoint)) return;
          if (seen.size >= this.maxServers) {
            this.dropped++;
            return;
          }
          seen.add(endpoint);
          handlers.result(resultOfResponse(endpoint, msg, Date.now()));
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

/** A server's response as a member result: 2.xx succeeded, else failed; its payload as text or base64. */
export function resultOfResponse(endpoint: string, msg: CoapMessage, at: number): MemberResult {
  const cfRaw = getOption(msg, OptionNumber.CONTENT_FORMAT);
  const contentFormat = cfRaw ? (cfRaw.length === 0 ? 0 : cfRaw.readUIntBE(0, cfRaw.length)) : undefined;
  const out: MemberResult = {
    endpoint,
    state: codeClass(msg.code) === 2 ? 'succeeded' : 'failed',
    status: coapToHttpStatus(msg.code, msg.payload.length > 0),
    coapCode: formatCode(msg.code),
    ...(contentFormat !== undefined ? { contentFormat } : {}),
    at,
  };
  if (msg.payload.length > 0) {
    const text = msg.payload.toString('utf8');
    if (TEXT_FORMATS.has(contentFormat) && Buffer.from(text, 'utf8').equals(msg.payload)) out.payload = text;
    else {
      out.payload = msg.payload.toString('base64');
      out.payloadEncoding = 'base64';
    }
    if (out.state === 'failed') out.error = out.payloadEncoding ? 'the server answered an error' : text;
  }
  return out;
}
