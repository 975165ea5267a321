// The server side of the DTLS 1.2 handshake (RFC 6347 section 4.2.4 flights 4 and 6; RFC 5246 section 7.3),
// entered only after a ClientHello with a valid cookie. Full handshakes with PSK (RFC 4279) or
// ECDHE_ECDSA (RFC 8422) keys, abbreviated handshakes from the session cache, RFC 7627 extended master
// secret, RFC 9146 connection_id and RFC 7250 certificate types.
import type { PeerIdentity } from '@lwm2m/transport';
import type { X509Certificate } from 'node:crypto';
import { EMPTY_BUFFER, sessionBytes } from '../buffers';
import {
  AlertDescription,
  CertificateType,
  CLIENT_CERT_ECDSA_SIGN,
  DTLS_1_2,
  ExtensionType,
  HandshakeType,
  NAMED_CURVE_SECP256R1,
  SIG_ECDSA_SHA256,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
} from '../constants';
import type { ConnectionHost, DtlsConnection } from '../connection';
import { validateChain } from '../crypto/certificates';
import {
  ecdh,
  generateEphemeral,
  rawFromSpki,
  signDer,
  verifyHash,
  type EcKeyPair,
  type LoadedKey,
} from '../crypto/ecc';
import { pskPremaster } from '../crypto/prf';
import { pooledRandomBytes } from '../crypto/random';
import { suiteById, type CipherSuite } from '../crypto/suites';
import { DtlsAlertError } from '../errors';
import type { SessionCache } from '../session-cache';
import {
  decodeRawPublicKeyCertificate,
  decodeX509Certificate,
  encodeCertificateRequest,
  encodeRawPublicKeyCertificate,
  encodeX509Certificate,
} from './certificate';
import {
  decodeConnectionId,
  decodeU16List,
  decodeU8List,
  encodeConnectionId,
  findExtension,
  type Extension,
} from './extensions';
import { Handshake, whenSettled } from './handshake';
import { encodeServerHello, type ClientHello } from './hello';
import {
  decodeEcdheClientKeyExchange,
  decodePskClientKeyExchange,
  decodeSigned,
  encodeEcdheParams,
  encodePskIdentity,
  encodeSigned,
} from './key-exchange';
import type { HandshakeMessage } from './reassembler';

/** identity -> key, or undefined for an unknown identity. May be async (the gateway reads Redis). */
export type PskLookup = (
  identity: Buffer,
  peer: { address: string; port: number },
) => Promise<Buffer | undefined> | Buffer | undefined;

export interface ServerHandshakeConfig {
  suites: CipherSuite[];
  psk?: PskLookup;
  pskIdentityHint?: Buffer;
  /** Our ECDSA key, with an X.509 chain (leaf first) if we have one; without it we offer raw public keys. */
  certificate?: { key: LoadedKey; chain?: Buffer[] };
  clientAuth: 'none' | 'request' | 'require';
  trustAnchors: X509Certificate[];
  verifyRawPublicKey?: (spki: Buffer) => Promise<boolean> | boolean;
  requireExtendedMasterSecret: boolean;
  /** 0 = no CIDs. */
  cidLength: number;
  allocateCid: () => Buffer;
  sessionCache?: SessionCache;
  /** A handshake whose client never answers our flight is dropped after this long (half-open). */
  halfOpenTimeoutMs?: number;
}

type State = 'client_hello' | 'client_flight' | 'abbreviated_finished';

export class ServerHandshake extends Handshake {
  private state: State = 'client_hello';
  private suite!: CipherSuite;
  private ephemeral: EcKeyPair | undefined;
  private clientCertType: number | undefined;
  private certRequested = false;
  private clientPublicKey: Buffer | undefined;
  private identity: PeerIdentity | undefined;
  private keysReady = false;
  /** The PSK identity was unknown: the keys are random, the Finished cannot verify. */
  private unknownIdentity = false;

  constructor(
    conn: DtlsConnection,
    host: ConnectionHost,
    private readonly cfg: ServerHandshakeConfig,
  ) {
    super(conn, host, cfg.halfOpenTimeoutMs);
  }

  protected override finishedFailure(): string {
    // Internal only (logs, close reason): on the wire it is the same decrypt_error as a wrong key.
    return this.unknownIdentity
      ? 'unknown PSK identity (answered as a wrong key, RFC 4279 section 2)'
      : 'Finished verify_data mismatch';
  }

  /** The ClientHello that carried a valid cookie: the handshake (and its hash) starts here. */
  start(hello: ClientHello, helloMsg: HandshakeMessage, recordSeq: number): void {
    // RFC 6347 section 4.2.1: our messages continue the client's message_seq, our records its sequence.
    this.reassembler.nextSeq = helloMsg.messageSeq + 1;
    this.sendSeq = helloMsg.messageSeq;
    this.conn.writeSeq0 = recordSeq;
    this.enqueue(() => this.onClientHello(hello, helloMsg));
  }

  protected onMessage(m: HandshakeMessage, epoch: number): Promise<void> | void {
    if (m.msgType === HandshakeType.finished) {
      if (this.conn.readEpoch !== 1)
        throw new DtlsAlertError(AlertDescription.unexpected_message, 'Finished before ChangeCipherSpec');
      this.checkFinished(m, epoch);
      return this.onClientFinished();
    }
    if (epoch !== 0)
      throw new DtlsAlertError(
        AlertDescription.unexpected_message,
        'handshake message after ChangeCipherSpec',
      );
    if (this.state !== 'client_flight')
      throw new DtlsAlertError(
        AlertDescription.unexpected_message,
        `unexpected handshake message ${m.msgType}`,
      );
    switch (m.msgType) {
      case HandshakeType.certificate:
        return this.onClientCertificate(m);
      case HandshakeType.client_key_exchange:
        return this.onClientKeyExchange(m);
      case HandshakeType.certificate_verify:
        return this.onCertificateVerify(m);
      default:
        throw new DtlsAlertError(
          AlertDescription.unexpected_message,
          `unexpected handshake message ${m.msgType}`,
        );
    }
  }

  protected onChangeCipherSpec(): void {
    if (!this.keysReady)
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'ChangeCipherSpec before keys');
    if (this.certRequested && this.clientPublicKey !== undefined && this.expectVerify)
      throw new DtlsAlertError(
        AlertDescription.unexpected_message,
        'ChangeCipherSpec before CertificateVerify',
      );
    this.activateReadEpoch();
  }

  private expectVerify = false;
  private gotCertificate = false;
  private gotKeyExchange = false;

  private onClientHello(ch: ClientHello, msg: HandshakeMessage): Promise<void> | void {
    this.hashMessage(msg.msgType, msg.messageSeq, msg.body);
    // DTLS versions count down: 0xfefd (1.2) is numerically below 0xfeff (1.0).
    if (ch.clientVersion > DTLS_1_2)
      throw new DtlsAlertError(AlertDescription.protocol_version, 'client offers only DTLS 1.0');
    if (!ch.compressionMethods.includes(0))
      throw new DtlsAlertError(AlertDescription.illegal_parameter, 'no null compression');
    this.clientRandom = Buffer.from(ch.random);
    this.serverRandom = pooledRandomBytes(32);
    this.extendedMs = findExtension(ch.extensions, ExtensionType.extended_master_secret) !== undefined;
    if (this.cfg.requireExtendedMasterSecret && !this.extendedMs)
      throw new DtlsAlertError(
        AlertDescription.handshake_failure,
        'extended master secret required (RFC 7627)',
      );
    const ext: Extension[] = [];
    const renego =
      findExtension(ch.extensions, ExtensionType.renegotiation_info) !== undefined ||
      ch.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    if (renego) ext.push({ type: ExtensionType.renegotiation_info, data: Buffer.from([0]) });
    if (this.extendedMs) ext.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
    const cidExt = findExtension(ch.extensions, ExtensionType.connection_id);
    if (cidExt !== undefined && this.cfg.cidLength > 0) {
      // RFC 9146 section 3: the client's value is the CID we must send with (zero-length = none); ours
      // is the one it will send to us.
      this.conn.peerCid = sessionBytes(decodeConnectionId(cidExt));
      this.conn.cid = this.cfg.allocateCid();
      ext.push({ type: ExtensionType.connection_id, data: encodeConnectionId(this.conn.cid) });
    }

    if (ch.sessionId.length > 0 && this.cfg.sessionCache !== undefined) {
      return whenSettled(this.cfg.sessionCache.get(ch.sessionId.toString('hex')), (cached) => {
        const suite = cached && suiteById(cached.cipherSuite);
        if (this.conn.closed) return;
        // RFC 7627 section 5.3: resume only when both handshakes agree on the extended master secret.
        if (
          cached !== undefined &&
          suite !== undefined &&
          this.cfg.suites.includes(suite) &&
          ch.cipherSuites.includes(suite.id) &&
          cached.extendedMasterSecret === this.extendedMs
        ) {
          return this.resume(ch, ext, suite, cached.masterSecret, cached.identity);
        }
        return this.fullHandshake(ch, ext);
      });
    }
    return this.fullHandshake(ch, ext);
  }

  private resume(
    ch: ClientHello,
    ext: Extension[],
    suite: CipherSuite,
    master: Buffer,
    identity: PeerIdentity,
  ): void {
    this.suite = suite;
    this.identity = identity;
    this.master = Buffer.from(master);
    this.conn.sessionId = sessionBytes(ch.sessionId);
    this.conn.resumed = true;
    const sh = this.message(
      HandshakeType.server_hello,
      encodeServerHello({
        serverVersion: DTLS_1_2,
        random: this.serverRandom,
        sessionId: ch.sessionId,
        cipherSuite: suite.id,
        compressionMethod: 0,
        extensions: ext,
      }),
    );
    this.installKeys(suite);
    this.keysReady = true;
    this.conn.writeEpoch = 1;
    const fin = this.finishedMessage('server');
    this.state = 'abbreviated_finished';
    this.sendFlight([{ message: sh, epoch: 0 }, { epoch: 0 }, { message: fin, epoch: 1 }], false);
  }

  private chooseSuite(ch: ClientHello): { suite: CipherSuite; serverCertType?: number } {
    const groups = findExtension(ch.extensions, ExtensionType.supported_groups);
    const curveOk =
      groups === undefined || decodeU16List(groups, 'supported_groups').includes(NAMED_CURVE_SECP256R1);
    const formats = findExtension(ch.extensions, ExtensionType.ec_point_formats);
    const formatOk = formats === undefined || decodeU8List(formats, 'ec_point_formats').includes(0);
    const sigs = findExtension(ch.extensions, ExtensionType.signature_algorithms);
    const sigOk =
      sigs === undefined || decodeU16List(sigs, 'signature_algorithms').includes(SIG_ECDSA_SHA256);
    const sctExt = findExtension(ch.extensions, ExtensionType.server_certificate_type);
    let serverCertType: number | undefined;
    const cert = this.cfg.certificate;
    if (cert !== undefined) {
      const hasChain = cert.chain !== undefined && cert.chain.length > 0;
      if (sctExt === undefined) serverCertType = hasChain ? CertificateType.X509 : undefined;
      else {
        const accepted = decodeU8List(sctExt, 'server_certificate_type');
        for (const t of accepted) {
          if (t === CertificateType.RawPublicKey || (t === CertificateType.X509 && hasChain)) {
            serverCertType = t;
            break;
          }
        }
      }
    }
    let ecdheOffered = false;
    for (const s of this.cfg.suites) {
      if (!ch.cipherSuites.includes(s.id)) continue;
      if (s.keyExchange === 'psk' && this.cfg.psk !== undefined) return { suite: s };
      if (s.keyExchange !== 'ecdhe_ecdsa') continue;
      ecdheOffered = true;
      if (serverCertType !== undefined && curveOk && formatOk && sigOk) return { suite: s, serverCertType };
    }
    // The wire answer is handshake_failure either way (RFC 5246 section 7.4.1.3); the reason we count and
    // log names the actual cause, so an operator sees a missing server key rather than a suite mismatch.
    if (ecdheOffered) throw this.ecdheFailure(cert === undefined, curveOk && formatOk && sigOk);
    throw new DtlsAlertError(AlertDescription.handshake_failure, 'no cipher suite in common');
  }

  private ecdheFailure(noCertificate: boolean, paramsOk: boolean): DtlsAlertError {
    if (noCertificate) {
      const n = ++this.host.counters.handshakesNoServerCertificate;
      // Logged at the 1st, 2nd, 4th, 8th... occurrence: visible to the operator, never a log flood.
      if ((n & (n - 1)) === 0)
        this.host.common.logger.warn(
          'dtls: a client offered only ECDHE_ECDSA suites (RPK/X.509) but this server has no certificate or key',
          { occurrences: n },
        );
      return new DtlsAlertError(
        AlertDescription.handshake_failure,
        'server has no certificate or key for the ECDHE_ECDSA suites the client offered',
      );
    }
    return new DtlsAlertError(
      AlertDescription.handshake_failure,
      paramsOk
        ? 'no server certificate type in common (RFC 7250)'
        : 'no common curve, point format or signature algorithm for ECDHE_ECDSA',
    );
  }

  private fullHandshake(ch: ClientHello, ext: Extension[]): void {
    const { suite, serverCertType } = this.chooseSuite(ch);
    this.suite = suite;
    this.conn.sessionId = this.cfg.sessionCache !== undefined ? pooledRandomBytes(32) : EMPTY_BUFFER;
    const flight: Buffer[] = [];
    if (suite.keyExchange === 'ecdhe_ecdsa') {
      if (findExtension(ch.extensions, ExtensionType.ec_point_formats) !== undefined)
        ext.push({ type: ExtensionType.ec_point_formats, data: Buffer.from([1, 0]) });
      if (findExtension(ch.extensions, ExtensionType.server_certificate_type) !== undefined)
        ext.push({ type: ExtensionType.server_certificate_type, data: Buffer.from([serverCertType!]) });
      this.chooseClientCertType(ch, ext);
    }
    flight.push(
      this.message(
        HandshakeType.server_hello,
        encodeServerHello({
          serverVersion: DTLS_1_2,
          random: this.serverRandom,
          sessionId: this.conn.sessionId,
          cipherSuite: suite.id,
          compressionMethod: 0,
          extensions: ext,
        }),
      ),
    );
    if (suite.keyExchange === 'psk') {
      if (this.cfg.pskIdentityHint !== undefined)
        flight.push(
          this.message(HandshakeType.server_key_exchange, encodePskIdentity(this.cfg.pskIdentityHint)),
        );
    } else {
      const cert = this.cfg.certificate!;
      flight.push(
        this.message(
          HandshakeType.certificate,
          serverCertType === CertificateType.RawPublicKey
            ? encodeRawPublicKeyCertificate(cert.key.spki)
            : encodeX509Certificate(cert.chain!),
        ),
      );
      this.ephemeral = generateEphemeral();
      const params = encodeEcdheParams(NAMED_CURVE_SECP256R1, this.ephemeral.publicKey);
      // RFC 8422 section 5.4: signed over ClientHello.random + ServerHello.random + ServerECDHParams.
      const sig = signDer(cert.key.privateKey, Buffer.concat([this.clientRandom, this.serverRandom, params]));
      flight.push(
        this.message(
          HandshakeType.server_key_exchange,
          Buffer.concat([params, encodeSigned(SIG_ECDSA_SHA256, sig)]),
        ),
      );
      if (this.certRequested) {
        flight.push(
          this.message(
            HandshakeType.certificate_request,
            encodeCertificateRequest({
              certificateTypes: [CLIENT_CERT_ECDSA_SIGN],
              signatureAlgorithms: [SIG_ECDSA_SHA256],
              authorities: Buffer.alloc(0),
            }),
          ),
        );
      }
    }
    flight.push(this.message(HandshakeType.server_hello_done, Buffer.alloc(0)));
    this.state = 'client_flight';
    this.sendFlight(
      flight.map((message) => ({ message, epoch: 0 })),
      false,
    );
  }

  /** RFC 7250 section 4.1: which certificate type we ask of the client, if we ask for one at all. */
  private chooseClientCertType(ch: ClientHello, ext: Extension[]): void {
    if (this.cfg.clientAuth === 'none') return;
    const cctExt = findExtension(ch.extensions, ExtensionType.client_certificate_type);
    const offered =
      cctExt === undefined ? [CertificateType.X509] : decodeU8List(cctExt, 'client_certificate_type');
    for (const t of offered) {
      if (t === CertificateType.RawPublicKey && this.cfg.verifyRawPublicKey !== undefined)
        this.clientCertType = t;
      else if (t === CertificateType.X509 && this.cfg.trustAnchors.length > 0) this.clientCertType = t;
      if (this.clientCertType !== undefined) break;
    }
    if (this.clientCertType === undefined) {
      if (this.cfg.clientAuth === 'require')
        throw new DtlsAlertError(
          AlertDescription.unsupported_certificate,
          'no client certificate type in common',
        );
      return;
    }
    this.certRequested = true;
    if (cctExt !== undefined)
      ext.push({ type: ExtensionType.client_certificate_type, data: Buffer.from([this.clientCertType]) });
  }

  private async onClientCertificate(m: HandshakeMessage): Promise<void> {
    if (!this.certRequested || this.gotCertificate || this.gotKeyExchange)
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'unexpected Certificate');
    this.gotCertificate = true;
    this.hashMessage(m.msgType, m.messageSeq, m.body);
    if (this.clientCertType === CertificateType.RawPublicKey) {
      const spki = Buffer.from(decodeRawPublicKeyCertificate(m.body));
      const raw = rawFromSpki(spki);
      if (raw === undefined)
        throw new DtlsAlertError(AlertDescription.unsupported_certificate, 'client key is not P-256');
      if (!(await this.cfg.verifyRawPublicKey!(spki)))
        throw new DtlsAlertError(AlertDescription.access_denied, 'raw public key not accepted');
      this.clientPublicKey = raw;
      this.identity = { type: 'rpk', publicKey: spki };
    } else {
      const chain = decodeX509Certificate(m.body).map((c) => Buffer.from(c));
      if (chain.length === 0) {
        if (this.cfg.clientAuth === 'require')
          throw new DtlsAlertError(AlertDescription.handshake_failure, 'client sent no certificate');
        return;
      }
      const v = validateChain(chain, this.cfg.trustAnchors);
      this.clientPublicKey = v.publicKey;
      this.identity = { type: 'x509', subject: v.subject, certificate: v.leaf };
    }
    this.expectVerify = true;
  }

  private onClientKeyExchange(m: HandshakeMessage): Promise<void> | void {
    if (this.gotKeyExchange)
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'second ClientKeyExchange');
    if (this.certRequested && !this.gotCertificate && this.cfg.clientAuth === 'require')
      throw new DtlsAlertError(AlertDescription.handshake_failure, 'client certificate required');
    this.gotKeyExchange = true;
    if (this.suite.keyExchange === 'psk') {
      const identity = Buffer.from(decodePskClientKeyExchange(m.body));
      return whenSettled(this.cfg.psk!(identity, this.conn.peer), (key) => {
        if (this.conn.closed) return;
        if (key === undefined) {
          // RFC 4279 section 2: hide that the identity is unknown (no unknown_psk_identity alert, which
          // would let anyone enumerate identities): go on with a random key, so the client's Finished fails
          // exactly as with a wrong key (decrypt_error). Counted, never told.
          this.host.counters.pskUnknownIdentities++;
          this.unknownIdentity = true;
          this.keyExchangeDone(m, pskPremaster(pooledRandomBytes(16)));
          return;
        }
        this.identity = { type: 'psk', identity: identity.toString('utf8') };
        this.keyExchangeDone(m, pskPremaster(key));
      });
    }
    const preMaster = ecdh(this.ephemeral!.privateKey, decodeEcdheClientKeyExchange(m.body));
    this.ephemeral = undefined;
    this.keyExchangeDone(m, preMaster);
  }

  private keyExchangeDone(m: HandshakeMessage, preMaster: Buffer): void {
    this.hashMessage(m.msgType, m.messageSeq, m.body);
    this.deriveKeys(preMaster, this.suite);
    this.keysReady = true;
  }

  private onCertificateVerify(m: HandshakeMessage): void {
    if (!this.expectVerify || !this.gotKeyExchange)
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'unexpected CertificateVerify');
    const { algorithm, signature } = decodeSigned(m.body, 'dtls-certificate-verify');
    if (algorithm !== SIG_ECDSA_SHA256)
      throw new DtlsAlertError(AlertDescription.illegal_parameter, 'signature algorithm');
    // RFC 5246 section 7.4.8: signed over all handshake messages before this one.
    if (!verifyHash(this.clientPublicKey!, this.transcriptHash(), Buffer.from(signature)))
      throw new DtlsAlertError(AlertDescription.decrypt_error, 'CertificateVerify signature invalid');
    this.expectVerify = false;
    this.hashMessage(m.msgType, m.messageSeq, m.body);
  }

  private onClientFinished(): Promise<void> | void {
    this.conn.identity = this.identity;
    if (this.state === 'abbreviated_finished') {
      this.flightAcknowledged();
      this.complete();
      return;
    }
    if (this.cfg.sessionCache !== undefined && this.conn.sessionId.length > 0 && this.identity !== undefined)
      return this.cacheThenFinish(this.cfg.sessionCache, this.identity);
    this.sendFinished();
  }

  /**
   * Cached before our Finished leaves: a client that resumes right away (even on another cluster node)
   * finds it. A cache that fails costs only the resumption, never this handshake.
   */
  private async cacheThenFinish(cache: SessionCache, identity: PeerIdentity): Promise<void> {
    try {
      await cache.set({
        id: this.conn.sessionId.toString('hex'),
        cipherSuite: this.suite.id,
        masterSecret: this.master!,
        extendedMasterSecret: this.extendedMs,
        identity,
        createdAt: Date.now(),
      });
    } catch {
      // the session is simply not resumable
    }
    if (this.conn.closed) return;
    this.sendFinished();
  }

  private sendFinished(): void {
    // Flight 6: ChangeCipherSpec + Finished, kept to answer a retransmitted flight 5 (RFC 6347 4.2.4).
    this.conn.writeEpoch = 1;
    const fin = this.finishedMessage('server');
    this.sendFlight([{ epoch: 0 }, { message: fin, epoch: 1 }], true);
    this.complete();
  }
}
