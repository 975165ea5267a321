// Wire constants of DTLS 1.2 (RFC 6347, RFC 5246) and the extensions this library speaks.

/** RFC 5246 section 6.2.1 ContentType, plus tls12_cid (RFC 9146 section 4). */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
  tls12_cid: 25,
} as const;

/** DTLS 1.2 on the wire is {254, 253} (RFC 6347 section 4.1). */
export const DTLS_1_2 = 0xfefd;
/** DTLS 1.0 ({254, 255}): allowed in the record version of a first ClientHello (RFC 6347 4.1). */
export const DTLS_1_0 = 0xfeff;

/** RFC 5246 section 7.4 HandshakeType, plus hello_verify_request (RFC 6347 section 4.3.2). */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
} as const;

/** ExtensionType values used here (IANA TLS ExtensionType registry). */
export const ExtensionType = {
  supported_groups: 10, // RFC 8422 section 5.1.1
  ec_point_formats: 11, // RFC 8422 section 5.1.2
  signature_algorithms: 13, // RFC 5246 section 7.4.1.4.1
  client_certificate_type: 19, // RFC 7250 section 3
  server_certificate_type: 20, // RFC 7250 section 3
  extended_master_secret: 23, // RFC 7627 section 5.1
  connection_id: 54, // RFC 9146 section 3
  renegotiation_info: 0xff01, // RFC 5746 section 3.2
} as const;

/** RFC 7250 section 3 / IANA TLS Certificate Types. */
export const CertificateType = { X509: 0, RawPublicKey: 2 } as const;

/** RFC 8422 section 5.1.1: secp256r1 (P-256). */
export const NAMED_CURVE_SECP256R1 = 23;
/** RFC 8422 section 5.4: ECCurveType named_curve. */
export const EC_CURVE_TYPE_NAMED = 3;
/** RFC 5246 section 7.4.1.4.1: hash sha256(4), signature ecdsa(3). */
export const SIG_ECDSA_SHA256 = 0x0403;
/** RFC 8422 section 5.5 ClientCertificateType ecdsa_sign. */
export const CLIENT_CERT_ECDSA_SIGN = 64;
/** RFC 5746 section 3.3: the renegotiation SCSV in a cipher suite list. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

/** RFC 5246 section 7.2 AlertLevel and AlertDescription (with RFC 6347 / 4279 additions). */
export const AlertLevel = { warning: 1, fatal: 2 } as const;
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  no_renegotiation: 100,
  unsupported_extension: 110,
  unknown_psk_identity: 115,
} as const;

/** Size of the DTLSPlaintext / DTLSCiphertext header without CID (RFC 6347 section 4.1). */
export const RECORD_HEADER_LENGTH = 13;
/** Size of the DTLS handshake message header (RFC 6347 section 4.2.2). */
export const HANDSHAKE_HEADER_LENGTH = 12;
/** RFC 6347 section 4.1: a record's plaintext never exceeds 2^14 bytes. */
export const MAX_PLAINTEXT = 16384;
