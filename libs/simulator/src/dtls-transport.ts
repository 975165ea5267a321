// A simulated device on CoAP over DTLS 1.2 (LwM2M TS 1.2 Transport 5.2): the client role of libs/dtls over
// the device's UDP socket, with a PSK (RFC 4279), a raw public key (RFC 7250) or an X.509 certificate, with or without a
// Connection ID (RFC 9146). The result is the DatagramTransport a SimulatedDevice takes.
import { createPublicKey } from 'node:crypto';
import type { DatagramTransport } from '@lwm2m/coap';
import { DtlsClient, type DtlsLogger } from '@lwm2m/dtls';

export interface DeviceSecurity {
  /** Pre-Shared Key mode: the identity and key provisioned for the device. */
  psk?: { identity: string; key: Buffer };
  /** Raw Public Key mode: the device's P-256 private key (PEM, DER or a KeyObject's PEM). */
  rpk?: {
    privateKey: string | Buffer;
    /**
     * The server's public key (DER SubjectPublicKeyInfo) the device pins. Undefined accepts any server key:
     * for tests and labs only (no server authentication).
     */
    serverPublicKey?: Buffer;
  };
  /** Certificate mode: the device's key and certificate (chain), and the anchors the server chains to. */
  x509?: { privateKey: string | Buffer; certificate: string | Buffer; trustAnchors: (string | Buffer)[] };
  /**
   * RFC 9146: true (default) offers the connection_id extension with a zero-length CID of the device's own
   * (it sends the server's CID, the server sends none), as most devices do; false: classic DTLS.
   */
  connectionId?: boolean;
  logger?: DtlsLogger;
}

/** The SPKI DER of the public half of a P-256 private key (what an operator provisions for RPK). */
export function publicKeyOf(privateKey: string | Buffer): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
}

/** Wraps a device's UDP transport in a DTLS client; the handshake runs on the first send to the server. */
export function createDtlsTransport(udp: DatagramTransport, security: DeviceSecurity): DtlsClient {
  const modes = [security.psk, security.rpk, security.x509].filter((m) => m !== undefined).length;
  if (modes !== 1) throw new Error('DTLS needs exactly one of a PSK, a raw public key or a certificate');
  const { rpk, x509 } = security;
  return new DtlsClient({
    transport: udp,
    connectionId: security.connectionId ?? true,
    ...(security.logger ? { logger: security.logger } : {}),
    ...(security.psk
      ? {
          psk: security.psk,
          cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CCM'],
        }
      : {}),
    ...(rpk
      ? {
          certificate: { privateKey: rpk.privateKey },
          verifyRawPublicKey: (spki: Buffer) =>
            rpk.serverPublicKey === undefined || spki.equals(rpk.serverPublicKey),
          cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
        }
      : {}),
    ...(x509
      ? {
          certificate: { privateKey: x509.privateKey, chain: [x509.certificate] },
          trustAnchors: x509.trustAnchors,
          cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
        }
      : {}),
  });
}
