// CredentialStore on Redis (keys.ts slot {sec}): one hash of credential records by endpoint and one index hash
// per kind, changed together by single-slot Lua scripts (scripts.ts), so a replaced credential's old
// identity can never keep pointing at the endpoint.
import {
  type Credential,
  CredentialConflictError,
  type CredentialInfo,
  credentialIndexValue,
  type SecurityMode,
  type CredentialStore,
} from '@lwm2m/server';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import { RegistryScripts } from './scripts';

/** The stored record. `k` is the PSK in hex (kept as given; the cluster issue encrypts it at rest). */
interface StoredCredential {
  t: SecurityMode;
  ix: string;
  k?: string;
}

function toStored(c: Credential): StoredCredential {
  const ix = credentialIndexValue(c);
  return c.type === 'psk' ? { t: 'psk', ix, k: c.key.toString('hex') } : { t: c.type, ix };
}

/** The record without its secret. */
function toInfo(json: string): CredentialInfo {
  const s = JSON.parse(json) as StoredCredential;
  if (s.t === 'psk') return { type: 'psk', identity: s.ix };
  if (s.t === 'rpk') return { type: 'rpk', publicKey: Buffer.from(s.ix, 'hex') };
  return { type: 'x509', subject: s.ix };
}

export class RedisCredentialStore implements CredentialStore {
  private readonly scripts: RegistryScripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
  ) {
    this.scripts = new RegistryScripts(redis);
  }

  private get allKeys(): string[] {
    const k = this.keys;
    return [k.securityCredentials, k.pskIndex, k.rpkIndex, k.x509Index];
  }

  async put(endpoint: string, credential: Credential): Promise<{ replaced?: CredentialInfo }> {
    const stored = toStored(credential);
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
    if (s.t !== 'psk' || s.ix !== identity || s.k === undefined) return undefined;
    return { endpoint: found[0], key: Buffer.from(s.k, 'hex') };
  }

  async endpointByPublicKey(publicKey: Buffer): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.rpkIndex, publicKey.toString('hex'))) ?? undefined;
  }

  async endpointBySubject(subject: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.x509Index, subject)) ?? undefined;
  }
}
