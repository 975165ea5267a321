// The DTLS 1.2 server role on a DatagramTransport (UDP underneath), itself a DatagramTransport for CoAP.
// Records with a CID find their session by CID (RFC 9146), others by source address. A ClientHello gets a
// HelloVerifyRequest until it carries a valid cookie; no state exists before that (RFC 6347 4.2.1).
import type { X509Certificate } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import {
  addressRef,
  cidHexOf,
  cidRef,
  type DatagramTransport,
  formatSessionRef,
  type Peer,
  type SessionRef,
} from '@lwm2m/transport';
import { CipherCache } from './cipher-cache';
import { ContentType, DTLS_1_0, HandshakeType } from './constants';
import { DtlsConnection, type ConnectionHost, type DtlsSession } from './connection';
import { COOKIE_LENGTH, CookieJar, cookieOffset } from './cookie';
import { loadCertificates } from './crypto/certificates';
import { loadPrivateKey, type PrivateKeyInput } from './crypto/ecc';
import { pooledRandomBytes } from './crypto/random';
import { suiteByName } from './crypto/suites';
import { newCounters, type DtlsCounters } from './counters';
import { decodeHandshakeFragments, encodeHandshake } from './handshake/header';
import { decodeClientHello, encodeHelloVerifyRequest } from './handshake/hello';
import { ServerHandshake, type PskLookup, type ServerHandshakeConfig } from './handshake/server-handshake';
import { DEFAULT_SUITES, resolveCommon, type CommonOptions, type ResolvedCommon } from './options';
import { addressKey, deliverSessionData, isDtlsPeer, SessionEvents } from './peer';
import { SourceRateLimiter, sourceKey, TokenBucket, type RateOptions } from './rate-limit';
import { decodeRecords, encodePlainRecord, type DtlsRecord } from './record/record';
import type { SessionCache } from './session-cache';
import { applySnapshot, snapshotOf, type DtlsSessionSnapshot } from './snapshot';

export interface DtlsServerOptions extends CommonOptions {
  /** The datagram transport below (a UdpTransport bound to 5684 in the gateway). */
  transport: DatagramTransport;
  /** PSK identity -> key (undefined = unknown identity). Enables the PSK suites. */
  psk?: PskLookup;
  pskIdentityHint?: string | Buffer;
  /** Our ECDSA P-256 key (enables the ECDHE_ECDSA suites) with an optional X.509 chain, leaf first. */
  certificate?: { privateKey: PrivateKeyInput; chain?: (string | Buffer)[] };
  /** Client authentication in ECDHE suites. Default 'require' when a way to check clients is configured. */
  clientAuth?: 'none' | 'request' | 'require';
  /** Trust anchors for client X.509 chains. */
  trustAnchors?: (string | Buffer)[];
  /** Accepts or refuses a client's raw public key (SubjectPublicKeyInfo DER); enables RFC 7250 RPK. */
  verifyRawPublicKey?: (spki: Buffer) => Promise<boolean> | boolean;
  /** Refuse clients without RFC 7627 extended master secret. Default false (many IoT stacks lack it). */
  requireExtendedMasterSecret?: boolean;
  /** Length of the CIDs we issue (RFC 9146); 0 disables CIDs. Default 8. */
  cidLength?: number;
  /** Makes a CID of `length` bytes, e.g. with the cluster node id in front. Must be unique among live sessions. */
  cidGenerator?: (length: number) => Buffer;
  /** Enables session resumption (abbreviated handshakes). */
  sessionCache?: SessionCache;
  /** Cookie secret rotation period. Default 60 s. */
  cookieRotationMs?: number;
  maxSessions?: number;
  /**
   * Handshakes in progress at most (after the cookie). Default 1000. When full, the oldest stalled one (no
   * answer to our flight for a retransmission interval) is evicted for the new one; only when none has
   * stalled is the newcomer refused (it retransmits its ClientHello and comes back).
   */
  maxHandshakes?: number;
  /**
   * Handshakes in progress per source at most (an IPv4 address, which a carrier NAT shares, or an IPv6
   * /64: sourceKey). Default 64, above the per-source ClientHello burst; beyond it the source's oldest
   * stalled handshake is evicted.
   */
  maxHandshakesPerAddress?: number;
  /**
   * A handshake whose client does not answer our flight within this is dropped (a source that took a
   * cookie and went silent), well before handshakeTimeoutMs. Default 10 s: our flight goes out at 0, 1, 3
   * and 7 s (RFC 6347 section 4.2.4.1), so a client on a slow, lossy link still answers in time.
   */
  halfOpenTimeoutMs?: number;
  /**
   * Per-source (IPv4 address, IPv6 /64) rate of cookie-verified ClientHellos (a forged source cannot
   * spend it). Default 20/s, burst 40.
   */
  clientHelloRate?: RateOptions;
  /**
   * Global budget of HelloVerifyRequests (stateless and never larger than the ClientHello, but bounded so
   * we are no reflector at any rate). Default 10,000/s, burst 20,000.
   */
  helloVerifyRate?: Omit<RateOptions, 'maxSources'>;
}

export class DtlsServer implements DatagramTransport {
  readonly counters: DtlsCounters = newCounters();
  readonly events = new SessionEvents();
  private readonly byAddress = new Map<string, DtlsConnection>();
  private readonly byCid = new Map<string, DtlsConnection>();
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];
  private readonly cookies: CookieJar;
  private readonly rate: SourceRateLimiter;
  private readonly hvrBudget: TokenBucket;
  /** Handshakes after the cookie whose client has not answered our flight yet, oldest first. */
  private readonly halfOpen = new Set<DtlsConnection>();
  /** Handshakes in progress per source (IPv4 address, IPv6 /64: sourceKey), oldest first. */
  private readonly handshakesByIp = new Map<string, Set<DtlsConnection>>();
  private readonly maxHandshakesPerAddress: number;
  private readonly common: ResolvedCommon;
  private readonly handshakeConfig: Omit<ServerHandshakeConfig, 'allocateCid'>;
  private readonly cidLength: number;
  private readonly cidGenerator: (length: number) => Buffer;
  private readonly maxSessions: number;
  private readonly maxHandshakes: number;
  private readonly host: ConnectionHost;
  private closed = false;

  constructor(private readonly opts: DtlsServerOptions) {
    this.common = resolveCommon(opts);
    this.cookies = new CookieJar(opts.cookieRotationMs ?? 60_000);
    this.rate = new SourceRateLimiter(opts.clientHelloRate ?? { perSecond: 20, burst: 40 });
    this.hvrBudget = new TokenBucket(opts.helloVerifyRate ?? { perSecond: 10_000, burst: 20_000 });
    this.maxHandshakesPerAddress = opts.maxHandshakesPerAddress ?? 64;
    this.cidLength = opts.cidLength ?? 8;
    if (this.cidLength < 0 || this.cidLength > 255) throw new Error('dtls: cidLength must be 0..255');
    this.cidGenerator = opts.cidGenerator ?? pooledRandomBytes;
    this.maxSessions = opts.maxSessions ?? 100_000;
    this.maxHandshakes = opts.maxHandshakes ?? 1_000;
    const anchors: X509Certificate[] = loadCertificates(opts.trustAnchors ?? []);
    const cert = opts.certificate && {
      key: loadPrivateKey(opts.certificate.privateKey),
      chain: opts.certificate.chain && loadCertificates(opts.certificate.chain).map((c) => c.raw),
    };
    const canCheckClients = anchors.length > 0 || opts.verifyRawPublicKey !== undefined;
    this.handshakeConfig = {
      suites: (opts.cipherSuites ?? DEFAULT_SUITES).map(suiteByName),
      psk: opts.psk,
      pskIdentityHint:
        opts.pskIdentityHint === undefined ? undefined : Buffer.from(opts.pskIdentityHint as string | Buffer),
      certificate: cert,
      clientAuth: opts.clientAuth ?? (canCheckClients ? 'require' : 'none'),
      trustAnchors: anchors,
      verifyRawPublicKey: opts.verifyRawPublicKey,
      requireExtendedMasterSecret: opts.requireExtendedMasterSecret ?? false,
      cidLength: this.cidLength,
      sessionCache: opts.sessionCache,
      halfOpenTimeoutMs: opts.halfOpenTimeoutMs ?? 10_000,
    };
    this.host = {
      counters: this.counters,
      common: this.common,
      sendDatagram: (data, peer) => this.sendRaw(data, peer),
      onEstablished: (c) => this.onEstablished(c),
      onClosed: (c, reason) => this.onClosed(c, reason),
      onApplicationData: (c, data) => this.deliver(c, data),
      onPeerMoved: (c, from) => this.onPeerMoved(c, from),
      onWriteSequenceLow: (c) => this.events.emitSequenceLow(c),
      onHandshakeProgress: (c) => this.halfOpen.delete(c),
      ciphers: new CipherCache(this.common.cipherCacheSize),
    };
    opts.transport.onDatagram((data, peer) => this.receive(data, peer));
  }

  // ---- DatagramTransport (for CoapEndpoint) ----

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  send(data: Buffer, peer: Peer): Promise<void> {
    const conn = this.resolve(peer);
    if (conn === undefined) return Promise.reject(new Error(`dtls: no session for ${this.peerKey(peer)}`));
    try {
      conn.sendApplicationData(data);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve();
  }

  /** Session identity for CoAP dedup/exchanges/observations: the CID survives a NAT rebinding. */
  peerKey(peer: Peer): string {
    if (isDtlsPeer(peer)) return peer.session.key;
    return formatSessionRef(peer.ref ?? addressRef(peer, true));
  }

  /**
   * Closes every session (close_notify unless `notifyPeers` is false: a node handing its sessions to
   * another by snapshot leaves them open) and the transport below.
   */
  async close(opts: { notifyPeers?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    const notify = opts.notifyPeers ?? true;
    for (const c of new Set([...this.byAddress.values(), ...this.byCid.values()])) {
      if (notify) c.close('server closing');
      else c.destroy('server closing');
    }
    this.closed = true;
    await this.opts.transport.close();
  }

  // ---- sessions ----

  /** The live session `ref` names (see DtlsSession.ref), if any. */
  session(ref: SessionRef): DtlsSession | undefined {
    return this.lookup(ref);
  }

  sessions(): DtlsSession[] {
    return [...new Set([...this.byAddress.values(), ...this.byCid.values()])].filter((c) => c.established);
  }

  /**
   * Bounds the epoch-1 write sequence of a session: records at or above `limit` are not sent, and reaching
   * `lowMark` emits 'sequence-low' once (the cluster extends its lease in Redis then calls this again).
   */
  setWriteSequenceLimit(ref: SessionRef, limit: number, lowMark = limit): boolean {
    const c = this.lookup(ref);
    if (c === undefined) return false;
    c.writeSeqLimit = limit;
    c.writeSeqLowMark = Math.min(lowMark, limit);
    if (c.writeSeq1 >= c.writeSeqLowMark) {
      c.writeSeqLowMark = Number.MAX_SAFE_INTEGER;
      this.events.emitSequenceLow(c);
    }
    return true;
  }

  /** Next epoch-1 write sequence number of a live session. */
  writeSequence(ref: SessionRef): number | undefined {
    return this.lookup(ref)?.writeSeq1;
  }

  /** Forgets a session without telling the peer (it lives on elsewhere: another node took it over). */
  dropSession(ref: SessionRef): void {
    this.lookup(ref)?.destroy('moved to another node');
  }

  /** Sends close_notify and forgets the session. */
  closeSession(ref: SessionRef): void {
    this.lookup(ref)?.close('closed by server');
  }

  /** Serializes an established session so another process can continue it (see restoreSession). */
  snapshotSession(ref: SessionRef): DtlsSessionSnapshot {
    const c = this.lookup(ref);
    if (c === undefined) throw new Error('dtls: no such session');
    return snapshotOf(c);
  }

  /**
   * Continues a session from a snapshot. `sequenceGap` (default 1000) skips write sequence numbers the
   * previous owner may have used after the snapshot, so no nonce is ever reused.
   */
  restoreSession(s: DtlsSessionSnapshot, sequenceGap = 1000): DtlsSession {
    // The ref follows from the snapshot's CID (its key text is not read back: older snapshots wrote another form).
    const ref = s.cid !== undefined && s.cid.length > 0 ? cidRef(s.cid) : addressRef(s.peer, true);
    const conn = new DtlsConnection('server', { ...s.peer }, this.host, ref);
    applySnapshot(conn, s, sequenceGap);
    this.lookup(ref)?.destroy('replaced by a restored snapshot');
    this.register(conn);
    this.counters.sessions++;
    return conn;
  }

  // ---- datagram path ----

  private receive(data: Buffer, from: Peer): void {
    if (this.closed) return;
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
      if (rec.type === ContentType.tls12_cid) {
        const conn = this.byCid.get(rec.cid!.toString('hex'));
        if (conn === undefined) {
          this.counters.droppedRecords++;
          this.counters.droppedNoSession++;
        } else conn.handleRecord(rec, from);
        continue;
      }
      const conn = this.byAddress.get(addressKey(from));
      if (
        rec.epoch === 0 &&
        rec.type === ContentType.handshake &&
        rec.fragment.length > 0 &&
        rec.fragment[0] === HandshakeType.client_hello
      ) {
        this.onClientHello(rec, data.length, from, conn);
        continue;
      }
      if (conn === undefined) {
        this.counters.droppedRecords++;
        this.counters.droppedNoSession++;
        continue;
      }
      conn.handleRecord(rec, from);
    }
  }

  /** RFC 6347 section 4.2.1: the stateless cookie exchange, then the handshake. */
  private onClientHello(
    rec: DtlsRecord,
    datagramLength: number,
    from: Peer,
    existing: DtlsConnection | undefined,
  ): void {
    const source = addressKey(from);
    let frag;
    let hello;
    try {
      const frags = decodeHandshakeFragments(rec.fragment);
      frag = frags[0];
      // The cookie check needs the whole ClientHello in one fragment; we do not reassemble before state exists.
      if (frags.length !== 1 || frag.fragmentOffset !== 0 || frag.body.length !== frag.length)
        throw new DecodeError('fragmented-hello', 'fragmented ClientHello', 'dtls-handshake');
      hello = decodeClientHello(frag.body);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counters.droppedRecords++;
      this.counters.droppedMalformed++;
      return;
    }
    const cookieAt = cookieOffset(frag.body);
    if (hello.cookie.length === 0 || !this.cookies.verify(source, frag.body, cookieAt, hello.cookie)) {
      // No per-address limit here: anyone can forge this ClientHello's source, and it would spend the
      // tokens of the device (or carrier NAT) that really has the address. The global budget bounds us.
      if (!this.hvrBudget.take()) {
        this.counters.helloVerifyRequestsRateLimited++;
        return;
      }
      const cookie = this.cookies.make(source, frag.body, cookieAt);
      // RFC 6347 4.2.1: server_version 1.0 in the HVR; record sequence number copied from the ClientHello.
      const hvr = encodePlainRecord(
        ContentType.handshake,
        0,
        rec.seq,
        encodeHandshake(
          HandshakeType.hello_verify_request,
          frag.messageSeq,
          encodeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie }),
        ),
      );
      // Never answer with more bytes than came in: the cookie exchange must not amplify.
      if (hvr.length > datagramLength || cookie.length !== COOKIE_LENGTH) {
        this.counters.droppedRecords++;
        return;
      }
      this.counters.helloVerifyRequests++;
      this.sendRaw(hvr, from);
      return;
    }
    // The cookie proves the source receives our datagrams: its address may now be held to its own rate.
    const src = sourceKey(from.address);
    if (!this.rate.take(src)) {
      this.counters.clientHellosRateLimited++;
      return;
    }
    if (existing !== undefined) {
      const hs = existing.handshake;
      if (hs !== undefined && !hs.done && hs.clientRandom.equals(hello.random)) {
        // The same ClientHello again: our flight was lost, the handshake answers it (RFC 6347 4.2.4).
        existing.handleRecord(rec, from);
        return;
      }
      // A new ClientHello with a valid cookie from this address: the device restarted (RFC 6347 4.2.8).
      existing.destroy('new handshake from the same address');
    }
    if (this.counters.sessions >= this.maxSessions || !this.makeRoomForHandshake(src)) {
      this.counters.clientHellosOverLimit++;
      return;
    }
    const conn = new DtlsConnection(
      'server',
      { address: from.address, port: from.port, family: from.family },
      this.host,
      addressRef(from, true),
    );
    const hs = new ServerHandshake(conn, this.host, {
      ...this.handshakeConfig,
      allocateCid: () => this.allocateCid(conn),
    });
    conn.handshake = hs;
    this.byAddress.set(source, conn);
    this.halfOpen.add(conn);
    let mine = this.handshakesByIp.get(src);
    if (mine === undefined) this.handshakesByIp.set(src, (mine = new Set()));
    mine.add(conn);
    this.counters.handshakesStarted++;
    this.counters.handshakesInProgress++;
    hs.start(hello, { msgType: frag.msgType, messageSeq: frag.messageSeq, body: frag.body }, rec.seq);
  }

  /**
   * Room for one more handshake from `ip`: over the per-address or the overall limit, the oldest stalled
   * handshake (of that address, or of all) is evicted rather than the newcomer refused, so sources that
   * take cookies and go silent cannot lock everyone else out. A young half-open handshake is never evicted
   * (its client may be answering right now): then the newcomer is refused and retransmits later.
   */
  private makeRoomForHandshake(ip: string): boolean {
    const mine = this.handshakesByIp.get(ip);
    if (mine !== undefined && mine.size >= this.maxHandshakesPerAddress) {
      let victim: DtlsConnection | undefined;
      for (const c of mine)
        if (this.halfOpen.has(c)) {
          victim = c; // insertion order: the address's oldest half-open one
          break;
        }
      if (victim === undefined || !this.stalled(victim)) return false;
      this.evict(victim);
    }
    if (this.counters.handshakesInProgress >= this.maxHandshakes) {
      const victim = this.halfOpen.values().next().value;
      if (victim === undefined || !this.stalled(victim)) return false;
      this.evict(victim);
    }
    return true;
  }

  /** Half-open for a whole retransmission interval (RFC 6347 section 4.2.4.1): our flight went unanswered. */
  private stalled(c: DtlsConnection): boolean {
    const hs = c.handshake;
    return hs === undefined || Date.now() - hs.startedAt >= this.common.initialMs;
  }

  private evict(c: DtlsConnection): void {
    this.counters.handshakesEvicted++;
    c.destroy('half-open handshake evicted for a new one');
  }

  private forgetHandshake(c: DtlsConnection): void {
    this.halfOpen.delete(c);
    const ip = sourceKey(c.peer.address);
    const mine = this.handshakesByIp.get(ip);
    if (mine !== undefined && mine.delete(c) && mine.size === 0) this.handshakesByIp.delete(ip);
  }

  private allocateCid(conn: DtlsConnection): Buffer {
    for (let i = 0; i < 16; i++) {
      const cid = this.cidGenerator(this.cidLength);
      if (cid.length !== this.cidLength)
        throw new Error('dtls: cidGenerator returned a CID of the wrong length');
      const hex = cid.toString('hex');
      if (this.byCid.has(hex)) continue;
      this.byCid.set(hex, conn);
      conn.ref = cidRef(cid);
      conn.key = formatSessionRef(conn.ref);
      return cid;
    }
    throw new Error('dtls: cidGenerator keeps returning CIDs in use');
  }

  private register(conn: DtlsConnection): void {
    if (conn.cid !== undefined && conn.cid.length > 0) this.byCid.set(conn.cid.toString('hex'), conn);
    this.byAddress.set(addressKey(conn.peer), conn);
  }

  private lookup(ref: SessionRef): DtlsConnection | undefined {
    const c = ref.kind === 'cid' ? this.byCid.get(cidHexOf(ref)!) : this.byAddress.get(addressKey(ref));
    return c !== undefined && c.established && !c.closed ? c : undefined;
  }

  private resolve(peer: Peer): DtlsConnection | undefined {
    if (isDtlsPeer(peer)) {
      const c = peer.session as DtlsConnection;
      if (!c.closed && c.established) return c;
      return this.lookup(c.ref);
    }
    return (peer.ref && this.lookup(peer.ref)) ?? this.lookup(addressRef(peer, true));
  }

  private deliver(conn: DtlsConnection, data: Buffer): void {
    deliverSessionData(this.listeners, conn, data, this.common.logger);
  }

  private sendRaw(data: Buffer, peer: Peer): void {
    if (this.closed) return;
    this.opts.transport.send(data, peer).catch((err: unknown) => {
      this.common.logger.warn('dtls: send failed', { peer: addressKey(peer), error: String(err) });
    });
  }

  private onEstablished(c: DtlsConnection): void {
    this.forgetHandshake(c);
    this.counters.handshakesInProgress--;
    this.counters.handshakesCompleted++;
    if (c.resumed) this.counters.handshakesResumed++;
    this.counters.sessions++;
    this.events.emitHandshake(c);
  }

  private onClosed(c: DtlsConnection, reason: string): void {
    if (c.established) this.counters.sessions--;
    else {
      this.forgetHandshake(c);
      this.counters.handshakesInProgress--;
    }
    const ak = addressKey(c.peer);
    if (this.byAddress.get(ak) === c) this.byAddress.delete(ak);
    if (c.cid !== undefined) {
      const hex = c.cid.toString('hex');
      if (this.byCid.get(hex) === c) this.byCid.delete(hex);
    }
    this.common.logger.debug?.('dtls: session closed', { session: c.key, reason });
    // A handshake that failed is worth an operator's attention (a device with a wrong key, a stale identity,
    // a peer that stopped answering). The class is in the message, so a rate-limited logger keeps one line
    // per class per interval; the peer and the full reason go in the context, never any key material.
    const failure = c.established ? undefined : handshakeFailureClass(reason);
    if (failure !== undefined) {
      this.common.logger.warn(`dtls: handshake failed (${failure})`, { peer: ak, reason });
    }
    this.events.emitClose(c, reason);
  }

  private onPeerMoved(c: DtlsConnection, from: Peer): void {
    const old = addressKey(from);
    if (this.byAddress.get(old) === c) this.byAddress.delete(old);
    this.byAddress.set(addressKey(c.peer), c);
    this.events.emitMoved(c, from);
  }
}

/**
 * The class of a failed handshake for logs (unknown identity, bad Finished, timeout, ...), undefined when the
 * handshake ended for the server's own reasons (shutdown, eviction, a newer handshake, a move).
 */
export function handshakeFailureClass(reason: string): string | undefined {
  if (reason === 'handshake timeout') return 'timeout';
  if (reason.startsWith('peer sent fatal alert')) return 'alert from the peer';
  if (!reason.startsWith('handshake failed: ')) return undefined;
  // The failure texts of libs/dtls/src/handshake (server-handshake.ts finishedFailure).
  if (reason.includes('unknown PSK identity')) return 'unknown PSK identity';
  if (reason.includes('Finished verify_data mismatch')) return 'bad Finished';
  if (reason.includes('no certificate')) return 'no server certificate';
  return 'protocol error';
}
