// The env form of a proxy's groups and option numbers (apps/group-proxy), parsed here so that it is
// framework-free and testable. Groups: "name=ADDR:PORT[/reverse/path][>NEXTHOP:PORT][@MEMBER:PORT+...]",
// comma-separated; the members (section 7.1) let the proxy answer from its cache alone and use Group-ETag.
import type { ProxyGroup } from './group-proxy';
import type { GroupProxyNumbers } from './numbers';

function hostPort(text: string, what: string): { address: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 0xffff) throw new RangeError(`${what}: expected ADDR:PORT, got ${text}`);
  return { address: m[1], port: Number(m[2]) };
}

/** "lights=239.255.0.1:5683/lights@10.0.0.7:5683+10.0.0.8:5683,far=239.255.0.2:5683>10.0.0.9:5683". */
export function parseProxyGroups(text: string): ProxyGroup[] {
  const groups = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item): ProxyGroup => {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new RangeError(`group entry needs name=ADDR:PORT: ${item}`);
      const name = item.slice(0, eq);
      let rest = item.slice(eq + 1);
      let members: ProxyGroup['members'];
      const at = rest.indexOf('@');
      if (at >= 0) {
        members = rest
          .slice(at + 1)
          .split('+')
          .map((m) => hostPort(m, `group ${name} member`));
        rest = rest.slice(0, at);
      }
      let nextHop: ProxyGroup['nextHop'];
      const gt = rest.indexOf('>');
      if (gt >= 0) {
        nextHop = hostPort(rest.slice(gt + 1), `group ${name} next hop`);
        rest = rest.slice(0, gt);
      }
      const slash = rest.indexOf('/', rest.lastIndexOf(':'));
      const addr = slash >= 0 ? rest.slice(0, slash) : rest;
      const path =
        slash >= 0
          ? rest
              .slice(slash + 1)
              .split('/')
              .filter(Boolean)
          : [];
      return {
        name,
        ...hostPort(addr, `group ${name}`),
        ...(path.length > 0 ? { reversePath: path } : {}),
        ...(nextHop ? { nextHop } : {}),
        ...(members ? { members } : {}),
      };
    });
  const names = new Set(groups.map((g) => g.name));
  if (names.size !== groups.length) throw new RangeError('group names must be distinct');
  return groups;
}

/**
 * Option numbers from env, under the current names (GROUP_PROXY_MULTICAST_TIMEOUT_OPTION,
 * GROUP_PROXY_REPLY_FROM_OPTION) or draft -03's (GROUP_PROXY_MULTICAST_SIGNALING_OPTION,
 * GROUP_PROXY_RESPONSE_FORWARDING_OPTION); GROUP_PROXY_OPTION_NUMBERS=suggested takes section 12.1's 2 and 248.
 */
export function numbersFromEnv(env: Record<string, string | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  if (env.GROUP_PROXY_OPTION_NUMBERS === 'suggested') {
    out.multicastTimeoutOption = 2;
    out.replyFromOption = 248;
  } else if (
    env.GROUP_PROXY_OPTION_NUMBERS !== undefined &&
    env.GROUP_PROXY_OPTION_NUMBERS !== 'experimental'
  ) {
    throw new RangeError('GROUP_PROXY_OPTION_NUMBERS is experimental or suggested');
  }
  const names: [string, string][] = [
    ['GROUP_PROXY_MULTICAST_TIMEOUT_OPTION', 'Multicast-Timeout'],
    ['GROUP_PROXY_MULTICAST_SIGNALING_OPTION', 'Multicast-Signaling'],
    ['GROUP_PROXY_REPLY_FROM_OPTION', 'Reply-From'],
    ['GROUP_PROXY_RESPONSE_FORWARDING_OPTION', 'Response-Forwarding'],
  ];
  for (const [key, name] of names) {
    const v = env[key];
    if (v === undefined || v === '') continue;
    if (!/^\d+$/.test(v)) throw new RangeError(`${key} must be a number`);
    out[name] = Number(v);
  }
  return out;
}

export type { GroupProxyNumbers };
