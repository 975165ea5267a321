// An in-process client of the proxy (like the HTTP-to-CoAP front end of section 9): one group request
// submitted through GroupProxy.submit, so it goes through the same forwarding and collection (section 4.2:
// one NON request to the group address, every server's response until T', Observe per section 5.4), and
// each response comes back with its origin server decoded from Reply-From. Used by the api's multicast
// groups (libs/groups), which want one result per server rather than a relayed datagram.
import {
  CoapCode,
  CoapType,
  createMessage,
  encodeUint,
  getOption,
  OptionNumber,
  splitPath,
  type CoapMessage,
  type CoapOption,
  type Peer,
} from '@lwm2m/coap';
import { randomBytes } from 'node:crypto';
import type { GroupProxy } from './group-proxy';
import { decodeReplyFrom, type ReplyFrom } from './reply-from';

export interface InProcessGroupRequest {
  /** Who asks, as the allow-list names it (e.g. `{address: 'api', port: 0}` with a rule for it). */
  client: Peer;
  group: { address: string; port: number };
  /** Method (default GET). */
  code?: number;
  path: string;
  options?: CoapOption[];
  payload?: Buffer;
  /** RFC 7641 registration (section 5.4 "Supporting Observe"). */
  observe?: boolean;
  /** T' in seconds (section 4.1.1 step 3), capped by the proxy's maxTimeoutSeconds. */
  timeoutSeconds: number;
}

export interface InProcessHandlers {
  /** A server's response (or notification), with the origin Reply-From named. */
  response(origin: ReplyFrom | undefined, msg: CoapMessage): void;
  /** The proxy's own answer (4.00, 4.01, 5.03, 5.05...): nothing was forwarded. */
  refused?(code: number, detail: string): void;
  /** The forward ended: T' passed with no observation left, or stop(). */
  ended?(): void;
}

export interface InProcessExchange {
  /** Section 4.1.3: an Early Stop Request (same token, Multicast-Timeout 0): the proxy frees the forward. */
  stop(): void;
}

export function submitGroupRequest(
  proxy: GroupProxy,
  req: InProcessGroupRequest,
  handlers: InProcessHandlers,
): InProcessExchange {
  const token = randomBytes(8);
  const host = req.group.address.includes(':') ? `[${req.group.address}]` : req.group.address;
  const options: CoapOption[] = [
    ...(req.options ?? []),
    { number: OptionNumber.PROXY_SCHEME, value: Buffer.from('coap') },
    { number: OptionNumber.URI_HOST, value: Buffer.from(host) },
    { number: OptionNumber.URI_PORT, value: encodeUint(req.group.port) },
    ...splitPath(req.path).map((s) => ({ number: OptionNumber.URI_PATH, value: Buffer.from(s) })),
    { number: proxy.numbers.multicastTimeoutOption, value: encodeUint(req.timeoutSeconds) },
  ];
  if (req.observe) options.push({ number: OptionNumber.OBSERVE, value: encodeUint(0) });
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    handlers.ended?.();
  };
  proxy.submit(
    createMessage({
      type: CoapType.NON,
      code: req.code ?? CoapCode.GET,
      messageId: 0,
      token,
      options,
      payload: req.payload ?? Buffer.alloc(0),
    }),
    req.client,
    {
      answer: (m) => {
        if (m.code === 0) return;
        handlers.refused?.(m.code, m.payload.toString());
        end();
      },
      relay: (m) => {
        const rf = getOption(m, proxy.numbers.replyFromOption);
        let origin: ReplyFrom | undefined;
        try {
          origin = rf ? decodeReplyFrom(rf, req.group.port) : undefined;
        } catch {
          origin = undefined;
        }
        handlers.response(origin, m);
      },
      ended: end,
    },
  );
  // T' = 0: the proxy forwards and keeps nothing (section 4.2.1 step 6), so no "ended" comes.
  if (req.timeoutSeconds === 0) end();
  return {
    stop: () => {
      if (ended) return;
      proxy.submit(
        createMessage({
          type: CoapType.NON,
          code: CoapCode.GET,
          messageId: 0,
          token,
          options: [{ number: proxy.numbers.multicastTimeoutOption, value: Buffer.alloc(0) }],
        }),
        req.client,
        { answer: () => undefined, relay: () => undefined },
      );
      end();
    },
  };
}
