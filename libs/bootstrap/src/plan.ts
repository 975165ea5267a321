// LwM2M TS 1.2 Core 6.1.3 / 6.1.7 (Bootstrap sequence): the ordered operations a Bootstrap-Server sends
// after answering the Bootstrap-Request with 2.04: Bootstrap-Read (1.1), Bootstrap-Delete, Bootstrap-Discover,
// Bootstrap-Write of the /0, /1 and /2 instances, then Bootstrap-Finish. Deterministic from the configuration
// and the session, so a node that takes a session over rebuilds the same plan and continues at session.step.
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync } from 'node:crypto';
import {
  lwm2mObject,
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  multipleResource,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { type Credential, type OscoreCredential, x509EndpointIdentities } from '@lwm2m/server';
import { type BootstrapConfig, SECURITY_MODE, type ServerAccount } from './config';
import type { BootstrapSession } from './ports';
import { issueClientCertificate, type X509Issuer } from './x509-issue';

export type BootstrapStep =
  | { kind: 'read'; path: string }
  | { kind: 'delete'; path: string }
  | { kind: 'discover'; path: string }
  | { kind: 'write'; path: string; node: Lwm2mObjectInstance }
  /** Not a CoAP exchange: the PSK or OSCORE context written is stored as the endpoint's LwM2M credential. */
  | { kind: 'credentials' }
  | { kind: 'finish' };

/** The step's name in events and logs ("write /0/1"); never key material. */
export function stepName(step: BootstrapStep): string {
  return 'path' in step ? `${step.kind} ${step.path}` : step.kind;
}

/** The PSK written for a PSK account: the configured one, else the one generated for this session. */
export function pskOf(
  account: ServerAccount,
  endpoint: string,
  keys: Record<number, Buffer>,
): { identity: string; key: Buffer } | undefined {
  if (account.security !== 'psk') return undefined;
  const key = account.psk?.key ?? keys[account.shortServerId];
  if (key === undefined) return undefined;
  return { identity: account.psk?.identity ?? endpoint, key };
}

/**
 * The OSCORE context written for an OSCORE account, from the server's point of view (senderId: the server's
 * Sender ID, recipientId: the device's). What the configuration leaves out comes from the session: the Master
 * Secret generated for it, the device's Sender ID derived from that secret and the endpoint (HKDF, RFC 5869),
 * so every node that continues the session writes and stores the same context.
 */
export function oscoreOf(
  account: ServerAccount,
  endpoint: string,
  keys: Record<number, Buffer>,
): OscoreCredential | undefined {
  if (account.security !== 'oscore') return undefined;
  const o = account.oscore ?? {};
  const masterSecret = o.masterSecret ?? keys[account.shortServerId];
  if (masterSecret === undefined) return undefined;
  const recipientId =
    o.recipientId ??
    Buffer.from(
      hkdfSync('sha256', masterSecret, Buffer.alloc(0), `lwm2m bootstrap oscore kid ${endpoint}`, 6),
    );
  return {
    masterSecret,
    senderId: o.senderId ?? Buffer.from([0x01]),
    recipientId,
    ...(o.masterSalt !== undefined ? { masterSalt: o.masterSalt } : {}),
    ...(o.idContext !== undefined ? { idContext: o.idContext } : {}),
    ...(o.aead !== undefined ? { aead: o.aead } : {}),
  };
}

/**
 * The RPK key material of an RPK account: the client's private key (configured, else generated for the
 * session; PKCS#8 DER), its public key and the server's (SubjectPublicKeyInfo DER).
 */
export function rpkOf(
  account: ServerAccount,
  keys: Record<number, Buffer>,
): { privateKey: Buffer; publicKey: Buffer; serverPublicKey?: Buffer } | undefined {
  if (account.security !== 'rpk') return undefined;
  const privateKey = account.rpk?.privateKey ?? keys[account.shortServerId];
  if (privateKey === undefined) return undefined;
  const publicKey = createPublicKey(
    createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }),
  ).export({
    type: 'spki',
    format: 'der',
  });
  const server = account.rpk?.serverPublicKey;
  return { privateKey, publicKey, ...(server !== undefined ? { serverPublicKey: server } : {}) };
}

/**
 * The certificate material of an X.509 account: the client's certificate and private key (configured, else
 * issued and generated for the session; DER, the key PKCS#8) and the server's certificate, when known.
 */
export function x509Of(
  account: ServerAccount,
  keys: Record<number, Buffer>,
  certificates: Record<number, string> | undefined,
): { certificate: Buffer; privateKey: Buffer; serverCertificate?: Buffer } | undefined {
  if (account.security !== 'x509') return undefined;
  const x = account.x509 ?? {};
  const issued = certificates?.[account.shortServerId];
  const certificate = x.certificate ?? (issued === undefined ? undefined : Buffer.from(issued, 'base64'));
  const privateKey = x.privateKey ?? keys[account.shortServerId];
  if (certificate === undefined || privateKey === undefined) return undefined;
  return {
    certificate,
    privateKey,
    ...(x.serverCertificate !== undefined ? { serverCertificate: x.serverCertificate } : {}),
  };
}

/**
 * The identity value the LwM2M server binds for an X.509 account: the endpoint when the certificate names it
 * (an issued one always does: CN), else the first value it names (SAN, else CN; x509EndpointIdentities).
 */
function x509Subject(certificate: Buffer, endpoint: string): string | undefined {
  const ids = x509EndpointIdentities(certificate);
  return ids.includes(endpoint) ? endpoint : ids[0];
}

/** The LwM2M credential a bootstrap with this configuration stores: the first secured account's. */
export function credentialOf(
  config: BootstrapConfig,
  endpoint: string,
  keys: Record<number, Buffer>,
  certificates?: Record<number, string>,
): Credential | undefined {
  const account = config.servers.find((s) => s.security !== 'nosec');
  if (account === undefined) return undefined;
  const psk = pskOf(account, endpoint, keys);
  if (psk) return { type: 'psk', identity: psk.identity, key: psk.key };
  const rpk = rpkOf(account, keys);
  if (rpk) return { type: 'rpk', publicKey: rpk.publicKey };
  const x509 = x509Of(account, keys, certificates);
  if (x509) {
    const subject = x509Subject(x509.certificate, endpoint);
    return subject === undefined ? undefined : { type: 'x509', subject };
  }
  const oscore = oscoreOf(account, endpoint, keys);
  return oscore && { type: 'oscore', oscore };
}

/** Key material generated for a new session: a PSK, an RPK private key or an OSCORE Master Secret per account that names none. */
export function generatedKeys(config: BootstrapConfig, bytes: number, random: (n: number) => Buffer) {
  const keys: Record<number, Buffer> = {};
  for (const s of config.servers) {
    if (s.security === 'psk' && s.psk?.key === undefined) keys[s.shortServerId] = random(bytes);
    if (s.security === 'oscore' && s.oscore?.masterSecret === undefined)
      keys[s.shortServerId] = random(Math.max(16, bytes));
    if (
      (s.security === 'rpk' && s.rpk?.privateKey === undefined) ||
      (s.security === 'x509' && s.x509?.privateKey === undefined)
    )
      keys[s.shortServerId] = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'der',
      });
  }
  return keys;
}

/** Whether the configuration has an X.509 account whose certificate is to be issued per bootstrap. */
export function issuesCertificates(config: BootstrapConfig): boolean {
  return config.servers.some((s) => s.security === 'x509' && s.x509?.certificate === undefined);
}

/**
 * Certificates issued for a new session's X.509 accounts that name none: for the key generated in `keys`,
 * subject CN = the endpoint, signed by `issuer` (base64 DER, kept with the session so every node that
 * continues it writes the same one).
 */
export function issuedCertificates(
  config: BootstrapConfig,
  endpoint: string,
  keys: Record<number, Buffer>,
  issuer: X509Issuer,
): Record<number, string> {
  const out: Record<number, string> = {};
  for (const s of config.servers) {
    if (s.security !== 'x509' || s.x509?.certificate !== undefined) continue;
    const key = keys[s.shortServerId];
    if (key === undefined) continue;
    const publicKey = createPublicKey(createPrivateKey({ key, format: 'der', type: 'pkcs8' })).export({
      type: 'spki',
      format: 'der',
    });
    out[s.shortServerId] = issueClientCertificate(issuer, endpoint, publicKey).toString('base64');
  }
  return out;
}

/**
 * The steps. Until Bootstrap-Discover has answered (session.instances unset), the plan ends with it: the
 * instance ids of the writes are chosen from what the client still holds after the deletes.
 */
export function planSteps(config: BootstrapConfig, session: BootstrapSession): BootstrapStep[] {
  const steps: BootstrapStep[] = [];
  for (const path of config.read ?? []) steps.push({ kind: 'read', path });
  for (const path of config.delete ?? ['/']) steps.push({ kind: 'delete', path });
  steps.push({ kind: 'discover', path: '/' });
  const ids = session.instances;
  if (ids === undefined) return steps;
  for (const s of config.servers) {
    const sec = ids.security[s.shortServerId];
    const srv = ids.server[s.shortServerId];
    // The /21 instance first: /0/x/17 links to it (TS 1.1 Core E.1 resource 17).
    const osc = ids.oscore?.[s.shortServerId];
    if (s.security === 'oscore' && osc !== undefined)
      steps.push({ kind: 'write', path: `/21/${osc}`, node: oscoreInstance(osc, s, session) });
    steps.push({ kind: 'write', path: `/0/${sec}`, node: securityInstance(sec, s, session) });
    steps.push({ kind: 'write', path: `/1/${srv}`, node: serverInstance(srv, s) });
  }
  (config.acls ?? []).forEach((a, i) => {
    const iid = ids.acl[i];
    steps.push({
      kind: 'write',
      path: `/2/${iid}`,
      node: objectInstance(iid, [
        singleResource(0, 'integer', a.objectId),
        singleResource(1, 'integer', a.objectInstanceId),
        multipleResource(
          2,
          'integer',
          Object.entries(a.acl).map(([ssid, bits]) => [Number(ssid), bits]),
        ),
        singleResource(3, 'integer', a.owner),
      ]),
    });
  });
  if (config.servers.some((s) => s.security !== 'nosec')) steps.push({ kind: 'credentials' });
  steps.push({ kind: 'finish' });
  return steps;
}

/** TS 1.2 Core E.1: the Security instance of an LwM2M Server account (Bootstrap-Server resource false). */
function securityInstance(iid: number, s: ServerAccount, session: BootstrapSession): Lwm2mObjectInstance {
  const psk = pskOf(s, session.endpoint, session.keys);
  const rpk = rpkOf(s, session.keys);
  const x509 = x509Of(s, session.keys, session.certificates);
  // TS 1.2 Core E.1: PSK mode: /0/x/3 the PSK identity (UTF-8 bytes), /0/x/5 the key. RPK mode: /0/x/3 the
  // client's public key, /0/x/4 the server's (SubjectPublicKeyInfo DER), /0/x/5 the client's private key.
  // Certificate mode: /0/x/3 the client's certificate, /0/x/4 the server's (DER; Certificate Usage left at
  // its default 3, domain-issued: the server presents exactly that one), /0/x/5 the private key (PKCS#8).
  const [identity, serverKey, secret] = psk
    ? [Buffer.from(psk.identity, 'utf8'), Buffer.alloc(0), Buffer.from(psk.key)]
    : rpk
      ? [rpk.publicKey, rpk.serverPublicKey ?? Buffer.alloc(0), Buffer.from(rpk.privateKey)]
      : x509
        ? [
            Buffer.from(x509.certificate),
            x509.serverCertificate ?? Buffer.alloc(0),
            Buffer.from(x509.privateKey),
          ]
        : [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)];
  return objectInstance(iid, [
    singleResource(0, 'string', s.uri),
    singleResource(1, 'boolean', false),
    singleResource(2, 'integer', SECURITY_MODE[s.security]),
    singleResource(3, 'opaque', identity),
    singleResource(4, 'opaque', serverKey),
    singleResource(5, 'opaque', secret),
    singleResource(10, 'integer', s.shortServerId),
    ...(s.security === 'oscore' && session.instances?.oscore?.[s.shortServerId] !== undefined
      ? [
          singleResource(17, 'objlnk', {
            objectId: 21,
            instanceId: session.instances.oscore[s.shortServerId]!,
          }),
        ]
      : []),
  ]);
}

/**
 * TS 1.1 Core E.9 (object 21): the device's side of the context: its Sender ID is the server's Recipient ID.
 */
function oscoreInstance(iid: number, s: ServerAccount, session: BootstrapSession): Lwm2mObjectInstance {
  const o = oscoreOf(s, session.endpoint, session.keys)!;
  return objectInstance(iid, [
    singleResource(0, 'opaque', Buffer.from(o.masterSecret)),
    singleResource(1, 'opaque', Buffer.from(o.recipientId)),
    singleResource(2, 'opaque', Buffer.from(o.senderId)),
    ...(o.aead !== undefined ? [singleResource(3, 'integer', o.aead)] : []),
    ...(o.masterSalt !== undefined ? [singleResource(5, 'opaque', Buffer.from(o.masterSalt))] : []),
    ...(o.idContext !== undefined ? [singleResource(6, 'opaque', Buffer.from(o.idContext))] : []),
  ]);
}

/** TS 1.2 Core E.2: the Server instance. */
function serverInstance(iid: number, s: ServerAccount): Lwm2mObjectInstance {
  const res: Lwm2mResource[] = [
    singleResource(0, 'integer', s.shortServerId),
    singleResource(1, 'integer', s.lifetime ?? 300),
  ];
  if (s.defaultMinPeriod !== undefined) res.push(singleResource(2, 'integer', s.defaultMinPeriod));
  if (s.defaultMaxPeriod !== undefined) res.push(singleResource(3, 'integer', s.defaultMaxPeriod));
  res.push(singleResource(6, 'boolean', s.notificationStoring ?? true));
  res.push(singleResource(7, 'string', s.binding ?? 'U'));
  return objectInstance(iid, res);
}

/**
 * Instance ids for the writes, given Bootstrap-Discover's links: ids the client still holds after the
 * deletes (its Bootstrap-Server account in /0) are skipped; Server instances are numbered likewise.
 */
export function chooseInstances(
  config: BootstrapConfig,
  links: string,
): NonNullable<BootstrapSession['instances']> {
  const used = new Map<number, Set<number>>();
  for (const m of links.matchAll(/<\/(\d+)\/(\d+)>/g)) {
    const oid = Number(m[1]);
    if (!used.has(oid)) used.set(oid, new Set());
    used.get(oid)!.add(Number(m[2]));
  }
  const taken = (oid: number) => used.get(oid) ?? new Set<number>();
  const next = (oid: number) => {
    const set = taken(oid);
    let id = 0;
    while (set.has(id)) id++;
    set.add(id);
    used.set(oid, set);
    return id;
  };
  const out: NonNullable<BootstrapSession['instances']> = { security: {}, server: {}, acl: [] };
  for (const s of config.servers) {
    out.security[s.shortServerId] = next(0);
    out.server[s.shortServerId] = next(1);
    if (s.security === 'oscore') (out.oscore ??= {})[s.shortServerId] = next(21);
  }
  for (let i = 0; i < (config.acls ?? []).length; i++) out.acl.push(next(2));
  return out;
}

/** Bootstrap-Pack (TS 1.2 Core 6.1.7.x): every instance written, as one object node per object. */
export function packNodes(config: BootstrapConfig, session: BootstrapSession): Lwm2mNode[] {
  const byObject = new Map<number, Lwm2mObjectInstance[]>();
  for (const s of planSteps(config, session)) {
    if (s.kind !== 'write') continue;
    const oid = Number(s.path.split('/')[1]);
    if (!byObject.has(oid)) byObject.set(oid, []);
    byObject.get(oid)!.push(s.node);
  }
  return [...byObject].map(([oid, instances]) => lwm2mObject(oid, instances));
}
