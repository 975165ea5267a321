// API keys from the API_KEYS environment variable ("key:role,key:role"). Keys are compared by SHA-256
// digest in constant time and never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiRole } from '../tokens';

const ROLES: readonly ApiRole[] = ['read', 'write', 'admin'];

/** Parses API_KEYS; throws with a message that names the entry's position, never the key. */
export function parseApiKeys(spec: string | undefined): Map<string, ApiRole> {
  const keys = new Map<string, ApiRole>();
  if (spec === undefined || spec.trim() === '') return keys;
  spec.split(',').forEach((entry, i) => {
    const trimmed = entry.trim();
    const colon = trimmed.lastIndexOf(':');
    const key = colon < 0 ? trimmed : trimmed.slice(0, colon);
    const role = (colon < 0 ? 'admin' : trimmed.slice(colon + 1)) as ApiRole;
    if (key.length < 8) throw new Error(`API_KEYS entry ${i + 1}: a key needs at least 8 characters`);
    if (!ROLES.includes(role))
      throw new Error(`API_KEYS entry ${i + 1}: role must be one of ${ROLES.join(', ')}`);
    keys.set(digest(key), role);
  });
  return keys;
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The role of a presented key, or undefined. Every stored digest is compared, in constant time. */
export function roleOf(keys: Map<string, ApiRole>, presented: string): ApiRole | undefined {
  const d = Buffer.from(digest(presented), 'hex');
  let found: ApiRole | undefined;
  for (const [stored, role] of keys) {
    if (timingSafeEqual(Buffer.from(stored, 'hex'), d)) found = role;
  }
  return found;
}
