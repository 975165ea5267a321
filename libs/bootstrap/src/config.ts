// LwM2M TS 1.2 Core 6.1.3 (Client Initiated Bootstrap) and Appendix E.1/E.2/E.3: what a Bootstrap-Server
// writes into a client: LwM2M Server accounts (a Security /0 and a Server /1 instance each), the objects to
// delete first, Access Control /2 instances, optionally the client's own Bootstrap-Server account. One
// configuration per endpoint and a default one; PSKs are secrets: sealed at rest, never returned by a read.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  MAX_OSCORE_ID_BYTES,
  MAX_OSCORE_ID_CONTEXT_BYTES,
  MAX_OSCORE_SECRET_BYTES,
  MAX_PSK_IDENTITY_BYTES,
  MAX_PSK_KEY_BYTES,
  normalizeRpk,
  x509EndpointIdentities,
} from '@lwm2m/server';

/**
 * TS 1.2 Core E.1 resource 2 (Security Mode): 0 PSK, 1 RPK, 2 Certificate, 3 NoSec. An OSCORE account is
 * NoSec at the transport with /0/x/17 linking its /21 instance (TS 1.1 Core E.1, resource 17).
 */
export const SECURITY_MODE = { psk: 0, rpk: 1, x509: 2, nosec: 3, oscore: 3 } as const;
export type BootstrapSecurity = 'nosec' | 'psk' | 'rpk' | 'x509' | 'oscore';

/**
 * An OSCORE account's context (RFC 8613 section 3.2), from the LwM2M server's point of view as in the
 * credentials API: `senderId` is the server's Sender ID, `recipientId` the device's (the kid of its
 * requests). Written to the device as a /21 instance with the two ids the other way round.
 */
export interface OscoreAccount {
  /** Secret. Absent: 16 random bytes per bootstrap. */
  masterSecret?: Buffer;
  /** Secret too (sealed with the Master Secret). */
  masterSalt?: Buffer;
  /** Absent: 0x01. */
  senderId?: Buffer;
  /** Absent: 6 bytes derived from the Master Secret and the endpoint (unique in practice; a clash is a 409 at the credential step). */
  recipientId?: Buffer;
  idContext?: Buffer;
  /** COSE AEAD algorithm (default 10, AES-CCM-16-64-128). */
  aead?: number;
}

/** One LwM2M Server account: Security (/0) and Server (/1) instances sharing the Short Server ID. */
export interface ServerAccount {
  /** TS 1.2 Core E.2 resource 0, 1..65534. */
  shortServerId: number;
  /** The LwM2M Server URI written in /0/x/0, e.g. coaps://lwm2m.example.com:5684. */
  uri: string;
  security: BootstrapSecurity;
  /**
   * PSK mode: the identity and key to write. Absent (or without key): generated per bootstrap (identity: the
   * endpoint name, key: 16 random bytes) and stored as the endpoint's LwM2M credential, so the LwM2M server
   * accepts exactly what the client was given.
   */
  psk?: { identity?: string; key?: Buffer };
  /**
   * RPK mode (coaps:// URI, TS 1.2 Core E.1 resources 3-5): the LwM2M server's public key the client pins
   * (SubjectPublicKeyInfo DER; default: the gateway's DTLS_KEY_FILE public key) and the client's P-256 private
   * key (PKCS#8 DER, secret; absent: generated per bootstrap). Its public key is stored as the endpoint's RPK
   * credential.
   */
  rpk?: { serverPublicKey?: Buffer; privateKey?: Buffer };
  /**
   * Certificate mode (coaps:// URI, TS 1.2 Core E.1 resources 3-5): the client's certificate and P-256 private
   * key (DER; PKCS#8, secret), both given or both absent: then a key is generated per bootstrap and a
   * certificate naming the endpoint (CN) is issued by the gateway's CA (DTLS_CA_FILE / DTLS_CA_KEY_FILE). The
   * server's certificate written in /0/x/4 defaults to the gateway's own (DTLS_CERT_FILE). The identity value
   * the certificate names is stored as the endpoint's {x509:{subject}} credential.
   */
  x509?: { certificate?: Buffer; privateKey?: Buffer; serverCertificate?: Buffer };
  /**
   * OSCORE mode (coap:// URI): the context to write; the parts absent are generated per bootstrap. Stored as
   * the endpoint's OSCORE credential, so the LwM2M server accepts exactly this context.
   */
  oscore?: OscoreAccount;
  /** /1/x/1 Lifetime, s (default 300). */
  lifetime?: number;
  /** /1/x/7 Binding (default "U"). */
  binding?: string;
  /** /1/x/6 Notification Storing When Disabled or Offline (default true). */
  notificationStoring?: boolean;
  /** /1/x/2 and /1/x/3: default pmin / pmax, s. */
  defaultMinPeriod?: number;
  defaultMaxPeriod?: number;
}

/** An Access Control (/2) instance: TS 1.2 Core E.3. */
export interface AccessControl {
  objectId: number;
  objectInstanceId: number;
  /** Short Server ID -> access bits (1 Read/Observe/Discover/Write-Attributes, 2 Write, 4 Execute, 8 Delete, 16 Create). */
  acl: Record<number, number>;
  /** /2/x/3 Access Control Owner (a Short Server ID). */
  owner: number;
}

export interface BootstrapConfig {
  servers: ServerAccount[];
  /**
   * Bootstrap-Delete targets sent before the writes (TS 1.2 Core 5.2.7.5), default ["/"]: the client
   * removes everything but its Bootstrap-Server account and the Device object.
   */
  delete?: string[];
  acls?: AccessControl[];
  /** Bootstrap-Read (TS 1.1 Core 5.2.7.2, objects 1 and 2 only) before the writes; results kept with the session. */
  read?: string[];
  /**
   * Write an LwM2M Server's PSK to a client that came over NoSec (the key travels in plaintext). Off by
   * default: a NoSec Bootstrap-Request naming an endpoint whose configuration holds a PSK is refused.
   */
  allowNoSec?: boolean;
  /** The credential the client authenticates with to this Bootstrap-Server on the DTLS port (PSK mode). */
  bootstrapPsk?: { identity: string; key: Buffer };
  /**
   * The client's OSCORE context with this Bootstrap-Server (RFC 8613; TS 1.2 Core E.1: the client's
   * Bootstrap-Server account, Security Mode 3 with /0/x/17 linking a /21 instance), ids from the server's side
   * as in the credentials API: `recipientId` is the client's Sender ID, the kid its Bootstrap-Request is
   * found by. Its requests on the NoSec port are verified with it and the server's operations protected.
   */
  bootstrapOscore?: BootstrapOscore;
}

/** A bootstrap OSCORE context: every part given (nothing is generated: the client holds it already). */
export type BootstrapOscore = OscoreAccount & { masterSecret: Buffer; senderId: Buffer; recipientId: Buffer };

/** The endpoint name under which the default configuration is kept (REST: /bootstrap/configs/default). */
export const DEFAULT_CONFIG = '*default*';

/** A configuration as every read returns it: keys replaced by whether one is set. */
/** An OSCORE account as reads show it: ids in hex, no Master Secret or Salt. */
export interface OscoreAccountInfo {
  senderId?: string;
  recipientId?: string;
  idContext?: string;
  aead?: number;
  keySet: boolean;
}

export interface BootstrapConfigInfo extends Omit<
  BootstrapConfig,
  'servers' | 'bootstrapPsk' | 'bootstrapOscore'
> {
  servers: Array<
    Omit<ServerAccount, 'psk' | 'rpk' | 'x509' | 'oscore'> & {
      psk?: { identity?: string; keySet: boolean };
      rpk?: { serverPublicKey?: string; keySet: boolean };
      /** Certificates in base64 DER (public); the private key only as keySet. */
      x509?: { certificate?: string; serverCertificate?: string; keySet: boolean };
      oscore?: OscoreAccountInfo;
    }
  >;
  bootstrapPsk?: { identity: string; keySet: true };
  bootstrapOscore?: OscoreAccountInfo;
}

export function configInfo(c: BootstrapConfig): BootstrapConfigInfo {
  const { servers, bootstrapPsk, bootstrapOscore, ...rest } = c;
  const info: BootstrapConfigInfo = {
    ...rest,
    servers: servers.map(({ psk, rpk, x509, oscore, ...s }) => ({
      ...s,
      ...(x509 !== undefined
        ? {
            x509: {
              ...(x509.certificate ? { certificate: x509.certificate.toString('base64') } : {}),
              ...(x509.serverCertificate
                ? { serverCertificate: x509.serverCertificate.toString('base64') }
                : {}),
              keySet: x509.privateKey !== undefined,
            },
          }
        : {}),
      ...(rpk !== undefined
        ? {
            rpk: {
              ...(rpk.serverPublicKey ? { serverPublicKey: rpk.serverPublicKey.toString('base64') } : {}),
              keySet: rpk.privateKey !== undefined,
            },
          }
        : {}),
      ...(psk !== undefined
        ? { psk: { ...(psk.identity ? { identity: psk.identity } : {}), keySet: psk.key !== undefined } }
        : {}),
      ...(oscore !== undefined ? { oscore: oscoreInfo(oscore) } : {}),
    })),
  };
  if (bootstrapPsk) info.bootstrapPsk = { identity: bootstrapPsk.identity, keySet: true };
  if (bootstrapOscore) info.bootstrapOscore = oscoreInfo(bootstrapOscore);
  return info;
}

function oscoreInfo(o: OscoreAccount): OscoreAccountInfo {
  return {
    ...(o.senderId !== undefined ? { senderId: o.senderId.toString('hex') } : {}),
    ...(o.recipientId !== undefined ? { recipientId: o.recipientId.toString('hex') } : {}),
    ...(o.idContext !== undefined ? { idContext: o.idContext.toString('hex') } : {}),
    ...(o.aead !== undefined ? { aead: o.aead } : {}),
    keySet: o.masterSecret !== undefined,
  };
}

/** A configuration the server refuses; the message names the field, never a key. */
export class InvalidBootstrapConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidBootstrapConfigError';
  }
}

const URI = /^coaps?:\/\/[^\s/?#]+(:\d{1,5})?\/?$/;
const PATH = /^\/(\d{1,5}(\/\d{1,5})?)?$/;

function fail(message: string): never {
  throw new InvalidBootstrapConfigError(message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${name} must be an integer in ${min}..${max}`);
  return v;
}

function keyOf(v: unknown, name: string, min = 1, max = MAX_PSK_KEY_BYTES): Buffer {
  if (typeof v !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(v)) fail(`${name} must be hex`);
  const key = Buffer.from(v, 'hex');
  if (key.length < min || key.length > max) fail(`${name} must have ${min}..${max} bytes`);
  return key;
}

/** RFC 8613 AEAD algorithms the server's OSCORE offers (COSE ids), as the credentials API checks them. */
const OSCORE_AEADS = [10, 11, 30, 1, 3, 24];
const OSCORE_FIELDS = new Set(['masterSecret', 'masterSalt', 'senderId', 'recipientId', 'idContext', 'aead']);

function rpkOf(v: Record<string, unknown>, at: string): NonNullable<ServerAccount['rpk']> {
  for (const k of Object.keys(v))
    if (k !== 'serverPublicKey' && k !== 'privateKey') fail(`${at}: unknown field "${k.slice(0, 32)}"`);
  const out: NonNullable<ServerAccount['rpk']> = {};
  if (v.serverPublicKey !== undefined) {
    if (typeof v.serverPublicKey !== 'string') fail(`${at}.serverPublicKey must be a string`);
    try {
      out.serverPublicKey = normalizeRpk(v.serverPublicKey);
    } catch {
      fail(`${at}.serverPublicKey must be a P-256 public key (SubjectPublicKeyInfo: PEM, hex or base64)`);
    }
  }
  if (v.privateKey !== undefined) {
    const bad = () => fail(`${at}.privateKey must be a P-256 private key (PKCS#8 DER in hex or base64)`);
    if (typeof v.privateKey !== 'string') bad();
    const text = v.privateKey as string;
    const der = /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    try {
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') bad();
    } catch {
      bad();
    }
    out.privateKey = der;
  }
  return out;
}

/** DER of a PEM or base64 (or hex) DER certificate; throws when it does not parse. */
function certificateOf(v: unknown, name: string): Buffer {
  const bad = () => fail(`${name} must be an X.509 certificate (PEM, or DER in base64 or hex)`);
  if (typeof v !== 'string' || v.length > 16_384) bad();
  const text = (v as string).trim();
  try {
    const der = text.startsWith('-----BEGIN')
      ? new X509Certificate(text).raw
      : /^(?:[0-9a-fA-F]{2})+$/.test(text)
        ? Buffer.from(text, 'hex')
        : Buffer.from(text, 'base64');
    return new X509Certificate(der).raw;
  } catch {
    return bad();
  }
}

function x509Of(v: Record<string, unknown>, at: string): NonNullable<ServerAccount['x509']> {
  for (const k of Object.keys(v))
    if (k !== 'certificate' && k !== 'privateKey' && k !== 'serverCertificate')
      fail(`${at}: unknown field "${k.slice(0, 32)}"`);
  if ((v.certificate === undefined) !== (v.privateKey === undefined))
    fail(`${at}: certificate and privateKey go together (both absent: generated per bootstrap)`);
  const out: NonNullable<ServerAccount['x509']> = {};
  if (v.serverCertificate !== undefined)
    out.serverCertificate = certificateOf(v.serverCertificate, `${at}.serverCertificate`);
  if (v.certificate === undefined) return out;
  const certificate = certificateOf(v.certificate, `${at}.certificate`);
  const badKey = () =>
    fail(
      `${at}.privateKey must be the certificate's P-256 private key (PEM, or PKCS#8 DER in base64 or hex)`,
    );
  if (typeof v.privateKey !== 'string' || v.privateKey.length > 8192) badKey();
  const text = (v.privateKey as string).trim();
  let der: Buffer;
  try {
    const key = text.startsWith('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({
          key: /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64'),
          format: 'der',
          type: 'pkcs8',
        });
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') badKey();
    const pub = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' }).equals(pub))
      badKey();
    der = key.export({ type: 'pkcs8', format: 'der' });
  } catch (err) {
    if (err instanceof InvalidBootstrapConfigError) throw err;
    return badKey();
  }
  // The LwM2M server binds the identity value the certificate names (SAN, else CN) to the endpoint.
  try {
    if (x509EndpointIdentities(certificate).length === 0) throw new Error('unnamed');
  } catch {
    fail(`${at}.certificate names no identity (a single subject CN, or SAN URIs / DNS names)`);
  }
  return { ...out, certificate, privateKey: der };
}

function oscoreOf(v: unknown, at: string): OscoreAccount {
  if (!isRecord(v)) fail(`${at} must be an object`);
  for (const k of Object.keys(v)) if (!OSCORE_FIELDS.has(k)) fail(`${at}: unknown field "${k.slice(0, 32)}"`);
  const o: OscoreAccount = {};
  if (v.masterSecret !== undefined)
    o.masterSecret = keyOf(v.masterSecret, `${at}.masterSecret`, 16, MAX_OSCORE_SECRET_BYTES);
  if (v.masterSalt !== undefined)
    o.masterSalt = keyOf(v.masterSalt, `${at}.masterSalt`, 0, MAX_OSCORE_SECRET_BYTES);
  if (v.senderId !== undefined) o.senderId = keyOf(v.senderId, `${at}.senderId`, 0, MAX_OSCORE_ID_BYTES);
  if (v.recipientId !== undefined)
    o.recipientId = keyOf(v.recipientId, `${at}.recipientId`, 0, MAX_OSCORE_ID_BYTES);
  if (v.idContext !== undefined)
    o.idContext = keyOf(v.idContext, `${at}.idContext`, 0, MAX_OSCORE_ID_CONTEXT_BYTES);
  if (v.aead !== undefined) {
    if (typeof v.aead !== 'number' || !OSCORE_AEADS.includes(v.aead))
      fail(`${at}.aead must be one of ${OSCORE_AEADS.join(', ')}`);
    o.aead = v.aead;
  }
  // RFC 8613 Appendix D.4: nonces are unique only when the two ids differ.
  if (o.senderId !== undefined && o.recipientId !== undefined && o.senderId.equals(o.recipientId))
    fail(`${at}.senderId and recipientId must differ`);
  return o;
}

function identityOf(v: unknown, name: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || v.length === 0 || /[\u0000-\u001f\u007f]/.test(v))
    fail(`${name} must be a non-empty string without control characters`);
  if (Buffer.byteLength(v, 'utf8') > MAX_PSK_IDENTITY_BYTES)
    fail(`${name} must have at most ${MAX_PSK_IDENTITY_BYTES} bytes`);
  return v;
}

const SERVER_FIELDS = new Set([
  'shortServerId',
  'uri',
  'security',
  'psk',
  'rpk',
  'x509',
  'oscore',
  'lifetime',
  'binding',
  'notificationStoring',
  'defaultMinPeriod',
  'defaultMaxPeriod',
]);
const CONFIG_FIELDS = new Set([
  'servers',
  'delete',
  'acls',
  'read',
  'allowNoSec',
  'bootstrapPsk',
  'bootstrapOscore',
]);

/**
 * A configuration from its JSON form (REST body: keys as hex). Throws InvalidBootstrapConfigError with the
 * first problem found.
 */
export function parseBootstrapConfig(body: unknown): BootstrapConfig {
  if (!isRecord(body)) fail('the configuration must be a JSON object');
  for (const k of Object.keys(body)) if (!CONFIG_FIELDS.has(k)) fail(`unknown field "${k.slice(0, 32)}"`);
  if (!Array.isArray(body.servers) || body.servers.length === 0 || body.servers.length > 8)
    fail('servers must be an array of 1..8 LwM2M Server accounts');
  const ids = new Set<number>();
  const servers = body.servers.map((s: unknown, i: number): ServerAccount => {
    const at = `servers[${i}]`;
    if (!isRecord(s)) fail(`${at} must be an object`);
    for (const k of Object.keys(s))
      if (!SERVER_FIELDS.has(k)) fail(`${at}: unknown field "${k.slice(0, 32)}"`);
    const shortServerId = int(s.shortServerId, `${at}.shortServerId`, 1, 65534);
    if (ids.has(shortServerId)) fail(`${at}.shortServerId ${shortServerId} is used twice`);
    ids.add(shortServerId);
    if (typeof s.uri !== 'string' || s.uri.length > 255 || !URI.test(s.uri))
      fail(`${at}.uri must be a coap:// or coaps:// URI of at most 255 bytes`);
    if (!['nosec', 'psk', 'rpk', 'x509', 'oscore'].includes(s.security as string))
      fail(`${at}.security must be "nosec", "psk", "rpk", "x509" or "oscore"`);
    const security = s.security as BootstrapSecurity;
    if ((security === 'psk' || security === 'rpk' || security === 'x509') !== s.uri.startsWith('coaps:'))
      fail(`${at}: a psk, rpk or x509 account needs a coaps:// URI, a nosec or oscore one a coap:// URI`);
    const out: ServerAccount = { shortServerId, uri: s.uri, security };
    if (s.x509 !== undefined) {
      if (security !== 'x509' || !isRecord(s.x509)) fail(`${at}.x509 is for security "x509" only`);
      out.x509 = x509Of(s.x509, `${at}.x509`);
    }
    if (s.rpk !== undefined) {
      if (s.security !== 'rpk' || !isRecord(s.rpk)) fail(`${at}.rpk is for security "rpk" only`);
      out.rpk = rpkOf(s.rpk, `${at}.rpk`);
    }
    if (s.oscore !== undefined) {
      if (s.security !== 'oscore') fail(`${at}.oscore is for security "oscore" only`);
      out.oscore = oscoreOf(s.oscore, `${at}.oscore`);
    }
    if (s.psk !== undefined) {
      if (s.security !== 'psk' || !isRecord(s.psk)) fail(`${at}.psk is for security "psk" only`);
      out.psk = {};
      if (s.psk.identity !== undefined) out.psk.identity = identityOf(s.psk.identity, `${at}.psk.identity`);
      if (s.psk.key !== undefined) out.psk.key = keyOf(s.psk.key, `${at}.psk.key`);
    }
    if (s.lifetime !== undefined) out.lifetime = int(s.lifetime, `${at}.lifetime`, 1, 0x7fffffff);
    if (s.binding !== undefined) {
      if (typeof s.binding !== 'string' || !/^[UMHTSNQ]{1,6}$/.test(s.binding))
        fail(`${at}.binding must be letters of U, M, H, T, S, N, Q`);
      out.binding = s.binding;
    }
    if (s.notificationStoring !== undefined) {
      if (typeof s.notificationStoring !== 'boolean') fail(`${at}.notificationStoring must be a boolean`);
      out.notificationStoring = s.notificationStoring;
    }
    if (s.defaultMinPeriod !== undefined)
      out.defaultMinPeriod = int(s.defaultMinPeriod, `${at}.defaultMinPeriod`, 0, 0x7fffffff);
    if (s.defaultMaxPeriod !== undefined)
      out.defaultMaxPeriod = int(s.defaultMaxPeriod, `${at}.defaultMaxPeriod`, 1, 0x7fffffff);
    return out;
  });
  const config: BootstrapConfig = { servers };
  if (body.delete !== undefined) config.delete = paths(body.delete, 'delete', () => true);
  if (body.read !== undefined)
    config.read = paths(body.read, 'read', (p) => p.startsWith('/1') || p.startsWith('/2'));
  if (body.acls !== undefined) {
    if (!Array.isArray(body.acls) || body.acls.length > 64) fail('acls must be an array of at most 64');
    config.acls = body.acls.map((a: unknown, i: number): AccessControl => {
      const at = `acls[${i}]`;
      if (!isRecord(a) || !isRecord(a.acl)) fail(`${at} must be {objectId, objectInstanceId, acl, owner}`);
      const acl: Record<number, number> = {};
      for (const [k, v] of Object.entries(a.acl)) {
        acl[int(Number(k), `${at}.acl key`, 0, 65535)] = int(v, `${at}.acl[${k.slice(0, 8)}]`, 0, 31);
      }
      return {
        objectId: int(a.objectId, `${at}.objectId`, 1, 65534),
        objectInstanceId: int(a.objectInstanceId, `${at}.objectInstanceId`, 0, 65535),
        acl,
        owner: int(a.owner, `${at}.owner`, 0, 65535),
      };
    });
  }
  if (body.allowNoSec !== undefined) {
    if (typeof body.allowNoSec !== 'boolean') fail('allowNoSec must be a boolean');
    config.allowNoSec = body.allowNoSec;
  }
  if (body.bootstrapPsk !== undefined) {
    if (!isRecord(body.bootstrapPsk)) fail('bootstrapPsk must be {identity, key}');
    config.bootstrapPsk = {
      identity: identityOf(body.bootstrapPsk.identity, 'bootstrapPsk.identity'),
      key: keyOf(body.bootstrapPsk.key, 'bootstrapPsk.key'),
    };
  }
  if (body.bootstrapOscore !== undefined) {
    const o = oscoreOf(body.bootstrapOscore, 'bootstrapOscore');
    if (o.masterSecret === undefined || o.senderId === undefined || o.recipientId === undefined)
      fail('bootstrapOscore needs masterSecret, senderId and recipientId');
    config.bootstrapOscore = o as BootstrapOscore;
  }
  return config;
}

function paths(v: unknown, name: string, allowed: (p: string) => boolean): string[] {
  if (!Array.isArray(v) || v.length > 64) fail(`${name} must be an array of at most 64 paths`);
  return v.map((p: unknown) => {
    if (typeof p !== 'string' || !PATH.test(p) || !allowed(p))
      fail(`${name}: "${String(p).slice(0, 32)}" is not an allowed path`);
    return p;
  });
}

/** Whether writing this configuration puts key material on the wire (refused over NoSec unless allowNoSec). */
export function carriesSecrets(c: BootstrapConfig): boolean {
  return c.servers.some((s) => s.security !== 'nosec');
}
