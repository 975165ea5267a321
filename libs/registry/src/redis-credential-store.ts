// CredentialStore on Redis (keys.ts slot {sec}): one hash of credential records by endpoint and one index hash
// per kind, changed together by single-slot Lua scripts (scripts.ts), so a replaced credential's old
// identity can never keep pointing at the endpoint.
//
// PSKs at rest: sealed with AES-256-GCM under SECRETS_KEY (libs/bytes sealAtRest), the record's Redis key
// and endpoint as AAD, so neither Redis, its AOF nor a backup holds a key in hex, base64 or raw. A record of
// an older version with a plain hex key ("k") is still read (counted in legacyReads, warned once) and is
// sealed on its next write (or by sealLegacy(), which the apps run at start).
import {
  type Credential,
  CredentialConflictError,
  type CredentialInfo,
  credentialIndexValue,
  type SecurityMode,
  type CredentialStore,
  type OscoreCredential,
  type OscoreCredentialInfo,
  oscoreKidIndex,
} from '@lwm2m/server';
import { openAtRest, sealAtRest } from '@lwm2m/bytes';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import { RegistryScripts } from './scripts';

/**
 * The stored record. `s`: the PSK, or the OSCORE Master Secret and Salt (JSON {ms, salt} in hex), sealed
 * (base64 of iv|ciphertext|tag); `k`: a legacy plain hex PSK; `o`: the OSCORE context's public parameters.
 */
interface StoredCredential {
  t: SecurityMode;
  ix: string;
  s?: string;
  k?: string;
  o?: StoredOscore;
}

/** OSCORE ids in hex, AEAD COSE id, HKDF hash. */
interface StoredOscore {
  sid: string;
  rid: string;
  ctx?: string;
  aead?: number;
  hkdf?: 'sha256' | 'sha512';
}

function oscoreInfo(o: StoredOscore): OscoreCredentialInfo {
  return {
    senderId: Buffer.from(o.sid, 'hex'),
    recipientId: Buffer.from(o.rid, 'hex'),
    ...(o.ctx !== undefined ? { idContext: Buffer.from(o.ctx, 'hex') } : {}),
    ...(o.aead !== undefined ? { aead: o.aead } : {}),
    ...(o.hkdf !== undefined ? { hkdf: o.hkdf } : {}),
  };
}

/** The record without its secret. */
function toInfo(json: string): CredentialInfo {
  const s = JSON.parse(json) as StoredCredential;
  if (s.t === 'psk') return { type: 'psk', identity: s.ix };
  if (s.t === 'oscore') return { type: 'oscore', oscore: oscoreInfo(s.o!) };
  if (s.t === 'rpk') return { type: 'rpk', publicKey: Buffer.from(s.ix, 'hex') };
  return { type: 'x509', subject: s.ix };
}

/** PSKs can't be stored or read without SECRETS_KEY; the message names the setting, never a key. */
export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}

export interface RedisCredentialStoreOptions {
  /** The 32-byte AES-256-GCM key PSKs are sealed with (SECRETS_KEY, libs/bytes atRestKeyFromSecret). */
  secretsKey?: Buffer;
  /** Told once per process when a legacy plain-hex PSK is read, and when a record does not open. */
  warn?: (message: string, context?: Record<string, unknown>) => void;
}

export interface CredentialStoreCounters {
  /** PSKs read from legacy plain-hex records (sealed on their next write). */
  legacyReads: number;
  /** Sealed PSKs that did not open (another SECRETS_KEY, or tampered): the handshake fails as unknown. */
  unopenable: number;
}

const KEY_CHECK_TEXT = 'lwm2m secrets key check v1';

export class RedisCredentialStore implements CredentialStore {
  private readonly scripts: RegistryScripts;
  readonly counters: CredentialStoreCounters = { legacyReads: 0, unopenable: 0 };
  private readonly secretsKey: Buffer | undefined;
  private readonly warn: NonNullable<RedisCredentialStoreOptions['warn']>;
  private readonly warned = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    opts: RedisCredentialStoreOptions = {},
  ) {
    this.scripts = new RegistryScripts(redis);
    this.secretsKey = opts.secretsKey;
    this.warn = opts.warn ?? (() => undefined);
  }

  /** AAD of a sealed PSK: the hash's Redis key and the endpoint (its field). */
  private aad(endpoint: string): string {
    return `${this.keys.securityCredentials}\n${endpoint}`;
  }

  private warnOnce(kind: string, message: string, context?: Record<string, unknown>): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.warn(message, context);
  }

  private toStored(endpoint: string, c: Credential): StoredCredential {
    const ix = credentialIndexValue(c);
    if (c.type === 'oscore') {
      if (this.secretsKey === undefined)
        throw new SecretsKeyError(
          'SECRETS_KEY is not set: an OSCORE Master Secret can only be stored sealed with it',
        );
      const o = c.oscore;
      const secret = Buffer.from(
        JSON.stringify({ ms: o.masterSecret.toString('hex'), salt: o.masterSalt?.toString('hex') }),
      );
      const stored: StoredOscore = { sid: o.senderId.toString('hex'), rid: o.recipientId.toString('hex') };
      if (o.idContext !== undefined) stored.ctx = o.idContext.toString('hex');
      if (o.aead !== undefined) stored.aead = o.aead;
      if (o.hkdf !== undefined) stored.hkdf = o.hkdf;
      return {
        t: 'oscore',
        ix,
        s: sealAtRest(this.secretsKey, secret, this.aad(endpoint)).toString('base64'),
        o: stored,
      };
    }
    if (c.type !== 'psk') return { t: c.type, ix };
    if (this.secretsKey === undefined)
      throw new SecretsKeyError('SECRETS_KEY is not set: a PSK can only be stored sealed with it');
    return { t: 'psk', ix, s: sealAtRest(this.secretsKey, c.key, this.aad(endpoint)).toString('base64') };
  }

  /** The PSK of a stored record: opened, or a legacy plain one (counted); undefined when it does not open. */
  private pskOf(endpoint: string, s: StoredCredential): Buffer | undefined {
    if (s.s !== undefined) {
      const key =
        this.secretsKey === undefined
          ? undefined
          : openAtRest(this.secretsKey, Buffer.from(s.s, 'base64'), this.aad(endpoint));
      if (key === undefined) {
        this.counters.unopenable++;
        this.warnOnce(
          'unopenable',
          this.secretsKey === undefined
            ? 'credentials: PSKs in Redis are sealed but SECRETS_KEY is not set'
            : 'credentials: a sealed PSK does not open with this SECRETS_KEY (another key, or tampered)',
          { endpoint: endpoint.slice(0, 64) },
        );
      }
      return key;
    }
    if (s.k === undefined) return undefined;
    this.counters.legacyReads++;
    this.warnOnce(
      'legacy',
      'credentials: read a plain (unsealed) PSK of an older version; sealed on its next write',
      {
        endpoint: endpoint.slice(0, 64),
      },
    );
    return Buffer.from(s.k, 'hex');
  }

  /**
   * At start: with a SECRETS_KEY, checks it against the check record (writing it the first time), so a wrong
   * key stops the app with a clear message instead of failing every PSK handshake; without one, refuses to
   * start when PSKs in Redis are sealed. Throws SecretsKeyError.
   */
  async verifySecretsKey(): Promise<void> {
    const key = this.keys.secretsKeyCheck;
    const stored = await this.redis.getBuffer(key);
    if (this.secretsKey === undefined) {
      if (stored !== null)
        throw new SecretsKeyError(
          'SECRETS_KEY is required: the PSKs in Redis are sealed with one (set the key they were stored with)',
        );
      return;
    }
    if (stored === null) {
      await this.redis.set(key, sealAtRest(this.secretsKey, Buffer.from(KEY_CHECK_TEXT), key), 'NX');
      return this.verifySecretsKey();
    }
    const opened = openAtRest(this.secretsKey, stored, key);
    if (opened?.toString() !== KEY_CHECK_TEXT)
      throw new SecretsKeyError(
        'SECRETS_KEY does not open the credentials in Redis: they were sealed with another key',
      );
  }

  /** Seals every legacy plain-hex PSK (needs SECRETS_KEY); returns how many. Safe to run on every start. */
  async sealLegacy(): Promise<number> {
    if (this.secretsKey === undefined) return 0;
    const all = await this.redis.hgetall(this.keys.securityCredentials);
    let sealed = 0;
    for (const [endpoint, json] of Object.entries(all)) {
      const s = JSON.parse(json) as StoredCredential;
      if (s.t !== 'psk' || s.k === undefined) continue;
      const next: StoredCredential = {
        t: 'psk',
        ix: s.ix,
        s: sealAtRest(this.secretsKey, Buffer.from(s.k, 'hex'), this.aad(endpoint)).toString('base64'),
      };
      // Only if unchanged since read (a concurrent put wins).
      const swapped = (await this.redis.eval(
        "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0",
        1,
        this.keys.securityCredentials,
        endpoint,
        json,
        JSON.stringify(next),
      )) as number;
      sealed += swapped;
    }
    return sealed;
  }

  private get allKeys(): string[] {
    const k = this.keys;
    return [k.securityCredentials, k.pskIndex, k.rpkIndex, k.x509Index, k.oscoreIndex];
  }

  async put(endpoint: string, credential: Credential): Promise<{ replaced?: CredentialInfo }> {
    const stored = this.toStored(endpoint, credential);
    const [ok, other] = (await this.scripts.run('lwm2mSecPut', this.allKeys, [
      endpoint,
      stored.t,
      stored.ix,
      JSON.stringify(stored),
    ])) as [number, string | null];
    if (ok === 0) throw new CredentialConflictError(credential.type, other!);
    return other ? { replaced: toInfo(other) } : {};
  }

  async get(endpoint: string): Promise<CredentialInfo | undefined> {
    const json = await this.redis.hget(this.keys.securityCredentials, endpoint);
    return json === null ? undefined : toInfo(json);
  }

  async remove(endpoint: string): Promise<CredentialInfo | undefined> {
    const json = (await this.scripts.run('lwm2mSecRemove', this.allKeys, [endpoint])) as string | null;
    return json === null ? undefined : toInfo(json);
  }

  async pskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined> {
    const found = (await this.scripts.run(
      'lwm2mSecLookup',
      [this.keys.securityCredentials, this.keys.pskIndex],
      [identity],
    )) as [string, string | null] | null;
    if (found === null || found[1] === null) return undefined;
    const s = JSON.parse(found[1]) as StoredCredential;
    if (s.t !== 'psk' || s.ix !== identity) return undefined;
    const key = this.pskOf(found[0], s);
    return key === undefined ? undefined : { endpoint: found[0], key };
  }

  async endpointByPublicKey(publicKey: Buffer): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.rpkIndex, publicKey.toString('hex'))) ?? undefined;
  }

  async endpointBySubject(subject: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.x509Index, subject)) ?? undefined;
  }

  async endpointByOscoreKid(kid: Buffer): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.oscoreIndex, oscoreKidIndex(kid))) ?? undefined;
  }

  async oscoreByKid(kid: Buffer): Promise<{ endpoint: string; oscore: OscoreCredential } | undefined> {
    const ix = oscoreKidIndex(kid);
    const found = (await this.scripts.run(
      'lwm2mSecLookup',
      [this.keys.securityCredentials, this.keys.oscoreIndex],
      [ix],
    )) as [string, string | null] | null;
    if (found === null || found[1] === null) return undefined;
    const s = JSON.parse(found[1]) as StoredCredential;
    if (s.t !== 'oscore' || s.ix !== ix) return undefined;
    const oscore = this.openOscore(found[0], s);
    return oscore === undefined ? undefined : { endpoint: found[0], oscore };
  }

  async oscoreOf(endpoint: string): Promise<OscoreCredential | undefined> {
    const json = await this.redis.hget(this.keys.securityCredentials, endpoint);
    if (json === null) return undefined;
    const s = JSON.parse(json) as StoredCredential;
    return s.t === 'oscore' ? this.openOscore(endpoint, s) : undefined;
  }

  /** The OSCORE record with its Master Secret and Salt opened; undefined (counted) when they do not open. */
  private openOscore(endpoint: string, s: StoredCredential): OscoreCredential | undefined {
    const opened =
      this.secretsKey === undefined || s.s === undefined || s.o === undefined
        ? undefined
        : openAtRest(this.secretsKey, Buffer.from(s.s, 'base64'), this.aad(endpoint));
    if (opened === undefined) {
      this.counters.unopenable++;
      this.warnOnce(
        'unopenable-oscore',
        'credentials: a sealed OSCORE secret does not open with this SECRETS_KEY',
        {
          endpoint: endpoint.slice(0, 64),
        },
      );
      return undefined;
    }
    const secret = JSON.parse(opened.toString()) as { ms: string; salt?: string };
    return {
      ...oscoreInfo(s.o!),
      masterSecret: Buffer.from(secret.ms, 'hex'),
      ...(secret.salt !== undefined ? { masterSalt: Buffer.from(secret.salt, 'hex') } : {}),
    };
  }
}
