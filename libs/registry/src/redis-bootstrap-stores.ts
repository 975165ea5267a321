// The Bootstrap-Server's stores on Redis (keys.ts section 6). Configurations and their bootstrapPsk index in
// one slot ({bs}), changed by one Lua script; sessions one key per endpoint, claimed and saved with
// compare-and-set scripts on (id, node, leaseUntil), so two gateways never drive one client's bootstrap.
// Every PSK (configured, bootstrap, or generated for a session) is sealed with SECRETS_KEY (libs/bytes
// sealAtRest, AAD = Redis key + endpoint + field): Redis, its AOF and backups hold no key material.
import {
  BootstrapIdentityConflictError,
  type BootstrapConfig,
  type BootstrapOscore,
  type BootstrapConfigStore,
  type BootstrapSession,
  type BootstrapSessionStore,
} from '@lwm2m/bootstrap';
import { openAtRest, sealAtRest } from '@lwm2m/bytes';
import type { RedisClient } from './redis-client';
import type { RegistryKeys } from './keys';
import { SecretsKeyError } from './redis-credential-store';

// KEYS: configs, endpoint -> PSK identity, PSK identity -> endpoint, endpoint -> kid, kid -> endpoint.
// ARGV: endpoint, json, PSK identity ('' none), OSCORE kid hex ('' none; '-' is the empty kid).
const PUT_CONFIG = `
local function held(index, id) return id ~= '' and redis.call('HGET', index, id) end
local p = held(KEYS[3], ARGV[3])
if p and p ~= ARGV[1] then return 0 end
local k = held(KEYS[5], ARGV[4])
if k and k ~= ARGV[1] then return 0 end
local function reindex(own, index, id)
  local old = redis.call('HGET', own, ARGV[1])
  if old and redis.call('HGET', index, old) == ARGV[1] then redis.call('HDEL', index, old) end
  if id ~= '' then
    redis.call('HSET', own, ARGV[1], id)
    redis.call('HSET', index, id, ARGV[1])
  else
    redis.call('HDEL', own, ARGV[1])
  end
end
reindex(KEYS[2], KEYS[3], ARGV[3])
reindex(KEYS[4], KEYS[5], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

const REMOVE_CONFIG = `
for _, pair in ipairs({{KEYS[2], KEYS[3]}, {KEYS[4], KEYS[5]}}) do
  local old = redis.call('HGET', pair[1], ARGV[1])
  if old and redis.call('HGET', pair[2], old) == ARGV[1] then redis.call('HDEL', pair[2], old) end
  redis.call('HDEL', pair[1], ARGV[1])
end
return redis.call('HDEL', KEYS[1], ARGV[1])`;

// ARGV: json, node, now, ttl ms. Refused (returns the holder) while another node runs it under a live lease.
const CLAIM_SESSION = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.state == 'running' and c.node ~= ARGV[2] and tonumber(c.leaseUntil) > tonumber(ARGV[3]) then return cur end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return false`;

// ARGV: json, id, node, ttl ms. Saved only while this node still holds this session.
const SAVE_SESSION = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local c = cjson.decode(cur)
if c.id ~= ARGV[2] or c.node ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1`;

export interface RedisBootstrapStoreOptions {
  /** SECRETS_KEY as a 32-byte AES key (libs/bytes atRestKeyFromSecret). Without it, no PSK is stored. */
  secretsKey?: Buffer;
  /** How long a session record is kept after its last change, ms (default 1 day). */
  sessionTtlMs?: number;
}

class Sealer {
  constructor(private readonly key: Buffer | undefined) {}

  seal(plain: Buffer, aad: string): string {
    if (this.key === undefined)
      throw new SecretsKeyError('SECRETS_KEY is not set: a PSK can only be stored sealed with it');
    return sealAtRest(this.key, plain, aad).toString('base64');
  }

  open(sealed: string, aad: string): Buffer {
    const key = this.key && openAtRest(this.key, Buffer.from(sealed, 'base64'), aad);
    if (key === undefined)
      throw new SecretsKeyError(
        'a sealed bootstrap PSK does not open with this SECRETS_KEY (another key, or tampered)',
      );
    return key;
  }
}

/** An OSCORE account as stored: Master Secret and Salt sealed, ids in hex. */
interface StoredOscore {
  s?: string;
  salt?: string;
  senderId?: string;
  recipientId?: string;
  idContext?: string;
  aead?: number;
}

/** The stored JSON form of a configuration: keys sealed. */
interface StoredConfig extends Omit<BootstrapConfig, 'servers' | 'bootstrapPsk' | 'bootstrapOscore'> {
  servers: Array<
    Omit<BootstrapConfig['servers'][0], 'psk' | 'rpk' | 'x509' | 'oscore'> & {
      psk?: { identity?: string; s?: string };
      /** serverPublicKey in base64, the private key sealed. */
      rpk?: { serverPublicKey?: string; s?: string };
      /** Certificates in base64 DER, the private key sealed. */
      x509?: { certificate?: string; serverCertificate?: string; s?: string };
      oscore?: StoredOscore;
    }
  >;
  bootstrapPsk?: { identity: string; s: string };
  bootstrapOscore?: StoredOscore;
}

type OscoreAccount = NonNullable<BootstrapConfig['servers'][0]['oscore']>;

const hex = (b: Buffer | undefined) => b?.toString('hex');
const unhex = (h: string | undefined) => (h === undefined ? undefined : Buffer.from(h, 'hex'));

/** Drops the undefined fields (the stored JSON and the configuration read back carry none). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export class RedisBootstrapConfigStore implements BootstrapConfigStore {
  private readonly sealer: Sealer;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    opts: RedisBootstrapStoreOptions = {},
  ) {
    this.sealer = new Sealer(opts.secretsKey);
  }

  private aad(endpoint: string, field: string): string {
    return `${this.keys.bootstrapConfigs}\n${endpoint}\n${field}`;
  }

  async put(endpoint: string, config: BootstrapConfig): Promise<void> {
    const { bootstrapOscore, ...plain } = config;
    const stored: StoredConfig = {
      ...plain,
      servers: config.servers.map(({ psk, rpk, x509, oscore, ...s }) => {
        const out: StoredConfig['servers'][0] = { ...s };
        if (x509 !== undefined)
          out.x509 = defined({
            certificate: x509.certificate?.toString('base64'),
            serverCertificate: x509.serverCertificate?.toString('base64'),
            s:
              x509.privateKey &&
              this.sealer.seal(x509.privateKey, this.aad(endpoint, `x509:${s.shortServerId}`)),
          });
        if (oscore !== undefined) out.oscore = this.sealOscore(endpoint, s.shortServerId, oscore);
        if (rpk !== undefined)
          out.rpk = defined({
            serverPublicKey: rpk.serverPublicKey?.toString('base64'),
            s:
              rpk.privateKey &&
              this.sealer.seal(rpk.privateKey, this.aad(endpoint, `rpk:${s.shortServerId}`)),
          });
        if (psk === undefined) return out;
        const p: { identity?: string; s?: string } = {};
        if (psk.identity !== undefined) p.identity = psk.identity;
        if (psk.key !== undefined)
          p.s = this.sealer.seal(psk.key, this.aad(endpoint, `server:${s.shortServerId}`));
        return { ...out, psk: p };
      }),
      bootstrapPsk: config.bootstrapPsk && {
        identity: config.bootstrapPsk.identity,
        s: this.sealer.seal(config.bootstrapPsk.key, this.aad(endpoint, 'bootstrap')),
      },
    };
    if (stored.bootstrapPsk === undefined) delete stored.bootstrapPsk;
    // Sealed under its own AAD field ("oscore:bootstrap:..."): never mistaken for a server account's.
    if (bootstrapOscore !== undefined)
      stored.bootstrapOscore = this.sealOscore(endpoint, 'bootstrap', bootstrapOscore);
    const kid = bootstrapOscore?.recipientId;
    const ok = await this.redis.eval(
      PUT_CONFIG,
      5,
      this.keys.bootstrapConfigs,
      this.keys.bootstrapConfigIdentities,
      this.keys.bootstrapPskIndex,
      this.keys.bootstrapConfigKids,
      this.keys.bootstrapOscoreIndex,
      endpoint,
      JSON.stringify(stored),
      config.bootstrapPsk?.identity ?? '',
      kid === undefined ? '' : kidField(kid),
    );
    if (Number(ok) !== 1) throw new BootstrapIdentityConflictError();
  }

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    const json = await this.redis.hget(this.keys.bootstrapConfigs, endpoint);
    if (json === null) return undefined;
    const { bootstrapOscore, ...s } = JSON.parse(json) as StoredConfig;
    const config: BootstrapConfig = {
      ...s,
      servers: s.servers.map(({ psk, rpk, x509, oscore, ...a }) => {
        const out: BootstrapConfig['servers'][0] = { ...a };
        const b64 = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64'));
        if (x509 !== undefined)
          out.x509 = defined({
            certificate: b64(x509.certificate),
            serverCertificate: b64(x509.serverCertificate),
            privateKey:
              x509.s === undefined
                ? undefined
                : this.sealer.open(x509.s, this.aad(endpoint, `x509:${a.shortServerId}`)),
          });
        if (oscore !== undefined) out.oscore = this.openOscore(endpoint, a.shortServerId, oscore);
        if (rpk !== undefined)
          out.rpk = defined({
            serverPublicKey:
              rpk.serverPublicKey === undefined ? undefined : Buffer.from(rpk.serverPublicKey, 'base64'),
            privateKey:
              rpk.s === undefined
                ? undefined
                : this.sealer.open(rpk.s, this.aad(endpoint, `rpk:${a.shortServerId}`)),
          });
        if (psk === undefined) return out;
        const p: { identity?: string; key?: Buffer } = {};
        if (psk.identity !== undefined) p.identity = psk.identity;
        if (psk.s !== undefined)
          p.key = this.sealer.open(psk.s, this.aad(endpoint, `server:${a.shortServerId}`));
        return { ...out, psk: p };
      }),
      bootstrapPsk: s.bootstrapPsk && {
        identity: s.bootstrapPsk.identity,
        key: this.sealer.open(s.bootstrapPsk.s, this.aad(endpoint, 'bootstrap')),
      },
    };
    if (config.bootstrapPsk === undefined) delete config.bootstrapPsk;
    if (bootstrapOscore !== undefined)
      config.bootstrapOscore = this.openOscore(endpoint, 'bootstrap', bootstrapOscore) as BootstrapOscore;
    return config;
  }

  private sealOscore(endpoint: string, ssid: number | 'bootstrap', o: OscoreAccount): StoredOscore {
    const aad = (what: string) => this.aad(endpoint, `oscore:${ssid}:${what}`);
    return defined({
      s: o.masterSecret && this.sealer.seal(o.masterSecret, aad('secret')),
      salt: o.masterSalt && this.sealer.seal(o.masterSalt, aad('salt')),
      senderId: hex(o.senderId),
      recipientId: hex(o.recipientId),
      idContext: hex(o.idContext),
      aead: o.aead,
    });
  }

  private openOscore(endpoint: string, ssid: number | 'bootstrap', o: StoredOscore): OscoreAccount {
    const aad = (what: string) => this.aad(endpoint, `oscore:${ssid}:${what}`);
    return defined({
      masterSecret: o.s === undefined ? undefined : this.sealer.open(o.s, aad('secret')),
      masterSalt: o.salt === undefined ? undefined : this.sealer.open(o.salt, aad('salt')),
      senderId: unhex(o.senderId),
      recipientId: unhex(o.recipientId),
      idContext: unhex(o.idContext),
      aead: o.aead,
    });
  }

  async remove(endpoint: string): Promise<boolean> {
    const n = await this.redis.eval(
      REMOVE_CONFIG,
      5,
      this.keys.bootstrapConfigs,
      this.keys.bootstrapConfigIdentities,
      this.keys.bootstrapPskIndex,
      this.keys.bootstrapConfigKids,
      this.keys.bootstrapOscoreIndex,
      endpoint,
    );
    return Number(n) === 1;
  }

  async bootstrapPskByIdentity(identity: string): Promise<{ endpoint: string; key: Buffer } | undefined> {
    const endpoint = await this.redis.hget(this.keys.bootstrapPskIndex, identity);
    if (endpoint === null) return undefined;
    const config = await this.get(endpoint);
    if (config?.bootstrapPsk?.identity !== identity) return undefined;
    return { endpoint, key: config.bootstrapPsk.key };
  }

  async bootstrapOscoreByKid(
    kid: Buffer,
  ): Promise<{ endpoint: string; oscore: BootstrapOscore } | undefined> {
    const endpoint = await this.redis.hget(this.keys.bootstrapOscoreIndex, kidField(kid));
    if (endpoint === null) return undefined;
    const oscore = (await this.get(endpoint))?.bootstrapOscore;
    if (oscore === undefined || !oscore.recipientId.equals(kid)) return undefined;
    return { endpoint, oscore };
  }
}

/** A kid as an index field: hex, and "-" for the empty kid (a Lua '' means none). */
function kidField(kid: Buffer): string {
  return kid.length === 0 ? '-' : kid.toString('hex');
}

/** A session as stored: generated keys sealed. */
type StoredSession = Omit<BootstrapSession, 'keys'> & { keys: Record<string, string> };

export class RedisBootstrapSessionStore implements BootstrapSessionStore {
  private readonly sealer: Sealer;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RegistryKeys,
    opts: RedisBootstrapStoreOptions = {},
  ) {
    this.sealer = new Sealer(opts.secretsKey);
    this.ttlMs = opts.sessionTtlMs ?? 86_400_000;
  }

  private aad(s: Pick<BootstrapSession, 'endpoint' | 'id'>, ssid: string): string {
    return `${this.keys.bootstrapSession(s.endpoint)}\n${s.id}\n${ssid}`;
  }

  private encode(s: BootstrapSession): string {
    const keys: Record<string, string> = {};
    for (const [ssid, key] of Object.entries(s.keys)) keys[ssid] = this.sealer.seal(key, this.aad(s, ssid));
    return JSON.stringify({ ...s, keys } satisfies StoredSession);
  }

  private decode(json: string): BootstrapSession {
    const s = JSON.parse(json) as StoredSession;
    const keys: Record<number, Buffer> = {};
    for (const [ssid, sealed] of Object.entries(s.keys))
      keys[Number(ssid)] = this.sealer.open(sealed, this.aad(s, ssid));
    return { ...s, keys };
  }

  async get(endpoint: string): Promise<BootstrapSession | undefined> {
    const json = await this.redis.get(this.keys.bootstrapSession(endpoint));
    return json === null ? undefined : this.decode(json);
  }

  async claim(
    session: BootstrapSession,
    now: number,
  ): Promise<{ ok: true } | { ok: false; holder: BootstrapSession }> {
    const holder = (await this.redis.eval(
      CLAIM_SESSION,
      1,
      this.keys.bootstrapSession(session.endpoint),
      this.encode(session),
      session.node,
      String(now),
      String(this.ttlMs),
    )) as string | null;
    return holder === null ? { ok: true } : { ok: false, holder: this.decode(holder) };
  }

  async save(session: BootstrapSession): Promise<boolean> {
    const ok = await this.redis.eval(
      SAVE_SESSION,
      1,
      this.keys.bootstrapSession(session.endpoint),
      this.encode(session),
      session.id,
      session.node,
      String(this.ttlMs),
    );
    return Number(ok) === 1;
  }
}
