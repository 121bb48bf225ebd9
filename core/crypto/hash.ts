/**
 * SHA-256, the one hash of the protocol (certificate hashes, transcripts, HKDF, HMAC tags).
 *
 * @module
 */

import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/** Byte length of a SHA-256 digest. */
export const SHA256_LENGTH = 32;

/** SHA-256 digest of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}
