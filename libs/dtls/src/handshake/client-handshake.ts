// The client side of the DTLS 1.2 handshake (RFC 6347 section 4.2.4 flights 1, 3 and 5; RFC 5246 section
// 7.3): the cookie exchange, full PSK or ECDHE_ECDSA handshakes, resumption of a cached session, RFC 7627
// extended master secret, RFC 9146 connection_id and RFC 7250 raw public keys.
import type { PeerIdentity } from '@lwm2m/transport';
import { createHash, type X509Certificate } from 'node:crypto';
import { sessionBytes } from '../buffers';
import {
  AlertDescription,
  CertificateType,
  DTLS_1_2,
  ExtensionType,
  HandshakeType,
  NAMED_CURVE_SECP256R1,
  SIG_ECDSA_SHA256,
} from '../constants';
import type { ConnectionHost, DtlsConnection } from '../connection';
import { validateChain } from '../crypto/certificates';
import { ecdh, generateEphemeral, rawFromSpki, signHash, verifyDer, type LoadedKey } from '../crypto/ecc';
import { pskPremaster } from '../crypto/prf';
import { pooledRandomBytes } from '../crypto/random';
import type { CipherSuite } from '../crypto/suites';
import { DtlsAlertError } from '../errors';
import type { CachedSession } from '../session-cache';
import {
  decodeCertificateRequest,
  decodeRawPublicKeyCertificate,
  decodeX509Certificate,
  encodeRawPublicKeyCertificate,
  encodeX509Certificate,
} from './certificate';
import {
  decodeConnectionId,
  decodeSingleU8,
  encodeConnectionId,
  encodeU16List,
  encodeU8List,
  findExtension,
  type Extension,
} from './extensions';
import { Handshake } from './handshake';
import { decodeHelloVerifyRequest, decodeServerHello, encodeClientHello, type ClientHello } from './hello';
import {
  decodeEcdheServerKeyExchange,
  decodePskServerKeyExchange,
  encodeEcdheClientKeyExchange,
  encodePskIdentity,
  encodeSigned,
} from './key-exchange';
import type { HandshakeMessage } from './reassembler';

export interface ClientHandshakeConfig {
  suites: CipherSuite[];
  psk?: { identity: Buffer; key: Buffer };
  /** Our key for client authentication in ECDHE suites: raw public key, or X.509 with `chain`. */
  certificate?: { key: LoadedKey; chain?: Buffer[] };
  /** Trust anchors for a server's X.509 chain. */
  trustAnchors: X509Certificate[];
  /** Decides on a server's raw public key (SubjectPublicKeyInfo DER). */
  verifyRawPublicKey?: (spki: Buffer) => Promise<boolean> | boolean;
  /** Our CID (what the server puts in records to us; zero-length = none), or undefined to not use CIDs. */
  cid: Buffer | undefined;
  /** A session to resume (abbreviated handshake). */
  resume?: CachedSession;
  requireExtendedMasterSecret: boolean;
}

type State = 'hello' | 'server_flight' | 'server_finished';

export class ClientHandshake extends Handshake {
  private state: State = 'hello';
  private hello!: ClientHello;
  private suite!: CipherSuite;
  private resumed = false;
  private serverPublicKey: Buffer | undefined;
  private serverEcdhPublic: Buffer | undefined;
  private certRequested = false;
  private serverCertType: number = CertificateType.X509;
  private clientCertType: number = CertificateType.X509;
  private identity: PeerIdentity | undefined;
  private seen = new Set<number>();

  constructor(
    conn: DtlsConnection,
    host: ConnectionHost,
    private readonly cfg: ClientHandshakeConfig,
  ) {
    super(conn, host);
  }

  /** Flight 1: the ClientHello without a cookie. */
  start(): void {
    this.clientRandom = pooledRandomBytes(32);
    const ext: Extension[] = [
      { type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
      { type: ExtensionType.renegotiation_info, data: Buffer.from([0]) },
    ];
    if (this.cfg.cid !== undefined)
      ext.push({ type: ExtensionType.connection_id, data: encodeConnectionId(this.cfg.cid) });
    if (this.cfg.suites.some((s) => s.keyExchange === 'ecdhe_ecdsa')) {
      ext.push({ type: ExtensionType.supported_groups, data: encodeU16List([NAMED_CURVE_SECP256R1]) });
      ext.push({ type: ExtensionType.ec_point_formats, data: encodeU8List([0]) });
      ext.push({ type: ExtensionType.signature_algorithms, data: encodeU16List([SIG_ECDSA_SHA256]) });
      const serverTypes: number[] = [];
      if (this.cfg.verifyRawPublicKey !== undefined) serverTypes.push(CertificateType.RawPublicKey);
      if (this.cfg.trustAnchors.length > 0) serverTypes.push(CertificateType.X509);
      if (serverTypes.length > 0 && !(serverTypes.length === 1 && serverTypes[0] === CertificateType.X509))
        ext.push({ type: ExtensionType.server_certificate_type, data: encodeU8List(serverTypes) });
      const cert = this.cfg.certificate;
      if (cert !== undefined && (cert.chain === undefined || cert.chain.length === 0))
        ext.push({
          type: ExtensionType.client_certificate_type,
          data: encodeU8List([CertificateType.RawPublicKey]),
        });
    }
    this.hello = {
      clientVersion: DTLS_1_2,
      random: this.clientRandom,
      sessionId: this.cfg.resume !== undefined ? Buffer.from(this.cfg.resume.id, 'hex') : Buffer.alloc(0),
      cookie: Buffer.alloc(0),
      cipherSuites: this.cfg.suites.map((s) => s.id),
      compressionMethods: [0],
      extensions: ext,
    };
    this.sendHello();
  }

  private sendHello(): void {
    // RFC 6347 section 4.2.6: the hash starts with the ClientHello that the server answers with
    // ServerHello; an earlier one (and the HelloVerifyRequest) stay out.
    this.transcript = createHash('sha256');
    const msg = this.message(HandshakeType.client_hello, encodeClientHello(this.hello));
    this.sendFlight([{ message: msg, epoch: 0 }], false);
  }

  protected onMessage(m: HandshakeMessage, epoch: number): Promise<void> | void {
    if (m.msgType === HandshakeType.finished) {
      if (this.state !== 'server_finished' || this.conn.readEpoch !== 1)
        throw new DtlsAlertError(AlertDescription.unexpected_message, 'unexpected Finished');
      this.checkFinished(m, epoch);
      return this.onServerFinished();
    }
    if (epoch !== 0)
      throw new DtlsAlertError(
        AlertDescription.unexpected_message,
        'handshake message after ChangeCipherSpec',
      );
    if (this.state === 'hello') {
      if (m.msgType === HandshakeType.hello_verify_request) return this.onHelloVerifyRequest(m);
      if (m.msgType === HandshakeType.server_hello) return this.onServerHello(m);
      throw new DtlsAlertError(
        AlertDescription.unexpected_message,
        `unexpected message ${m.msgType} before ServerHello`,
      );
    }
    if (this.state !== 'server_flight')
      throw new DtlsAlertError(AlertDescription.unexpected_message, `unexpected message ${m.msgType}`);
    if (this.seen.has(m.msgType))
      throw new DtlsAlertError(AlertDescription.unexpected_message, `duplicate message ${m.msgType}`);
    this.seen.add(m.msgType);
    switch (m.msgType) {
      case HandshakeType.certificate:
        return this.onServerCertificate(m);
      case HandshakeType.server_key_exchange:
        return this.onServerKeyExchange(m);
      case HandshakeType.certificate_request:
        return this.onCertificateRequest(m);
      case HandshakeType.server_hello_done:
        return this.onServerHelloDone(m);
      default:
        throw new DtlsAlertError(AlertDescription.unexpected_message, `unexpected message ${m.msgType}`);
    }
  }

  protected onChangeCipherSpec(): void {
    if (this.state !== 'server_finished')
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'early ChangeCipherSpec');
    this.activateReadEpoch();
  }

  private onHelloVerifyRequest(m: HandshakeMessage): void {
    const hvr = decodeHelloVerifyRequest(m.body);
    if (hvr.cookie.length > 255)
      throw new DtlsAlertError(AlertDescription.illegal_parameter, 'cookie too long');
    this.hello.cookie = Buffer.from(hvr.cookie);
    this.flightAcknowledged();
    this.sendHello();
  }

  private onServerHello(m: HandshakeMessage): void {
    this.flightAcknowledged();
    const sh = decodeServerHello(m.body);
    if (sh.serverVersion !== DTLS_1_2)
      throw new DtlsAlertError(AlertDescription.protocol_version, 'server version is not DTLS 1.2');
    const suite = this.cfg.suites.find((s) => s.id === sh.cipherSuite);
    if (suite === undefined)
      throw new DtlsAlertError(AlertDescription.illegal_parameter, 'server chose a suite we did not offer');
    if (sh.compressionMethod !== 0)
      throw new DtlsAlertError(AlertDescription.illegal_parameter, 'compression');
    this.hashMessage(m.msgType, m.messageSeq, m.body);
    this.suite = suite;
    this.serverRandom = Buffer.from(sh.random);
    this.conn.sessionId = sessionBytes(sh.sessionId);
    this.extendedMs = findExtension(sh.extensions, ExtensionType.extended_master_secret) !== undefined;
    const cidExt = findExtension(sh.extensions, ExtensionType.connection_id);
    if (cidExt !== undefined) {
      if (this.cfg.cid === undefined)
        throw new DtlsAlertError(AlertDescription.unsupported_extension, 'unrequested connection_id');
      this.conn.peerCid = sessionBytes(decodeConnectionId(cidExt));
      this.conn.cid = this.cfg.cid;
    }
    const sct = findExtension(sh.extensions, ExtensionType.server_certificate_type);
    if (sct !== undefined) this.serverCertType = decodeSingleU8(sct, 'server_certificate_type');
    const cct = findExtension(sh.extensions, ExtensionType.client_certificate_type);
    if (cct !== undefined) this.clientCertType = decodeSingleU8(cct, 'client_certificate_type');
    const resume = this.cfg.resume;
    if (resume !== undefined && sh.sessionId.length > 0 && sh.sessionId.toString('hex') === resume.id) {
      if (resume.cipherSuite !== suite.id)
        throw new DtlsAlertError(AlertDescription.illegal_parameter, 'resumed suite differs');
      // RFC 7627 section 5.3: the resumed session must agree on the extended master secret.
      if (resume.extendedMasterSecret !== this.extendedMs)
        throw new DtlsAlertError(
          AlertDescription.handshake_failure,
          'extended master secret mismatch on resumption',
        );
      this.resumed = true;
      this.conn.resumed = true;
      this.identity = resume.identity;
      this.master = Buffer.from(resume.masterSecret);
      this.installKeys(suite);
      this.state = 'server_finished';
      return;
    }
    if (this.cfg.requireExtendedMasterSecret && !this.extendedMs)
      throw new DtlsAlertError(
        AlertDescription.handshake_failure,
        'server did not negotiate the extended master secret',
      );
    this.state = 'server_flight';
  }

  private async onServerCertificate(m: HandshakeMessage): Promise<void> {
    if (this.suite.keyExchange !== 'ecdhe_ecdsa')
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'Certificate in a PSK handshake');
    this.hashMessage(m.msgType, m.messageSeq, m.body);
    if (this.serverCertType === CertificateType.RawPublicKey) {
      const spki = Buffer.from(decodeRawPublicKeyCertificate(m.body));
      const raw = rawFromSpki(spki);
      if (raw === undefined)
        throw new DtlsAlertError(AlertDescription.unsupported_certificate, 'server key is not P-256');
      if (this.cfg.verifyRawPublicKey === undefined || !(await this.cfg.verifyRawPublicKey(spki)))
        throw new DtlsAlertError(AlertDescription.bad_certificate, 'server raw public key not trusted');
      this.serverPublicKey = raw;
      this.identity = { type: 'rpk', publicKey: spki };
    } else {
      const v = validateChain(
        decodeX509Certificate(m.body).map((c) => Buffer.from(c)),
        this.cfg.trustAnchors,
      );
      this.serverPublicKey = v.publicKey;
      this.identity = { type: 'x509', subject: v.subject, certificate: v.leaf };
    }
  }

  private onServerKeyExchange(m: HandshakeMessage): void {
    if (this.suite.keyExchange === 'psk') {
      decodePskServerKeyExchange(m.body); // the hint: we have one identity, so it does not choose anything
    } else {
      if (this.serverPublicKey === undefined)
        throw new DtlsAlertError(AlertDescription.unexpected_message, 'ServerKeyExchange before Certificate');
      const ske = decodeEcdheServerKeyExchange(m.body);
      if (ske.namedCurve !== NAMED_CURVE_SECP256R1)
        throw new DtlsAlertError(AlertDescription.illegal_parameter, 'curve');
      if (ske.signatureAlgorithm !== SIG_ECDSA_SHA256)
        throw new DtlsAlertError(AlertDescription.illegal_parameter, 'signature algorithm');
      const signed = Buffer.concat([this.clientRandom, this.serverRandom, ske.params]);
      if (!verifyDer(this.serverPublicKey, signed, Buffer.from(ske.signature)))
        throw new DtlsAlertError(AlertDescription.decrypt_error, 'ServerKeyExchange signature invalid');
      this.serverEcdhPublic = Buffer.from(ske.publicKey);
    }
    this.hashMessage(m.msgType, m.messageSeq, m.body);
  }

  private onCertificateRequest(m: HandshakeMessage): void {
    if (this.suite.keyExchange !== 'ecdhe_ecdsa')
      throw new DtlsAlertError(AlertDescription.unexpected_message, 'CertificateRequest in a PSK handshake');
    decodeCertificateRequest(m.body);
    this.certRequested = true;
    this.hashMessage(m.msgType, m.messageSeq, m.body);
  }

  /** Flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished. */
  private onServerHelloDone(m: HandshakeMessage): void {
    this.hashMessage(m.msgType, m.messageSeq, m.body);
    const flight: { message?: Buffer; epoch: number }[] = [];
    let preMaster: Buffer;
    let signWith: LoadedKey | undefined;
    if (this.suite.keyExchange === 'psk') {
      const psk = this.cfg.psk;
      if (psk === undefined) throw new DtlsAlertError(AlertDescription.internal_error, 'no PSK configured');
      flight.push({
        message: this.message(HandshakeType.client_key_exchange, encodePskIdentity(psk.identity)),
        epoch: 0,
      });
      preMaster = pskPremaster(psk.key);
      this.identity = { type: 'psk', identity: psk.identity.toString('utf8') };
    } else {
      if (this.serverEcdhPublic === undefined)
        throw new DtlsAlertError(AlertDescription.unexpected_message, 'no ServerKeyExchange');
      if (this.certRequested) {
        const cert = this.cfg.certificate;
        let body: Buffer;
        if (cert === undefined) body = encodeX509Certificate([]);
        else if (this.clientCertType === CertificateType.RawPublicKey)
          body = encodeRawPublicKeyCertificate(cert.key.spki);
        else if (cert.chain !== undefined && cert.chain.length > 0) body = encodeX509Certificate(cert.chain);
        else body = encodeX509Certificate([]);
        if (cert !== undefined && body.length > 3) signWith = cert.key;
        flight.push({ message: this.message(HandshakeType.certificate, body), epoch: 0 });
      }
      const eph = generateEphemeral();
      preMaster = ecdh(eph.privateKey, this.serverEcdhPublic);
      flight.push({
        message: this.message(HandshakeType.client_key_exchange, encodeEcdheClientKeyExchange(eph.publicKey)),
        epoch: 0,
      });
    }
    this.deriveKeys(preMaster, this.suite);
    if (signWith !== undefined) {
      // RFC 5246 section 7.4.8: signature over every handshake message so far.
      const sig = signHash(signWith.privateKey, this.transcriptHash());
      flight.push({
        message: this.message(HandshakeType.certificate_verify, encodeSigned(SIG_ECDSA_SHA256, sig)),
        epoch: 0,
      });
    }
    flight.push({ epoch: 0 });
    this.conn.writeEpoch = 1;
    flight.push({ message: this.finishedMessage('client'), epoch: 1 });
    this.state = 'server_finished';
    this.sendFlight(flight, false);
  }

  private onServerFinished(): void {
    this.conn.identity = this.identity;
    if (this.resumed) {
      // Abbreviated handshake: our CCS + Finished is the last flight (RFC 5246 section 7.3).
      this.conn.writeEpoch = 1;
      const fin = this.finishedMessage('client');
      this.sendFlight([{ epoch: 0 }, { message: fin, epoch: 1 }], true);
    } else {
      this.flightAcknowledged();
    }
    this.complete();
  }

  /** The session for later resumption (only when the server gave it an id). */
  cachedSession(): CachedSession | undefined {
    if (this.conn.sessionId.length === 0 || this.master === undefined || this.identity === undefined)
      return undefined;
    return {
      id: this.conn.sessionId.toString('hex'),
      cipherSuite: this.suite.id,
      masterSecret: this.master,
      extendedMasterSecret: this.extendedMs,
      identity: this.identity,
      createdAt: Date.now(),
    };
  }
}
