// LwM2M TS 1.2 Core 6.1.3 (Client Initiated Bootstrap) and Transport 6.1, the client side: a simulated
// client sends Bootstrap-Request (POST /bs?ep=&pct=), answers the Bootstrap-Server's Bootstrap-Read
// (objects 1 and 2), -Delete, -Discover and -Write on the same port, and ends when Bootstrap-Finish
// (POST /bs) finds a usable LwM2M Server account (2.04) or not (4.06). The objects it holds then are what a
// SimulatedDevice starts with (its `bootstrapped` option): it registers with the server written there.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  CoapCode,
  CoapEndpoint,
  type CoapLogger,
  type DatagramTransport,
  formatCode,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
  type TransmissionParams,
} from '@lwm2m/coap';
import {
  ContentFormat,
  getNodeCodec,
  isObjectLink,
  lwm2mObject,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  Lwm2mPath,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';
import { deviceOscoreSeam, type DeviceOscoreParams, type DeviceOscoreState } from './oscore';
import { simulatorObjectModelRegistry } from './temperature-object';

export interface BootstrapClientOptions {
  endpoint: string;
  transport: DatagramTransport;
  /** Bootstrap-Server addresses; a repeated Bootstrap-Request goes to the next one (a load balancer's rehash). */
  servers: Peer[];
  /** pct of the Bootstrap-Request (1.1+); none for a 1.0 client. */
  preferredContentFormat?: number;
  /** The client's Bootstrap-Server account, kept at /0/0 (a Delete "/" spares it: TS 1.2 Core 6.1.7.x). */
  bootstrapUri?: string;
  /**
   * The client's OSCORE context with the Bootstrap-Server (device's point of view: senderId is its kid), on a
   * coap:// transport: the Bootstrap-Request is protected, the server's operations must be (unprotected ones
   * get 4.01). Kept as /21/0, linked from the Bootstrap-Server account's /0/0/17 (TS 1.2 Core E.1, E.9).
   */
  oscore?: DeviceOscoreParams;
  /** Gives up after this long without Bootstrap-Finish, ms (default 30 000). */
  timeoutMs?: number;
  /** Sends the Bootstrap-Request again after this long without an operation of the server, ms (default 5 000). */
  retryAfterMs?: number;
  /** Test hook: stop answering (as a client that lost power) after this many operations of the server. */
  silentAfter?: number;
  /** Test hook: answer Bootstrap-Finish with this code (e.g. 4.06 or 5.00) whatever the configuration. */
  finishCode?: number;
  /** Test hook: answer each operation after this delay, ms (a slow link). */
  answerDelayMs?: number;
  /**
   * Test hook: an operation ("POST /bs", "PUT /0/1", ...) for which it returns true is ignored as if its
   * datagram had been lost: neither applied nor answered (the server's retransmissions are ignored too).
   */
  lose?: (operation: string) => boolean;
  coapParams?: Partial<TransmissionParams>;
  logger?: CoapLogger;
}

/** An LwM2M Server account as the bootstrap left it (Security and Server instances with one Short Server ID). */
export interface BootstrappedServer {
  shortServerId: number;
  uri: string;
  /** 0 PSK, 1 RPK, 2 Certificate, 3 NoSec (TS 1.2 Core E.1). */
  securityMode: number;
  psk?: { identity: string; key: Buffer };
  /** RPK (mode 1): the device's private key (PKCS#8 DER) and the server's public key to pin, when written. */
  rpk?: { privateKey: Buffer; serverPublicKey?: Buffer };
  /**
   * Certificate (mode 2): the device's certificate and private key (PEM, as createDtlsTransport's x509 takes
   * them) and the server's certificate written in /0/x/4 (PEM), which the device trusts as it is.
   */
  x509?: { certificate: string; privateKey: string; serverCertificate?: string };
  /**
   * OSCORE (/0/x/17 links a /21 instance; TS 1.1 Core E.1, E.9), from the device's point of view: senderId is
   * the device's Sender ID (the kid of its requests), as SimulatedDeviceOptions.oscore takes it.
   */
  oscore?: {
    masterSecret: Buffer;
    senderId: Buffer;
    recipientId: Buffer;
    masterSalt?: Buffer;
    idContext?: Buffer;
  };
  lifetime?: number;
  binding?: string;
}

export interface BootstrapOutcome {
  servers: BootstrappedServer[];
  /** Objects 0, 1 and 2 as written (SimulatedDeviceOptions.bootstrapped). */
  objects: Lwm2mObject[];
}

export class BootstrapError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'BootstrapError';
  }
}

/** The objects the Bootstrap interface may change (TS 1.2 Core 6.1.7): Security, Server, Access Control, OSCORE. */
const BOOTSTRAP_OBJECTS = [0, 1, 2, 21];

export class BootstrapClient {
  /** Operations received, in order ("DELETE /", "PUT /0/1", "GET /1", "POST /bs"). */
  readonly operations: string[] = [];
  readonly coap: CoapEndpoint;
  /** The bootstrap OSCORE context and seam (its counters), when given. */
  readonly oscore?: DeviceOscoreState;
  private readonly opts: BootstrapClientOptions;
  private readonly model = simulatorObjectModelRegistry();
  private readonly objects = new Map<number, Lwm2mObject>();
  private finished?: (r: { code: number; reason?: string }) => void;
  private lastActivity = 0;

  constructor(opts: BootstrapClientOptions) {
    this.opts = opts;
    if (opts.oscore !== undefined) this.oscore = deviceOscoreSeam(opts.oscore);
    this.coap = new CoapEndpoint({
      transport: opts.transport,
      ...(this.oscore !== undefined ? { seam: this.oscore.seam } : {}),
      handler: (req) => this.handle(req),
      ...(opts.coapParams ? { params: opts.coapParams } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    this.objects.set(
      0,
      lwm2mObject(0, [
        objectInstance(0, [
          singleResource(0, 'string', opts.bootstrapUri ?? bootstrapUriOf(opts.servers[0])),
          singleResource(1, 'boolean', true),
          singleResource(2, 'integer', 3),
          ...(opts.oscore !== undefined
            ? [singleResource(17, 'objlnk', { objectId: 21, instanceId: 0 })]
            : []),
        ]),
      ]),
    );
    this.objects.set(1, lwm2mObject(1, []));
    this.objects.set(2, lwm2mObject(2, []));
    const o = opts.oscore;
    this.objects.set(
      21,
      lwm2mObject(
        21,
        o === undefined
          ? []
          : [
              objectInstance(0, [
                singleResource(0, 'opaque', o.masterSecret),
                singleResource(1, 'opaque', o.senderId),
                singleResource(2, 'opaque', o.recipientId),
                ...(o.masterSalt !== undefined ? [singleResource(5, 'opaque', o.masterSalt)] : []),
                ...(o.idContext !== undefined ? [singleResource(6, 'opaque', o.idContext)] : []),
              ]),
            ],
      ),
    );
  }

  /** Runs the bootstrap to Bootstrap-Finish; rejects with BootstrapError on a refusal or timeout. */
  async run(): Promise<BootstrapOutcome> {
    const deadline = Date.now() + (this.opts.timeoutMs ?? 30_000);
    await this.oscore?.ready;
    const done = new Promise<{ code: number; reason?: string }>((resolve) => (this.finished = resolve));
    let attempt = 0;
    for (;;) {
      const server = this.opts.servers[attempt % this.opts.servers.length]!;
      // A repeated Bootstrap-Request starts a new DTLS session: the server of the old one may be gone (a
      // load balancer then sends us to another node, which knows no session of ours).
      if (attempt > 0) this.newSession(server);
      attempt++;
      const query = [`ep=${this.opts.endpoint}`];
      if (this.opts.preferredContentFormat !== undefined)
        query.push(`pct=${this.opts.preferredContentFormat}`);
      const res = await this.coap.request(server, { code: CoapCode.POST, path: ['bs'], query });
      if (res.code !== CoapCode.CHANGED)
        throw new BootstrapError(
          `Bootstrap-Request answered ${formatCode(res.code)} ${res.payload.toString('utf8').slice(0, 80)}`,
          res.code,
        );
      this.lastActivity = Date.now();
      // Wait for Bootstrap-Finish; without any operation for retryAfterMs, ask again (TS 1.2 Core 6.1.3).
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw new BootstrapError('no Bootstrap-Finish in time');
        const outcome = await Promise.race([done, sleep(Math.min(200, left)).then(() => undefined)]);
        if (outcome !== undefined) {
          if (outcome.code !== CoapCode.CHANGED)
            throw new BootstrapError(outcome.reason ?? 'inconsistent', outcome.code);
          return this.outcome();
        }
        if (Date.now() - this.lastActivity > (this.opts.retryAfterMs ?? 5_000)) break;
      }
    }
  }

  private newSession(server: Peer): void {
    const dtls = this.opts.transport as { reconnect?: (server: Peer) => Promise<unknown> };
    // Not awaited: the request below waits for the handshake (and fails with it when nobody answers).
    if (typeof dtls.reconnect === 'function') void dtls.reconnect(server).catch(() => undefined);
  }

  /** What the client holds now. */
  outcome(): BootstrapOutcome {
    const servers: BootstrappedServer[] = [];
    for (const sec of this.objects.get(0)!.instances.values()) {
      if (value(sec, 1) === true) continue;
      const ssid = Number(value(sec, 10));
      const srv = [...this.objects.get(1)!.instances.values()].find((i) => Number(value(i, 0)) === ssid);
      const mode = Number(value(sec, 2));
      const s: BootstrappedServer = { shortServerId: ssid, uri: String(value(sec, 0)), securityMode: mode };
      if (mode === 0) {
        s.psk = {
          identity: (value(sec, 3) as Buffer).toString('utf8'),
          key: Buffer.from(value(sec, 5) as Buffer),
        };
      }
      if (mode === 1) {
        const server = value(sec, 4) as Buffer | undefined;
        s.rpk = {
          privateKey: Buffer.from(value(sec, 5) as Buffer),
          ...(server !== undefined && server.length > 0 ? { serverPublicKey: Buffer.from(server) } : {}),
        };
      }
      if (mode === 2) s.x509 = certificateMode(sec);
      const link = value(sec, 17);
      const osc =
        isObjectLink(link) && link.objectId === 21
          ? this.objects.get(21)!.instances.get(link.instanceId)
          : undefined;
      if (osc) {
        const bytes = (rid: number) => {
          const v = value(osc, rid);
          return Buffer.isBuffer(v) ? Buffer.from(v) : undefined;
        };
        s.oscore = {
          masterSecret: bytes(0) ?? Buffer.alloc(0),
          senderId: bytes(1) ?? Buffer.alloc(0),
          recipientId: bytes(2) ?? Buffer.alloc(0),
          ...(bytes(5) !== undefined ? { masterSalt: bytes(5)! } : {}),
          ...(bytes(6) !== undefined ? { idContext: bytes(6)! } : {}),
        };
      }
      if (srv) {
        s.lifetime = Number(value(srv, 1));
        s.binding = String(value(srv, 7) ?? 'U');
      }
      servers.push(s);
    }
    return { servers, objects: BOOTSTRAP_OBJECTS.map((o) => this.objects.get(o)!) };
  }

  async close(): Promise<void> {
    await this.coap.close();
  }

  private handle(req: IncomingRequest): OutgoingResponse | Promise<OutgoingResponse> {
    const delay = this.opts.answerDelayMs;
    if (delay === undefined) return this.answer(req);
    return sleep(delay).then(() => this.answer(req));
  }

  private answer(req: IncomingRequest): OutgoingResponse | Promise<OutgoingResponse> {
    const silentAfter = this.opts.silentAfter;
    if (silentAfter !== undefined && this.operations.length >= silentAfter)
      return new Promise(() => undefined);
    const path = '/' + req.path.join('/');
    const operation = `${methodName(req.code)} ${path}`;
    if (this.opts.lose?.(operation) === true) return new Promise(() => undefined);
    this.operations.push(operation);
    this.lastActivity = Date.now();
    let p: Lwm2mPath;
    try {
      p = Lwm2mPath.parse(path);
    } catch {
      if (path === '/bs' && req.code === CoapCode.POST) return this.finish();
      return { code: CoapCode.BAD_REQUEST };
    }
    switch (req.code) {
      case CoapCode.DELETE:
        return this.delete(p);
      case CoapCode.PUT:
        return this.write(p, req);
      case CoapCode.GET:
        return req.accept === ContentFormat.LINK ? this.discover(p) : this.read(p, req.accept);
      default:
        return { code: CoapCode.METHOD_NOT_ALLOWED };
    }
  }

  /**
   * TS 1.2 Core 6.1.7.x Bootstrap-Delete: "/" removes everything but the Bootstrap-Server account (its /0
   * instance and the /21 instance that instance links).
   */
  private delete(p: Lwm2mPath): OutgoingResponse {
    if (p.depth > 2) return { code: CoapCode.BAD_REQUEST };
    const kept = new Set<number>();
    for (const sec of this.objects.get(0)!.instances.values()) {
      const link = value(sec, 17);
      if (value(sec, 1) === true && isObjectLink(link) && link.objectId === 21) kept.add(link.instanceId);
    }
    for (const oid of BOOTSTRAP_OBJECTS) {
      if (p.objectId !== undefined && p.objectId !== oid) continue;
      const obj = this.objects.get(oid)!;
      for (const [iid, inst] of [...obj.instances]) {
        if (p.instanceId !== undefined && p.instanceId !== iid) continue;
        if (oid === 0 && value(inst, 1) === true) continue;
        if (oid === 21 && kept.has(iid)) continue;
        obj.instances.delete(iid);
      }
    }
    return { code: CoapCode.DELETED };
  }

  /** Bootstrap-Write: creates or replaces the instance (access rules do not apply to the Bootstrap-Server). */
  private write(p: Lwm2mPath, req: IncomingRequest): OutgoingResponse {
    if (p.depth !== 2 || !BOOTSTRAP_OBJECTS.includes(p.objectId!)) return { code: CoapCode.BAD_REQUEST };
    const codec = getNodeCodec(req.contentFormat ?? ContentFormat.TLV);
    if (!codec) return { code: CoapCode.UNSUPPORTED_CONTENT_FORMAT };
    let node;
    try {
      node = codec.decode(req.payload, p, this.model);
    } catch {
      return { code: CoapCode.BAD_REQUEST, payload: 'undecodable' };
    }
    const inst: Lwm2mObjectInstance | undefined =
      node.kind === 'instance'
        ? node
        : node.kind === 'object'
          ? node.instances.get(p.instanceId!)
          : undefined;
    if (inst === undefined || inst.id !== p.instanceId) return { code: CoapCode.BAD_REQUEST };
    this.objects.get(p.objectId!)!.instances.set(inst.id, inst);
    return { code: CoapCode.CHANGED };
  }

  /** TS 1.2 Core 6.1.7.x Bootstrap-Discover: the objects and instances held, with the enabler version. */
  private discover(p: Lwm2mPath): OutgoingResponse {
    if (p.depth > 1) return { code: CoapCode.BAD_REQUEST };
    const links = ['</>;lwm2m=1.1'];
    for (const oid of [...BOOTSTRAP_OBJECTS, 3]) {
      if (p.objectId !== undefined && p.objectId !== oid) continue;
      links.push(`</${oid}>`);
      if (oid === 3) links.push('</3/0>');
      for (const iid of this.objects.get(oid)?.instances.keys() ?? []) links.push(`</${oid}/${iid}>`);
    }
    return { code: CoapCode.CONTENT, contentFormat: ContentFormat.LINK, payload: links.join(',') };
  }

  /** TS 1.1 Core 5.2.7.2 Bootstrap-Read: objects 1 and 2 only. */
  private read(p: Lwm2mPath, accept: number | undefined): OutgoingResponse {
    if (p.objectId !== 1 && p.objectId !== 2) return { code: CoapCode.BAD_REQUEST };
    const cf = accept ?? ContentFormat.TLV;
    const codec = getNodeCodec(cf);
    if (!codec) return { code: CoapCode.NOT_ACCEPTABLE };
    const obj = this.objects.get(p.objectId)!;
    const node = p.depth === 1 ? obj : obj.instances.get(p.instanceId!);
    if (node === undefined || p.depth > 2) return { code: CoapCode.NOT_FOUND };
    return { code: CoapCode.CONTENT, contentFormat: cf, payload: codec.encode(node, p, this.model) };
  }

  /** Bootstrap-Finish: 2.04 when an LwM2M Server account is complete, else 4.06 with the reason. */
  private finish(): OutgoingResponse {
    const result = this.outcome();
    const usable = result.servers.some((s) => s.lifetime !== undefined && s.uri.length > 0);
    const forced = this.opts.finishCode;
    const r =
      forced !== undefined
        ? { code: forced, reason: 'refused by the test' }
        : usable
          ? { code: CoapCode.CHANGED }
          : { code: CoapCode.NOT_ACCEPTABLE, reason: 'no LwM2M Server account with a Server instance' };
    // Answer first, then end run().
    setImmediate(() => this.finished?.(r));
    return r.code === CoapCode.CHANGED ? { code: r.code } : { code: r.code, payload: r.reason };
  }
}

/** Certificate mode's /0/x/3, /4 and /5 as PEM; undefined when they do not parse (the account is unusable). */
function certificateMode(sec: Lwm2mObjectInstance): BootstrappedServer['x509'] {
  try {
    const server = value(sec, 4) as Buffer | undefined;
    return {
      certificate: new X509Certificate(value(sec, 3) as Buffer).toString(),
      privateKey: createPrivateKey({ key: value(sec, 5) as Buffer, format: 'der', type: 'pkcs8' })
        .export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      ...(server !== undefined && server.length > 0
        ? { serverCertificate: new X509Certificate(server).toString() }
        : {}),
    };
  } catch {
    return undefined;
  }
}

function value(inst: Lwm2mObjectInstance, rid: number): unknown {
  const r = inst.resources.get(rid);
  return r?.kind === 'singleResource' ? r.value : undefined;
}

function methodName(code: number): string {
  return ({ 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE' } as Record<number, string>)[code] ?? formatCode(code);
}

function bootstrapUriOf(peer: Peer | undefined): string {
  return peer ? `coap://${peer.address}:${peer.port}` : 'coap://localhost:5783';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Where a bootstrapped server account is reached: its URI's host and port. */
export function peerOfUri(uri: string): Peer {
  const u = new URL(uri);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { address: host, port: Number(u.port || (u.protocol === 'coaps:' ? 5684 : 5683)) };
}
