// One DTLS association with one peer: the record layer state of RFC 6347 section 4.1 (epochs, sequence
// numbers, anti-replay window), the RFC 9146 CIDs of both directions, and the handshake while one runs.
import { formatSessionRef, type Peer, type PeerIdentity, type SessionRef } from '@lwm2m/transport';
import { EMPTY_BUFFER } from './buffers';
import type { CipherCache, CipherHolder } from './cipher-cache';
import { AlertDescription, AlertLevel, ContentType } from './constants';
import { aeadCipher, type AeadCipher, type DirectionKeys } from './crypto/aead';
import type { CipherSuite } from './crypto/suites';
import type { DtlsCounters } from './counters';
import { alertName } from './errors';
import type { Handshake } from './handshake/handshake';
import type { ResolvedCommon } from './options';
import {
  encodePlainRecord,
  encodeProtectedRecord,
  openProtectedRecord,
  type DtlsRecord,
} from './record/record';
import { ReplayWindow } from './record/replay-window';

/** What the layer above sees of a session. */
export interface DtlsSession {
  /** Which session this is for the layer above: its CID when we issued one, else the address it began at. */
  readonly ref: SessionRef;
  /** `ref` as text (formatSessionRef; the client keys by the server's address), made once per session. */
  readonly key: string;
  /** The peer's current address (moves on an authenticated, newest CID record: RFC 9146 section 6). */
  readonly peer: Peer;
  readonly role: 'client' | 'server';
  /** The CID the peer puts in records sent to us (ours), if CIDs were negotiated. */
  readonly cid: Buffer | undefined;
  /** The CID we put in records to the peer (theirs; zero-length = none), if CIDs were negotiated. */
  readonly peerCid: Buffer | undefined;
  readonly identity: PeerIdentity | undefined;
  readonly cipherSuite: string | undefined;
  readonly sessionId: Buffer;
  readonly resumed: boolean;
  readonly established: boolean;
}

/** The endpoint (server or client) a connection lives in. */
export interface ConnectionHost {
  readonly counters: DtlsCounters;
  readonly common: ResolvedCommon;
  sendDatagram(data: Buffer, peer: Peer): void;
  onEstablished(conn: DtlsConnection): void;
  onClosed(conn: DtlsConnection, reason: string): void;
  onApplicationData(conn: DtlsConnection, data: Buffer): void;
  onPeerMoved(conn: DtlsConnection, from: Peer): void;
  /** The write sequence reached `writeSeqLowMark`: extend the lease before `writeSeqLimit` (cluster). */
  onWriteSequenceLow?(conn: DtlsConnection): void;
  /** Which sessions keep their record ciphers set up. */
  readonly ciphers: CipherCache;
  /** The peer answered our first flight (the handshake is no longer half-open). */
  onHandshakeProgress?(conn: DtlsConnection): void;
}

/** A cluster's lease on epoch-1 write sequence numbers (most sessions never have one). */
interface WriteLease {
  limit: number;
  lowMark: number;
}

export class DtlsConnection implements DtlsSession, CipherHolder {
  ref: SessionRef;
  key: string;
  peer: Peer;
  cid: Buffer | undefined;
  peerCid: Buffer | undefined;
  identity: PeerIdentity | undefined;
  suite: CipherSuite | undefined;
  sessionId: Buffer = EMPTY_BUFFER;
  resumed = false;
  established = false;
  closed = false;
  handshake: Handshake | undefined;

  readEpoch = 0;
  writeEpoch = 0;
  /** Next record sequence number to write, per epoch (only epochs 0 and 1 exist: no renegotiation). */
  writeSeq0 = 0;
  writeSeq1 = 0;
  private lease: WriteLease | undefined;
  replay = new ReplayWindow();
  /**
   * Epoch-1 key block (client key, server key, client salt, server salt: RFC 5246 section 6.3) in one
   * Buffer: an idle session costs one small object, not four. Read keys take effect at the peer's
   * ChangeCipherSpec, write keys when we send ours.
   */
  private block: Buffer | undefined;
  readReady = false;
  writeReady = false;
  /** Ciphers made from the key block while the session is busy (the host's CipherCache bounds them). */
  private readCipher: AeadCipher | undefined;
  private writeCipher: AeadCipher | undefined;
  /** Set on every use of the ciphers: the cache spares a session used since it last looked. */
  cipherUsed = false;

  /**
   * Epoch-1 sequence numbers at or above this are never written: a cluster leases blocks of them in Redis so
   * that a node taking the session over starts above anything this one sent (no AES-CCM nonce reuse).
   */
  get writeSeqLimit(): number {
    return this.lease?.limit ?? Number.MAX_SAFE_INTEGER;
  }

  set writeSeqLimit(limit: number) {
    this.lease = { limit, lowMark: this.writeSeqLowMark };
  }

  /** Reaching this asks the host for a longer lease (once per mark). */
  get writeSeqLowMark(): number {
    return this.lease?.lowMark ?? Number.MAX_SAFE_INTEGER;
  }

  set writeSeqLowMark(lowMark: number) {
    this.lease = { limit: this.writeSeqLimit, lowMark };
  }

  get keyBlock(): Buffer | undefined {
    return this.block;
  }

  set keyBlock(block: Buffer | undefined) {
    this.block = block;
    this.dropCiphers();
  }

  get readKeys(): DirectionKeys | undefined {
    return this.readReady ? this.direction(this.role === 'client' ? 'server' : 'client') : undefined;
  }

  get writeKeys(): DirectionKeys | undefined {
    return this.writeReady ? this.direction(this.role) : undefined;
  }

  private direction(of: 'client' | 'server'): DirectionKeys | undefined {
    const b = this.block;
    const suite = this.suite;
    if (b === undefined || suite === undefined) return undefined;
    const k = suite.keyLength;
    const iv = suite.fixedIvLength;
    return of === 'client'
      ? { key: b.subarray(0, k), salt: b.subarray(2 * k, 2 * k + iv) }
      : { key: b.subarray(k, 2 * k), salt: b.subarray(2 * k + iv, 2 * k + 2 * iv) };
  }

  /** The epoch-1 read cipher, set up on first use; undefined before the peer's ChangeCipherSpec. */
  private readAead(): AeadCipher | undefined {
    let c = this.readCipher;
    if (c === undefined) {
      const keys = this.readKeys;
      if (keys === undefined || this.suite === undefined) return undefined;
      c = this.readCipher = aeadCipher(this.suite, keys);
      if (!this.closed) this.host.ciphers.add(this);
    }
    this.cipherUsed = true;
    return c;
  }

  private writeAead(): AeadCipher | undefined {
    let c = this.writeCipher;
    if (c === undefined) {
      const keys = this.writeKeys;
      if (keys === undefined || this.suite === undefined) return undefined;
      c = this.writeCipher = aeadCipher(this.suite, keys);
      if (!this.closed) this.host.ciphers.add(this);
    }
    this.cipherUsed = true;
    return c;
  }

  /** Lets the record ciphers go (they are set up again from the key block when needed). */
  dropCiphers(): void {
    this.readCipher = undefined;
    this.writeCipher = undefined;
  }

  /** Bytes of zero padding in each tls12_cid inner plaintext (RFC 9146 section 4); 0 by default. */
  cidPadding = 0;

  constructor(
    readonly role: 'client' | 'server',
    peer: Peer,
    private readonly host: ConnectionHost,
    ref: SessionRef,
    key = formatSessionRef(ref),
  ) {
    this.peer = peer;
    this.ref = ref;
    this.key = key;
  }

  get cipherSuite(): string | undefined {
    return this.suite?.name;
  }

  /** Encodes one record for the current write state of `epoch` (taking the next sequence number). */
  encodeRecord(type: number, epoch: number, data: Buffer): Buffer {
    if (epoch === 0) return encodePlainRecord(type, 0, this.writeSeq0++, data);
    const cipher = this.writeAead();
    if (cipher === undefined) throw new Error('dtls: no epoch 1 write keys');
    const seq = this.writeSeq1;
    const lease = this.lease;
    if (lease !== undefined && seq >= lease.limit) throw new Error('dtls: write sequence lease exhausted');
    this.writeSeq1++;
    if (lease !== undefined && seq >= lease.lowMark) {
      lease.lowMark = Number.MAX_SAFE_INTEGER;
      this.host.onWriteSequenceLow?.(this);
    }
    return encodeProtectedRecord(type, epoch, seq, data, { cipher }, this.peerCid, this.cidPadding);
  }

  /** Application data to the peer (RFC 6347 section 4.1: one record, never fragmented). */
  sendApplicationData(data: Buffer): void {
    if (!this.established || this.closed) throw new Error('dtls: session not established');
    this.host.sendDatagram(this.encodeRecord(ContentType.application_data, 1, data), this.peer);
  }

  sendAlert(level: number, description: number): void {
    if (this.closed) return;
    try {
      const epoch = this.writeEpoch;
      this.host.sendDatagram(
        this.encodeRecord(ContentType.alert, epoch, Buffer.from([level, description])),
        this.peer,
      );
      this.host.counters.alertsSent++;
    } catch {
      // no keys for the epoch: nothing we can send
    }
  }

  /** Sends close_notify (RFC 5246 section 7.2.1) and forgets the session. */
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.destroy(reason);
  }

  /** Forgets the session without a word to the peer. */
  destroy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.host.ciphers.forget(this);
    this.dropCiphers();
    this.handshake?.dispose();
    this.handshake = undefined;
    this.host.onClosed(this, reason);
  }

  /** One record of a datagram from `from`, already matched to this connection. */
  handleRecord(rec: DtlsRecord, from: Peer, deferred = false): void {
    if (this.closed) return;
    const counters = this.host.counters;
    if (rec.epoch === 0) {
      // Epoch 0 is unauthenticated: only the handshake may use it, and only while one runs.
      if (this.handshake === undefined || this.readEpoch !== 0 || rec.type === ContentType.tls12_cid) {
        if (rec.type === ContentType.handshake && this.handshake !== undefined) {
          // a retransmitted epoch-0 flight after we switched epochs: let the handshake resend its flight
          this.handshake.onRecord(rec.type, 0, rec.fragment);
          return;
        }
        counters.droppedRecords++;
        return;
      }
      if (rec.type === ContentType.alert) return this.onAlert(rec.fragment);
      if (rec.type === ContentType.application_data) {
        counters.droppedRecords++;
        return;
      }
      this.handshake.onRecord(rec.type, 0, rec.fragment);
      return;
    }
    if (
      rec.epoch === 1 &&
      this.readEpoch === 0 &&
      !deferred &&
      this.handshake !== undefined &&
      !this.handshake.done
    ) {
      // The peer's ChangeCipherSpec may still wait in the handshake queue (e.g. behind an async PSK
      // lookup): look at this record again once everything before it is processed.
      this.handshake.defer(() => this.handleRecord(rec, from, true));
      return;
    }
    const cipher = rec.epoch === 1 && this.readEpoch === 1 ? this.readAead() : undefined;
    if (cipher === undefined) {
      // RFC 6347 section 4.1: records of a future epoch may be discarded; ours arrive again by retransmission.
      counters.droppedRecords++;
      return;
    }
    // RFC 9146: a tls12_cid record only where we issued a CID, a plain one only where we did not.
    const cidRecord = rec.type === ContentType.tls12_cid;
    if (cidRecord !== (this.cid !== undefined && this.cid.length > 0)) {
      counters.droppedRecords++;
      return;
    }
    if (!this.replay.check(rec.seq)) {
      counters.droppedRecords++;
      counters.droppedReplay++;
      return;
    }
    const opened = openProtectedRecord(rec, { cipher });
    if (opened === undefined) {
      counters.droppedRecords++;
      counters.droppedBadMac++;
      // While the peer's Finished is awaited, a record under other keys means a wrong key (RFC 4279 2).
      if (this.handshake !== undefined && !this.handshake.done) this.handshake.onUnauthenticatedRecord();
      return;
    }
    const newest = rec.seq > this.replay.top;
    this.replay.accept(rec.seq);
    // RFC 9146 section 6: move the peer only for a record that authenticated and is the newest seen.
    if (cidRecord && newest && (from.address !== this.peer.address || from.port !== this.peer.port)) {
      const old = this.peer;
      this.peer = { address: from.address, port: from.port, family: from.family };
      counters.peerAddressUpdates++;
      this.host.onPeerMoved(this, old);
    }
    switch (opened.type) {
      case ContentType.application_data:
        if (!this.established) {
          counters.droppedRecords++;
          return;
        }
        // The peer has our final flight: the handshake no longer needs to linger for retransmissions.
        if (this.handshake !== undefined && this.handshake.done) this.dropHandshake();
        this.host.onApplicationData(this, opened.data);
        return;
      case ContentType.alert:
        return this.onAlert(opened.data);
      case ContentType.handshake:
      case ContentType.change_cipher_spec:
        if (this.handshake !== undefined) this.handshake.onRecord(opened.type, 1, opened.data);
        else if (opened.type === ContentType.handshake && this.established) {
          // RFC 5746: we do not renegotiate; a HelloRequest or ClientHello in epoch 1 gets no_renegotiation.
          this.sendAlert(AlertLevel.warning, AlertDescription.no_renegotiation);
        }
        return;
      default:
        counters.droppedRecords++;
    }
  }

  private onAlert(data: Buffer): void {
    if (data.length !== 2) {
      this.host.counters.droppedRecords++;
      return;
    }
    this.host.counters.alertsReceived++;
    const [level, description] = data;
    if (description === AlertDescription.close_notify) {
      // RFC 5246 section 7.2.1: answer close_notify with close_notify.
      this.close('peer sent close_notify');
      return;
    }
    if (level === AlertLevel.fatal) {
      this.handshake?.onFatalAlert(description);
      this.destroy(`peer sent fatal alert ${alertName(description)}`);
    }
  }

  dropHandshake(): void {
    this.handshake?.dispose();
    this.handshake = undefined;
  }
}
