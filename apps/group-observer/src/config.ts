// The group-observer's environment (draft-tiloca-core-observe-multicast-notifications), validated once.
import {
  aeadAlgorithm,
  type GroupManagerConfig,
  type SignatureAlgorithm,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import { parseApiKeys } from '../../api/src/auth/api-keys';

/**
 * Section 6 of the draft: the OSCORE group multicast notifications are protected in. The keying material
 * is configured (joining through the ACE Group Manager is out of scope). Holds secrets: never logged.
 */
export interface GroupOscoreSettings {
  group: GroupManagerConfig;
  /** The server's Sender ID and signing key in the group (hex). */
  senderId: string;
  privateKey: string;
  /** Section 6.1: announced in informative responses when both are set. */
  join?: { joinUri: string; secGp: string };
}

export interface GroupObserverConfig {
  /** GRP_ADDR: an IPv4 239.255.x.y (site-local scope, section 2.4) or IPv6 multicast group. */
  MULTICAST_GROUP_ADDR: string;
  /** GRP_PORT. */
  MULTICAST_GROUP_PORT: number;
  /** The interface multicast leaves from (and SRV_ADDR when COAP_HOST listens everywhere). */
  MULTICAST_INTERFACE: string;
  /** IP TTL of multicast notifications (section 2.4: smallest scope that works). */
  MULTICAST_TTL: number;
  /** Observers of a topic needed to start its group observation (section 2: 1 = first registration). */
  GROUP_OBSERVE_THRESHOLD: number;
  /** Section 2.4: at most one multicast notification per interval, coalescing changes. */
  MULTICAST_MIN_INTERVAL_MS: number;
  /** Section 2.4: largest multicast notification payload (bytes). */
  MULTICAST_MAX_PAYLOAD: number;
  /** 'ip' (IP multicast) or 'redis' (pub/sub leg inside a cluster without IP multicast). */
  GROUP_OBSERVE_LEG: 'ip' | 'redis';
  /** Section 5.2: M, MAX_CONFIRMATION_WAIT, the B.3 dampener and cancel threshold. */
  GROUP_OBSERVE_FEEDBACK_M: number;
  GROUP_OBSERVE_CONFIRMATION_WAIT_MS: number;
  GROUP_OBSERVE_DAMPENER: number;
  GROUP_OBSERVE_CANCEL_THRESHOLD: number;
  /** The draft's TBD code points (experimental range by default, see libs/group-observe/README.md). */
  GROUP_OBSERVE_MRFD_OPTION?: number;
  GROUP_OBSERVE_CONTENT_FORMAT?: number;
  /** Standalone only: CoAP port and listen address, HTTP port, Redis. */
  COAP_PORT: number;
  COAP_HOST: string;
  /** SRV_ADDR announced in informative responses (default: COAP_HOST, or MULTICAST_INTERFACE for 0.0.0.0). */
  SRV_ADDR?: string;
  HTTP_PORT: number;
  REDIS_URL?: string;
  /** Raw API_KEYS, the api's syntax and roles (never logged); unset = the REST routes are open. */
  API_KEYS?: string;
  /** GROUP_OSCORE=on: multicast notifications protected with Group OSCORE (default off: sections 2-3 as is). */
  GROUP_OSCORE?: GroupOscoreSettings;
}

const HEX = /^([0-9a-f]{2})*$/i;

function signatureAlg(raw: string | undefined): SignatureAlgorithm | undefined {
  if (raw === undefined || raw === '-8' || raw === 'EdDSA') return SignatureAlgorithms.EdDSA_Ed25519;
  if (raw === '-7' || raw === 'ES256') return SignatureAlgorithms.ES256;
  return undefined;
}

/** GROUP_OSCORE_*: the group's keying material, as a Group Manager would hand it out. */
function groupOscore(env: Record<string, unknown>, errors: string[]): GroupOscoreSettings | undefined {
  const on = str(env, 'GROUP_OSCORE');
  if (on === undefined || on === 'off' || on === 'false' || on === '0') return undefined;
  if (on !== 'on' && on !== 'true' && on !== '1') {
    errors.push(`GROUP_OSCORE must be on or off, got "${on}"`);
    return undefined;
  }
  // Values are never echoed back in errors: some of them are secrets.
  const hex = (name: string, required: boolean): string | undefined => {
    const v = str(env, name);
    if (v === undefined) {
      if (required) errors.push(`${name} is required with GROUP_OSCORE=on`);
      return undefined;
    }
    if (!HEX.test(v)) errors.push(`${name} must be hex`);
    return v.toLowerCase();
  };
  const gid = hex('GROUP_OSCORE_GID', true);
  const masterSecret = hex('GROUP_OSCORE_MASTER_SECRET', true);
  const masterSalt = hex('GROUP_OSCORE_MASTER_SALT', false);
  const senderId = hex('GROUP_OSCORE_SENDER_ID', true);
  const privateKey = hex('GROUP_OSCORE_PRIVATE_KEY', true);
  const gmCredential = hex('GROUP_OSCORE_GM_CREDENTIAL', false) ?? '';
  const alg = signatureAlg(str(env, 'GROUP_OSCORE_SIGNATURE_ALG'));
  if (alg === undefined) errors.push('GROUP_OSCORE_SIGNATURE_ALG must be -8 (EdDSA) or -7 (ES256)');
  const enc = num(env, 'GROUP_OSCORE_ENCRYPTION_ALG', 10, errors, Number.isInteger);
  if (aeadAlgorithm(enc) === undefined) errors.push(`GROUP_OSCORE_ENCRYPTION_ALG ${enc} is not supported`);
  let members: GroupManagerConfig['members'] = [];
  const rawMembers = str(env, 'GROUP_OSCORE_MEMBERS');
  if (rawMembers !== undefined) {
    try {
      const list = JSON.parse(rawMembers) as unknown;
      if (!Array.isArray(list)) throw new Error('not an array');
      members = list.map((m: unknown) => {
        const { senderId: id, publicKey, credential } = (m ?? {}) as Record<string, unknown>;
        if (typeof id !== 'string' || !HEX.test(id) || typeof publicKey !== 'string' || !HEX.test(publicKey))
          throw new Error('each member needs hex senderId and publicKey');
        if (credential !== undefined && (typeof credential !== 'string' || !HEX.test(credential)))
          throw new Error('a member credential must be hex');
        // The credential defaults to the raw public key (a CCS would be given as credential).
        return { senderId: id, publicKey, credential: credential ?? publicKey };
      });
    } catch (err) {
      // JSON.parse's message quotes the input: only our own reasons are echoed.
      const why = err instanceof SyntaxError ? 'not JSON' : err instanceof Error ? err.message : 'invalid';
      errors.push(`GROUP_OSCORE_MEMBERS must be a JSON array of {senderId, publicKey, credential?}: ${why}`);
    }
  }
  if (!gid || !masterSecret || !senderId || !privateKey || !alg) return undefined;
  let publicKey: string;
  try {
    publicKey = Buffer.from(alg.publicKey(Buffer.from(privateKey, 'hex'))).toString('hex');
  } catch {
    errors.push(`GROUP_OSCORE_PRIVATE_KEY is not a ${alg.name} private key`);
    return undefined;
  }
  const self = { senderId, publicKey, credential: publicKey };
  const joinUri = str(env, 'GROUP_OSCORE_JOIN_URI');
  const secGp = str(env, 'GROUP_OSCORE_SEC_GP');
  if ((joinUri === undefined) !== (secGp === undefined))
    errors.push('GROUP_OSCORE_JOIN_URI and GROUP_OSCORE_SEC_GP go together (section 6.1)');
  return {
    group: {
      gid,
      masterSecret,
      ...(masterSalt !== undefined ? { masterSalt } : {}),
      groupEncryptionAlg: enc,
      signatureAlg: alg.id,
      gmCredential,
      members: [self, ...members.filter((m) => m.senderId.toLowerCase() !== senderId)],
    },
    senderId,
    privateKey,
    ...(joinUri !== undefined && secGp !== undefined ? { join: { joinUri, secGp } } : {}),
  };
}

function num(
  env: Record<string, unknown>,
  name: string,
  fallback: number,
  errors: string[],
  check: (n: number) => boolean = (n) => Number.isFinite(n),
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!check(n)) errors.push(`${name}: bad value "${String(raw)}"`);
  return check(n) ? n : fallback;
}

const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
const positiveInt = (n: number) => Number.isInteger(n) && n >= 1;
const nonNegative = (n: number) => Number.isFinite(n) && n >= 0;

function str(env: Record<string, unknown>, name: string): string | undefined {
  const v = env[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function validateGroupObserverConfig(env: Record<string, unknown>): GroupObserverConfig {
  const errors: string[] = [];
  const group = str(env, 'MULTICAST_GROUP_ADDR') ?? '239.255.0.1';
  if (!/^(22[4-9]|23[0-9])\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(group) && !/^ff[0-9a-f]{2}:/i.test(group)) {
    errors.push(`MULTICAST_GROUP_ADDR must be an IP multicast address, got "${group}"`);
  }
  const leg = str(env, 'GROUP_OBSERVE_LEG') ?? 'ip';
  if (leg !== 'ip' && leg !== 'redis') errors.push(`GROUP_OBSERVE_LEG must be ip or redis, got "${leg}"`);
  const mrfd = str(env, 'GROUP_OBSERVE_MRFD_OPTION');
  const cf = str(env, 'GROUP_OBSERVE_CONTENT_FORMAT');
  const config: GroupObserverConfig = {
    MULTICAST_GROUP_ADDR: group,
    MULTICAST_GROUP_PORT: num(env, 'MULTICAST_GROUP_PORT', 5683, errors, port),
    MULTICAST_INTERFACE: str(env, 'MULTICAST_INTERFACE') ?? '127.0.0.1',
    MULTICAST_TTL: num(env, 'MULTICAST_TTL', 1, errors, (n) => Number.isInteger(n) && n >= 0 && n <= 255),
    GROUP_OBSERVE_THRESHOLD: num(env, 'GROUP_OBSERVE_THRESHOLD', 1, errors, positiveInt),
    MULTICAST_MIN_INTERVAL_MS: num(env, 'MULTICAST_MIN_INTERVAL_MS', 3000, errors, nonNegative),
    MULTICAST_MAX_PAYLOAD: num(env, 'MULTICAST_MAX_PAYLOAD', 1024, errors, positiveInt),
    GROUP_OBSERVE_LEG: leg === 'redis' ? 'redis' : 'ip',
    GROUP_OBSERVE_FEEDBACK_M: num(env, 'GROUP_OBSERVE_FEEDBACK_M', 8, errors, positiveInt),
    GROUP_OBSERVE_CONFIRMATION_WAIT_MS: num(
      env,
      'GROUP_OBSERVE_CONFIRMATION_WAIT_MS',
      452_000,
      errors,
      nonNegative,
    ),
    GROUP_OBSERVE_DAMPENER: num(env, 'GROUP_OBSERVE_DAMPENER', 4, errors, positiveInt),
    GROUP_OBSERVE_CANCEL_THRESHOLD: num(env, 'GROUP_OBSERVE_CANCEL_THRESHOLD', 0.2, errors, nonNegative),
    COAP_PORT: num(env, 'COAP_PORT', 5683, errors, port),
    COAP_HOST: str(env, 'COAP_HOST') ?? '0.0.0.0',
    HTTP_PORT: num(env, 'HTTP_PORT', 8090, errors, port),
  };
  if (mrfd !== undefined)
    config.GROUP_OBSERVE_MRFD_OPTION = num(env, 'GROUP_OBSERVE_MRFD_OPTION', 0, errors, port);
  if (cf !== undefined)
    config.GROUP_OBSERVE_CONTENT_FORMAT = num(env, 'GROUP_OBSERVE_CONTENT_FORMAT', 0, errors, port);
  const srv = str(env, 'SRV_ADDR');
  if (srv !== undefined) config.SRV_ADDR = srv;
  const redis = str(env, 'REDIS_URL');
  if (redis !== undefined) {
    if (!/^rediss?:\/\/\S+$/.test(redis)) errors.push('REDIS_URL must look like redis://host:port[/db]');
    config.REDIS_URL = redis;
  }
  const apiKeys = str(env, 'API_KEYS');
  if (apiKeys !== undefined) {
    try {
      parseApiKeys(apiKeys);
      config.API_KEYS = apiKeys;
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  const oscore = groupOscore(env, errors);
  if (oscore !== undefined) config.GROUP_OSCORE = oscore;
  if (errors.length) throw new Error(`invalid configuration: ${errors.join('; ')}`);
  return config;
}
