// Section 2.2.2.1: 'srv_addr' and 'cli_addr' are IP addresses as CBOR byte strings (4 or 16 bytes,
// tag 260); sections 2.2 and 3.1: link-local addresses MUST NOT be encoded.
import { DecodeError } from '@lwm2m/bytes';

function fail(message: string): never {
  throw new DecodeError('bad-address', message, 'informative-response');
}

function parseIpv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return undefined;
    const v = Number(parts[i]);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Buffer | undefined {
  const zone = text.indexOf('%');
  const t = zone >= 0 ? text.slice(0, zone) : text;
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** "192.0.2.1" -> 4 bytes, "2001:db8::1" -> 16 bytes; undefined when it is not an IP address. */
export function ipToBytes(text: string): Buffer | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** 4 or 16 bytes back to text (IPv6 with the longest zero run compressed, RFC 5952). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) fail(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i] << 8) | bytes[i + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** 169.254.0.0/16 and fe80::/10 (sections 2.2 and 3.1). */
export function isLinkLocal(bytes: Uint8Array): boolean {
  if (bytes.length === 4) return bytes[0] === 169 && bytes[1] === 254;
  return bytes.length === 16 && bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80;
}

/** 224.0.0.0/4 and ff00::/8. */
export function isMulticast(bytes: Uint8Array): boolean {
  if (bytes.length === 4) return (bytes[0] & 0xf0) === 0xe0;
  return bytes.length === 16 && bytes[0] === 0xff;
}
