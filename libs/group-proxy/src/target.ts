// draft-ietf-core-groupcomm-proxy section 4.1.1 step 1: the group URI of a proxied request, given as
// Proxy-Uri, or as Proxy-Scheme with Uri-Host / Uri-Port (RFC 7252 sections 5.10.2 and 6.4).
import { DecodeError } from '@lwm2m/bytes';
import {
  getStringOption,
  getStringOptions,
  getUintOption,
  OptionNumber,
  type CoapMessage,
} from '@lwm2m/coap';

export interface ProxiedTarget {
  scheme: string;
  host: string;
  port: number;
  /** Path and query for the forwarded request; from Proxy-Uri, or the request's own Uri-Path/Uri-Query. */
  path: string[];
  query: string[];
}

/** A Proxy-Uri / Proxy-Scheme the proxy can't use: network input, hence a DecodeError (reason 'bad-target'). */
export class TargetError extends DecodeError {
  constructor(message: string) {
    super('bad-target', message, 'proxy-uri');
  }
}

const DEFAULT_PORTS: Record<string, number> = { coap: 5683, coaps: 5684 };

/** RFC 7252 section 6.4 for the parts we forward: scheme, host, port, path, query; no fragment. */
export function parseProxyUri(uri: string): ProxiedTarget {
  const m =
    /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#[\]]+)(?::(\d{1,5}))?([^?#]*)(?:\?([^#]*))?$/.exec(
      uri,
    );
  if (!m) throw new TargetError(`not an absolute coap URI without fragment: ${uri.slice(0, 80)}`);
  const scheme = m[1].toLowerCase();
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2].toLowerCase();
  const port = m[3] !== undefined ? Number(m[3]) : DEFAULT_PORTS[scheme];
  if (port === undefined || port > 0xffff) throw new TargetError(`no port for ${scheme}`);
  let path: string[];
  let query: string[];
  try {
    path = (m[4] ?? '')
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
    if (path.length === 1 && path[0] === '') path = [];
    query = m[5] ? m[5].split('&').map((s) => decodeURIComponent(s)) : [];
  } catch {
    throw new TargetError('bad percent-encoding');
  }
  return { scheme, host, port, path, query };
}

/**
 * The forward-proxy target of a request, or undefined when it carries neither Proxy-Uri nor Proxy-Scheme
 * (then it is for the proxy itself: reverse-proxy paths, Early Stop Requests).
 */
export function proxiedTarget(msg: CoapMessage): ProxiedTarget | undefined {
  const proxyUri = getStringOption(msg, OptionNumber.PROXY_URI);
  if (proxyUri !== undefined) return parseProxyUri(proxyUri);
  const scheme = getStringOption(msg, OptionNumber.PROXY_SCHEME);
  if (scheme === undefined) return undefined;
  const host = getStringOption(msg, OptionNumber.URI_HOST);
  if (host === undefined) throw new TargetError('Proxy-Scheme without Uri-Host');
  const s = scheme.toLowerCase();
  const port = getUintOption(msg, OptionNumber.URI_PORT) ?? DEFAULT_PORTS[s];
  if (port === undefined) throw new TargetError(`no port for ${s}`);
  return {
    scheme: s,
    host: host.replace(/^\[|\]$/g, '').toLowerCase(),
    port,
    path: getStringOptions(msg, OptionNumber.URI_PATH),
    query: getStringOptions(msg, OptionNumber.URI_QUERY),
  };
}

/** Options the proxy consumes: they name the target, never reach the servers. */
export const TARGET_OPTIONS: readonly number[] = [
  OptionNumber.PROXY_URI,
  OptionNumber.PROXY_SCHEME,
  OptionNumber.URI_HOST,
  OptionNumber.URI_PORT,
];
