// Short-lived tokens for the event stream. A browser's EventSource cannot send an Authorization header, so
// the dashboard trades its API key (POST /api/v1/events/token) for a token it puts in the stream's URL
// (?sse_token=). A token names its key, is scoped to GET /api/v1/events only, and expires after a minute:
// a leaked URL (history, a proxy's log) opens nothing else and nothing later. It is an HMAC under a key
// derived from the API key's digest, so every api process of a deployment (same API_KEYS) accepts it with no
// shared state, and removing the key from API_KEYS revokes its tokens.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKey } from './api-keys';

/** How long a minted token opens a stream (an open stream is not cut when it expires). */
export const SSE_TOKEN_TTL_MS = 60_000;
const VERSION = 'sse1';
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface MintedSseToken {
  token: string;
  expiresAt: number;
}

/** Per process: signs tokens when the api runs without API_KEYS (then nothing checks them). */
const openModeSecret = randomBytes(32);

function signingKey(digestHex: string | undefined): Buffer {
  if (digestHex === undefined) return openModeSecret;
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(digestHex, 'hex'), Buffer.alloc(0), 'lwm2m sse token', 32),
  );
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

/** The digest (map key) of the configured key named `name`. */
function digestOf(keys: Map<string, ApiKey>, name: string): string | undefined {
  for (const [digest, key] of keys) if (key.name === name) return digest;
  return undefined;
}

/** A token for the key `principal` (already authenticated), valid SSE_TOKEN_TTL_MS from `now`. */
export function mintSseToken(keys: Map<string, ApiKey>, principal: ApiKey, now = Date.now()): MintedSseToken {
  const expiresAt = now + SSE_TOKEN_TTL_MS;
  const body = `${VERSION}.${principal.name}.${expiresAt}`;
  const tag = mac(signingKey(digestOf(keys, principal.name)), body).toString('base64url');
  return { token: `${body}.${tag}`, expiresAt };
}

/**
 * The key a token stands for, or why it is refused. Checked: shape, that the key still exists, the HMAC (in
 * constant time), expiry, and that the expiry is no further than one lifetime ahead (a token from a clock
 * far ahead, or minted by anything but this code, is refused even if its HMAC holds).
 */
export function verifySseToken(
  keys: Map<string, ApiKey>,
  token: string,
  now = Date.now(),
): { key: ApiKey } | { refused: string } {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !NAME.test(parts[1]) || !/^\d{1,15}$/.test(parts[2]))
    return { refused: 'malformed event-stream token' };
  const [, name, exp, tag] = parts;
  const digest = digestOf(keys, name);
  const presented = Buffer.from(tag, 'base64url');
  const expected = mac(signingKey(digest), `${VERSION}.${name}.${exp}`);
  if (digest === undefined || presented.length !== expected.length || !timingSafeEqual(presented, expected))
    return { refused: 'invalid event-stream token' };
  const expiresAt = Number(exp);
  if (expiresAt <= now) return { refused: 'expired event-stream token' };
  if (expiresAt > now + SSE_TOKEN_TTL_MS + 5_000) return { refused: 'invalid event-stream token' };
  return { key: keys.get(digest)! };
}
