// RFC 8613 section 5.4: external_aad = bstr .cbor [ oscore_version, [alg_aead], request_kid, request_piv,
// options ], and AAD = Enc_structure = [ "Encrypt0", h'', external_aad ] (RFC 9052 section 5.3).
import { cbor } from './context';

const EMPTY = Buffer.alloc(0);
/** Section 5.4: implementations of RFC 8613 set oscore_version to 1. */
const OSCORE_VERSION = 1;

/** The aad_array; its encoding is the external_aad (which the Enc_structure wraps in a bstr). */
export function aadArray(
  algId: number,
  requestKid: Buffer,
  requestPiv: Buffer,
  classI: Buffer = EMPTY,
): Buffer {
  return Buffer.from(cbor.encode([OSCORE_VERSION, [algId], requestKid, requestPiv, classI]));
}

/** The Enc_structure over an external_aad (any: OSCORE's aad_array, or Group OSCORE's). */
export function encStructure(externalAad: Buffer): Buffer {
  return Buffer.from(cbor.encode(['Encrypt0', EMPTY, externalAad]));
}
