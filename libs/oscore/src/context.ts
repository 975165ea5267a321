// RFC 8613 section 3: the security context (Common, Sender and Recipient Context) and its derivation
// (section 3.2), and the AEAD nonce (section 5.2).
import { Encoder } from 'cbor-x';
import { type AeadAlgorithm, AeadAlgorithms, hkdf, type HkdfHash } from './algorithms';
import { RecipientReplay } from './replay';
import { SenderSequence } from './sequence';

/** One CBOR encoder for OSCORE's structures: byte strings as bstr (never tagged), no records. */
export const cbor = new Encoder({ useRecords: false, tagUint8Array: false, variableMapSize: true });

/** The preestablished input parameters (section 3.2). */
export interface ContextInput {
  masterSecret: Buffer;
  /** Default: the empty byte string. */
  masterSalt?: Buffer;
  /** Default: none (nil in the HKDF info). */
  idContext?: Buffer;
  senderId: Buffer;
  recipientId: Buffer;
  /** Default: AES-CCM-16-64-128. */
  aead?: AeadAlgorithm;
  /** Default: HKDF SHA-256. */
  hkdf?: HkdfHash;
}

/** Section 3.2.1: info = [ id, id_context / nil, alg_aead, type, L ]. */
export function hkdfInfo(
  id: Buffer,
  idContext: Buffer | undefined,
  algId: number,
  type: 'Key' | 'IV' | 'SEKey',
  length: number,
): Buffer {
  return Buffer.from(cbor.encode([id, idContext ?? null, algId, type, length]));
}

export interface DerivedKeys {
  senderKey: Buffer;
  recipientKey: Buffer;
  commonIv: Buffer;
}

/** Section 3.2.1: Sender Key, Recipient Key and Common IV from the input parameters. */
export function deriveKeys(input: ContextInput): DerivedKeys {
  const alg = input.aead ?? AeadAlgorithms.AES_CCM_16_64_128;
  const hash = input.hkdf ?? 'sha256';
  const salt = input.masterSalt ?? Buffer.alloc(0);
  const derive = (id: Buffer, type: 'Key' | 'IV', length: number): Buffer =>
    hkdf(hash, salt, input.masterSecret, hkdfInfo(id, input.idContext, alg.id, type, length), length);
  return {
    senderKey: derive(input.senderId, 'Key', alg.keyLength),
    recipientKey: derive(input.recipientId, 'Key', alg.keyLength),
    commonIv: derive(Buffer.alloc(0), 'IV', alg.nonceLength),
  };
}

/** Section 5: Partial IV = the sequence number in the fewest bytes, 0 as 0x00. */
export function encodePartialIv(seq: number): Buffer {
  if (seq === 0) return Buffer.from([0]);
  let n = 0;
  for (let v = seq; v > 0; v = Math.floor(v / 256)) n++;
  const out = Buffer.allocUnsafe(n);
  out.writeUIntBE(seq, 0, n);
  return out;
}

/** The sequence number a Partial IV of 1..5 bytes carries. */
export function partialIvNumber(piv: Buffer): number {
  return piv.readUIntBE(0, piv.length);
}

/** Section 5.2: S | padded ID_PIV | padded PIV, XORed with the Common IV. */
export function aeadNonce(commonIv: Buffer, idPiv: Buffer, piv: Buffer): Buffer {
  const n = commonIv.length;
  const out = Buffer.alloc(n);
  out[0] = idPiv.length;
  idPiv.copy(out, n - 5 - idPiv.length);
  piv.copy(out, n - piv.length);
  for (let i = 0; i < n; i++) out[i] ^= commonIv[i];
  return out;
}

export interface SecurityContextOptions {
  /** Default: an unleased sequence from 0 (section 3.2.2); see leasedSequence for persistence. */
  sequence?: SenderSequence;
  /** Default: a fresh window; RecipientReplay.unknown() after a restart that lost it. */
  replay?: RecipientReplay;
}

/**
 * An OSCORE security context (section 3.1). The keys never leave it except through protect/verify; it
 * holds key material: keep it out of logs.
 */
export class SecurityContext {
  readonly aead: AeadAlgorithm;
  readonly hkdf: HkdfHash;
  readonly idContext: Buffer | undefined;
  readonly commonIv: Buffer;
  readonly senderId: Buffer;
  readonly senderKey: Buffer;
  readonly recipientId: Buffer;
  readonly recipientKey: Buffer;
  readonly sequence: SenderSequence;
  readonly replay: RecipientReplay;
  /** The input parameters, for the re-derivations of Appendix B.2. */
  readonly input: Readonly<ContextInput>;

  constructor(input: ContextInput, opts: SecurityContextOptions = {}) {
    const aead = input.aead ?? AeadAlgorithms.AES_CCM_16_64_128;
    // Section 3.3: an ID longer than the nonce minus 6 bytes does not fit the nonce (5.2).
    const maxId = aead.nonceLength - 6;
    if (input.senderId.length > maxId || input.recipientId.length > maxId)
      throw new RangeError(`OSCORE Sender and Recipient IDs are at most ${maxId} bytes with ${aead.name}`);
    // Appendix D.4: nonces are unique only when the two IDs differ.
    if (input.senderId.equals(input.recipientId))
      throw new RangeError('OSCORE Sender ID equals Recipient ID');
    if (input.masterSecret.length === 0) throw new RangeError('OSCORE Master Secret is empty');
    const keys = deriveKeys(input);
    this.aead = aead;
    this.hkdf = input.hkdf ?? 'sha256';
    this.idContext = input.idContext;
    this.commonIv = keys.commonIv;
    this.senderId = input.senderId;
    this.senderKey = keys.senderKey;
    this.recipientId = input.recipientId;
    this.recipientKey = keys.recipientKey;
    this.sequence = opts.sequence ?? new SenderSequence();
    this.replay = opts.replay ?? RecipientReplay.fresh();
    this.input = { ...input };
  }

  /** The peer's context: Sender and Recipient swapped (section 3.1, Figure 4), fresh mutable state. */
  mirrored(opts: SecurityContextOptions = {}): SecurityContext {
    return new SecurityContext(
      { ...this.input, senderId: this.input.recipientId, recipientId: this.input.senderId },
      opts,
    );
  }

  /** The same inputs with another ID Context (Appendix B.2), fresh mutable state. */
  withIdContext(idContext: Buffer, opts: SecurityContextOptions = {}): SecurityContext {
    return new SecurityContext({ ...this.input, idContext }, opts);
  }
}
