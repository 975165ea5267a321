// The DTLS 1.2 client role on a DatagramTransport, itself a DatagramTransport for CoAP: `send` to a
// server address handshakes first if needed. Used by the device simulator and the interop tests.
import type { X509Certificate } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import { addressRef, type DatagramTransport, type Peer } from '@lwm2m/transport';
import { EMPTY_BUFFER } from './buffers';
import { CipherCache } from './cipher-cache';
import { ContentType } from './constants';
import { DtlsConnection, type ConnectionHost, type DtlsSession } from './connection';
import { loadCertificates } from './crypto/certificates';
import { loadPrivateKey, type PrivateKeyInput } from './crypto/ecc';
import { pooledRandomBytes } from './crypto/random';
import { suiteByName } from './crypto/suites';
import { newCounters, type DtlsCounters } from './counters';
import { DtlsError } from './errors';
import { ClientHandshake, type ClientHandshakeConfig } from './handshake/client-handshake';
import { DEFAULT_SUITES, resolveCommon, type CommonOptions, type ResolvedCommon } from './options';
import { addressKey, deliverSessionData, SessionEvents } from './peer';
import { decodeRecords, type DtlsRecord } from './record/record';
import type { CachedSession } from './session-cache';
import { applySnapshot, snapshotOf, type DtlsSessionSnapshot } from './snapshot';

export interface DtlsClientOptions extends CommonOptions {
  transport: DatagramTransport;
  psk?: { identity: string | Buffer; key: Buffer };
  /** Our P-256 key for ECDHE_ECDSA client authentication: a raw public key, or X.509 with `chain`. */
  certificate?: { privateKey: PrivateKeyInput; chain?: (string | Buffer)[] };
  /** Trust anchors for the server's X.509 chain. */
  trustAnchors?: (string | Buffer)[];
  /** Accepts the server's raw public key (SubjectPublicKeyInfo DER); enables RFC 7250 for the server. */
  verifyRawPublicKey?: (spki: Buffer) => Promise<boolean> | boolean;
  /**
   * RFC 9146: true (default) offers the connection_id extension with a zero-length CID of ours (we send
   * the server's CID, it sends none); a number asks for a CID of that many random bytes; false: no CIDs.
   */
  connectionId?: boolean | number;
  /** Resume sessions by session_id on reconnect (default true). */
  resumeSessions?: boolean;
  requireExtendedMasterSecret?: boolean;
}

interface Pending {
  conn: DtlsConnection;
  promise: Promise<DtlsSession>;
  resolve: (s: DtlsSession) => void;
  reject: (e: Error) => void;
}

export class DtlsClient implements DatagramTransport {
  readonly counters: DtlsCounters = newCounters();
  readonly events = new SessionEvents();
  private readonly byAddress = new Map<string, DtlsConnection>();
  private readonly byCid = new Map<string, DtlsConnection>();
  private readonly pending = new Map<string, Pending>();
  private readonly resumable = new Map<string, CachedSession>();
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];
  private readonly common: ResolvedCommon;
  private readonly handshakeConfig: Omit<ClientHandshakeConfig, 'cid' | 'resume'>;
  private readonly cidLength: number;
  private readonly host: ConnectionHost;
  private transport: DatagramTransport;
  private closed = false;

  constructor(private readonly opts: DtlsClientOptions) {
    this.common = resolveCommon(opts);
    const cid = opts.connectionId ?? true;
    this.cidLength = cid === false || cid === true ? 0 : cid;
    const anchors: X509Certificate[] = loadCertificates(opts.trustAnchors ?? []);
    const suites = (opts.cipherSuites ?? DEFAULT_SUITES).map(suiteByName).filter((s) => {
      if (s.keyExchange === 'psk') return opts.psk !== undefined;
      return anchors.length > 0 || opts.verifyRawPublicKey !== undefined;
    });
    if (suites.length === 0)
      throw new Error('dtls: no usable cipher suite: configure psk, trustAnchors or verifyRawPublicKey');
    this.handshakeConfig = {
      suites,
      psk: opts.psk && { identity: Buffer.from(opts.psk.identity as string | Buffer), key: opts.psk.key },
      certificate: opts.certificate && {
        key: loadPrivateKey(opts.certificate.privateKey),
        chain: opts.certificate.chain && loadCertificates(opts.certificate.chain).map((c) => c.raw),
      },
      trustAnchors: anchors,
      verifyRawPublicKey: opts.verifyRawPublicKey,
      requireExtendedMasterSecret: opts.requireExtendedMasterSecret ?? false,
    };
    this.host = {
      counters: this.counters,
      common: this.common,
      sendDatagram: (data, peer) => this.sendRaw(data, peer),
      onEstablished: (c) => this.onEstablished(c),
      onClosed: (c, reason) => this.onClosed(c, reason),
      onApplicationData: (c, data) => this.deliver(c, data),
      onPeerMoved: () => undefined,
      ciphers: new CipherCache(this.common.cipherCacheSize),
    };
    this.transport = opts.transport;
    this.transport.onDatagram((data, peer) => this.receive(data, peer));
  }

  /**
   * Moves to another transport (another UDP socket: what a NAT rebinding looks like from outside). The
   * sessions stay; with a CID the server follows, without one it no longer recognises us (RFC 9146 6).
   */
  setTransport(transport: DatagramTransport): void {
    this.transport = transport;
    transport.onDatagram((data, peer) => {
      if (this.transport === transport) this.receive(data, peer);
    });
  }

  /** Handshakes with `server` unless a session exists or is being set up. */
  connect(server: Peer): Promise<DtlsSession> {
    const key = addressKey(server);
    const existing = this.byAddress.get(key);
    if (existing !== undefined && existing.established && !existing.closed) return Promise.resolve(existing);
    const p = this.pending.get(key);
    if (p !== undefined) return p.promise;
    if (this.closed) return Promise.reject(new DtlsError('closed', 'client closed'));
    const conn = new DtlsConnection(
      'client',
      { address: server.address, port: server.port, family: server.family },
      this.host,
      addressRef(server, true),
      key,
    );
    let cid: Buffer | undefined;
    if (this.opts.connectionId !== false)
      cid = this.cidLength > 0 ? pooledRandomBytes(this.cidLength) : EMPTY_BUFFER;
    const resume = this.opts.resumeSessions === false ? undefined : this.resumable.get(key);
    const hs = new ClientHandshake(conn, this.host, { ...this.handshakeConfig, cid, resume });
    conn.handshake = hs;
    let resolve!: (s: DtlsSession) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<DtlsSession>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.pending.set(key, { conn, promise, resolve, reject });
    this.byAddress.get(key)?.destroy('replaced by a new handshake');
    this.byAddress.set(key, conn);
    if (cid !== undefined && cid.length > 0) this.byCid.set(cid.toString('hex'), conn);
    this.counters.handshakesStarted++;
    this.counters.handshakesInProgress++;
    hs.start();
    return promise;
  }

  /** Drops the local session without telling the server, and handshakes again. */
  reconnect(server: Peer): Promise<DtlsSession> {
    this.byAddress.get(addressKey(server))?.destroy('reconnect');
    return this.connect(server);
  }

  session(server: Peer): DtlsSession | undefined {
    const c = this.byAddress.get(addressKey(server));
    return c !== undefined && c.established && !c.closed ? c : undefined;
  }

  /** Sends close_notify to `server` and forgets the session (keeping it resumable). */
  closeSession(server: Peer): void {
    this.byAddress.get(addressKey(server))?.close('closed by client');
  }

  snapshotSession(server: Peer): DtlsSessionSnapshot {
    const c = this.byAddress.get(addressKey(server));
    if (c === undefined) throw new Error('dtls: no such session');
    return snapshotOf(c);
  }

  restoreSession(s: DtlsSessionSnapshot, sequenceGap = 1000): DtlsSession {
    const conn = new DtlsConnection('client', { ...s.peer }, this.host, addressRef(s.peer, true), s.key);
    applySnapshot(conn, s, sequenceGap);
    this.byAddress.get(s.key)?.destroy('replaced by a restored snapshot');
    this.byAddress.set(s.key, conn);
    if (conn.cid !== undefined && conn.cid.length > 0) this.byCid.set(conn.cid.toString('hex'), conn);
    this.counters.sessions++;
    return conn;
  }

  // ---- DatagramTransport ----

  send(data: Buffer, peer: Peer): Promise<void> {
    const existing = this.byAddress.get(addressKey(peer));
    if (existing === undefined || !existing.established || existing.closed)
      return this.connect(peer).then((s) => (s as DtlsConnection).sendApplicationData(data));
    // the common case, a live session: no await, no extra microtask per datagram
    try {
      existing.sendApplicationData(data);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve();
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  peerKey(peer: Peer): string {
    return addressKey(peer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.byAddress.values()]) c.close('client closing');
    await this.transport.close();
  }

  // ---- datagram path ----

  private receive(data: Buffer, from: Peer): void {
    let records: DtlsRecord[];
    try {
      records = decodeRecords(data, this.cidLength);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counters.droppedRecords++;
      this.counters.droppedMalformed++;
      return;
    }
    for (const rec of records) {
      const conn =
        rec.type === ContentType.tls12_cid
          ? this.byCid.get(rec.cid!.toString('hex'))
          : this.byAddress.get(addressKey(from));
      if (conn === undefined) {
        this.counters.droppedRecords++;
        this.counters.droppedNoSession++;
        continue;
      }
      conn.handleRecord(rec, from);
    }
  }

  private deliver(conn: DtlsConnection, data: Buffer): void {
    deliverSessionData(this.listeners, conn, data, this.common.logger);
  }

  private sendRaw(data: Buffer, peer: Peer): void {
    this.transport.send(data, peer).catch((err: unknown) => {
      this.common.logger.warn('dtls: send failed', { peer: addressKey(peer), error: String(err) });
    });
  }

  private onEstablished(c: DtlsConnection): void {
    this.counters.handshakesInProgress--;
    this.counters.handshakesCompleted++;
    if (c.resumed) this.counters.handshakesResumed++;
    this.counters.sessions++;
    const hs = c.handshake as ClientHandshake | undefined;
    const cached = hs?.cachedSession();
    if (cached !== undefined) this.resumable.set(c.key, cached);
    const p = this.pending.get(c.key);
    if (p !== undefined && p.conn === c) {
      this.pending.delete(c.key);
      p.resolve(c);
    }
    this.events.emitHandshake(c);
  }

  private onClosed(c: DtlsConnection, reason: string): void {
    if (c.established) this.counters.sessions--;
    else this.counters.handshakesInProgress--;
    if (this.byAddress.get(c.key) === c) this.byAddress.delete(c.key);
    if (c.cid !== undefined && this.byCid.get(c.cid.toString('hex')) === c)
      this.byCid.delete(c.cid.toString('hex'));
    const p = this.pending.get(c.key);
    if (p !== undefined && p.conn === c) {
      this.pending.delete(c.key);
      const failure = c.handshake?.failure;
      p.reject(
        new DtlsError(reason === 'handshake timeout' ? 'timeout' : 'handshake', failure?.message ?? reason),
      );
    }
    if (reason.startsWith('peer sent fatal alert')) this.resumable.delete(c.key);
    this.events.emitClose(c, reason);
  }
}
