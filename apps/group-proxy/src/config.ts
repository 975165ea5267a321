// The group-proxy's environment (draft-ietf-core-groupcomm-proxy), validated once at boot.
import {
  type AllowRule,
  numbersFromEnv,
  parseAllowList,
  parseProxyGroups,
  type ProxyGroup,
  type ReplyFromEncoding,
} from '@lwm2m/group-proxy';

export interface GroupProxyConfig {
  /** CoAP port and address the clients reach the proxy at. */
  COAP_PORT: number;
  COAP_HOST: string;
  /** The local address group requests leave from and responses come back to (its multicast interface). */
  GROUP_INTERFACE: string;
  /** IP TTL of the group requests (groupcomm-bis: the smallest scope that works). */
  MULTICAST_TTL: number;
  groups: ProxyGroup[];
  /** Section 4 REQ1: who may use which group (never empty: a proxy open to everyone is refused). */
  allow: AllowRule[];
  numbers: Record<string, number>;
  replyFromEncoding: ReplyFromEncoding;
  maxTimeoutSeconds: number;
  cache: boolean;
  /** Health and counters over HTTP (GET /health). */
  HTTP_PORT: number;
}

function int(
  env: Record<string, string | undefined>,
  key: string,
  def: number,
  min: number,
  max: number,
): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`invalid configuration: ${key} must be ${min}..${max}`);
  return v;
}

export function validateGroupProxyConfig(env: Record<string, string | undefined>): GroupProxyConfig {
  try {
    const groups = parseProxyGroups(env.GROUP_PROXY_GROUPS ?? '');
    if (groups.length === 0) throw new Error('GROUP_PROXY_GROUPS names no group');
    const allow = parseAllowList(env.GROUP_PROXY_ALLOW ?? '');
    if (allow.length === 0)
      throw new Error('GROUP_PROXY_ALLOW is empty (section 4 REQ1: an allow-list is required)');
    const encoding = env.GROUP_PROXY_REPLY_FROM_ENCODING ?? 'cri';
    if (encoding !== 'cri' && encoding !== 'tp-info')
      throw new Error('GROUP_PROXY_REPLY_FROM_ENCODING is cri or tp-info');
    return {
      COAP_PORT: int(env, 'COAP_PORT', 5683, 0, 65535),
      COAP_HOST: env.COAP_HOST ?? '0.0.0.0',
      GROUP_INTERFACE: env.GROUP_PROXY_INTERFACE ?? '0.0.0.0',
      MULTICAST_TTL: int(env, 'MULTICAST_TTL', 1, 1, 255),
      groups,
      allow,
      numbers: numbersFromEnv(env),
      replyFromEncoding: encoding,
      maxTimeoutSeconds: int(env, 'GROUP_PROXY_MAX_TIMEOUT', 120, 1, 86_400),
      cache: (env.GROUP_PROXY_CACHE ?? 'on') !== 'off',
      HTTP_PORT: int(env, 'HTTP_PORT', 8091, 0, 65535),
    };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(msg.startsWith('invalid configuration') ? msg : `invalid configuration: ${msg}`);
  }
}
