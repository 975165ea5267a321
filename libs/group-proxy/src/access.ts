// draft-ietf-core-groupcomm-proxy section 4 REQ1/REQ2 and section 10.1: the proxy is configured with an
// allow-list and identifies the client of every proxied group request. An identity a secured transport
// proved (DTLS PSK/RPK/X.509, or an OSCORE context between client and proxy) is preferred; a plain source
// address is accepted only where the deployment says so (NoSec on a trusted network, or the tests).
import type { Peer } from '@lwm2m/coap';

/** Who may ask for proxied group requests, and to which groups ('*' = every configured group). */
export interface AllowRule {
  /** Source address (and port) over NoSec. Ignored for a peer that came with a secured identity. */
  address?: string;
  port?: number;
  /** DTLS PSK identity (RFC 4279) the transport authenticated. */
  pskIdentity?: string;
  /** OSCORE Sender ID of the client (hex), from an OSCORE context between client and proxy. */
  oscoreKid?: string;
  /** DTLS raw public key: hex of the SubjectPublicKeyInfo DER. */
  rpk?: string;
  /** Group names, or '*'. */
  groups: string[] | '*';
}

/** How the proxy names a client in logs and counters: never key material. */
export function describeClient(peer: Peer): string {
  const id = peer.identity;
  const at = `${peer.address}:${peer.port}`;
  if (!id) return at;
  if (id.type === 'psk') return `psk:${id.identity}@${at}`;
  if (id.type === 'oscore') return `oscore:${id.kid?.toString('hex') ?? id.endpoint}@${at}`;
  if (id.type === 'rpk') return `rpk@${at}`;
  return `x509:${id.subject}@${at}`;
}

function matches(rule: AllowRule, peer: Peer): boolean {
  const id = peer.identity;
  const wantsIdentity =
    rule.pskIdentity !== undefined || rule.oscoreKid !== undefined || rule.rpk !== undefined;
  if (wantsIdentity) {
    if (!id) return false;
    if (rule.pskIdentity !== undefined) return id.type === 'psk' && id.identity === rule.pskIdentity;
    if (rule.oscoreKid !== undefined) {
      return (
        id.type === 'oscore' &&
        id.kid !== undefined &&
        id.kid.toString('hex') === rule.oscoreKid.toLowerCase()
      );
    }
    return id.type === 'rpk' && id.publicKey.toString('hex') === rule.rpk?.toLowerCase();
  }
  if (rule.address === undefined) return false;
  return peer.address === rule.address && (rule.port === undefined || rule.port === peer.port);
}

/** Whether some rule names `peer`, whatever its groups: strangers learn nothing of the configuration. */
export function isKnownClient(rules: readonly AllowRule[], peer: Peer): boolean {
  return rules.some((r) => matches(r, peer));
}

/** Section 4.2.1 step 2: may `peer` have its requests proxied to `group`? */
export function isAllowed(rules: readonly AllowRule[], peer: Peer, group: string): boolean {
  return rules.some((r) => matches(r, peer) && (r.groups === '*' || r.groups.includes(group)));
}

/**
 * "10.0.0.5" / "10.0.0.5:40000" / "psk:alice" / "oscore:01" / "rpk:3059..." with "=g1|g2" (default all
 * groups), comma-separated: the env form of an allow-list (apps/group-proxy GROUP_PROXY_ALLOW).
 */
export function parseAllowList(text: string): AllowRule[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((item) => {
      const eq = item.indexOf('=');
      const who = eq >= 0 ? item.slice(0, eq) : item;
      const groups =
        eq >= 0
          ? item
              .slice(eq + 1)
              .split('|')
              .filter(Boolean)
          : '*';
      const g = groups.length === 0 || (Array.isArray(groups) && groups.includes('*')) ? '*' : groups;
      if (who.startsWith('psk:')) return { pskIdentity: who.slice(4), groups: g };
      if (who.startsWith('oscore:')) return { oscoreKid: who.slice(7), groups: g };
      if (who.startsWith('rpk:')) return { rpk: who.slice(4), groups: g };
      const m = /^([0-9.]+)(?::(\d+))?$/.exec(who) ?? /^\[([0-9a-fA-F:]+)\](?::(\d+))?$/.exec(who);
      if (!m) throw new RangeError(`allow-list entry not understood: ${item}`);
      return m[2] !== undefined
        ? { address: m[1], port: Number(m[2]), groups: g }
        : { address: m[1], groups: g };
    });
}
