/**
 * HKDF-SHA-256 (RFC 5869) and the stream key schedule.
 *
 * Stream keys for epoch e:
 *   PRK  = HKDF-Extract(salt = transcript hash, IKM = KEM shared secret)
 *   OKM  = HKDF-Expand(PRK, info = "veilnet/v1/stream-keys" || uint32be(e), 36)
 *   key  = OKM[0..32]   (AES-256-GCM key)
 *   salt = OKM[32..36]  (first 4 bytes of every nonce)
 * Rekeying moves to epoch e+1 and restarts the packet counter at 0; the (key, salt) pair differs
 * per epoch, so a (key, nonce) pair never repeats.
 *
 * @module
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoError, expectLength } from "./errors.ts";

/** AES-256-GCM key and nonce salt of one stream direction and epoch. */
export interface StreamKeys {
  /** 32-byte AES-256-GCM key. */
  key: Uint8Array;
  /** 4-byte nonce salt. */
  salt: Uint8Array;
}

/** Label that separates stream keys from any other use of the shared secret. */
export const STREAM_KEYS_INFO = "veilnet/v1/stream-keys";
const INFO_PREFIX = new TextEncoder().encode(STREAM_KEYS_INFO);

/** HKDF-SHA-256 (RFC 5869): `length` bytes (at most 8,160) from `ikm`, `salt` and `info`. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new CryptoError("range", `HKDF length ${length} out of range`);
  }
  for (const [what, value] of [["ikm", ikm], ["salt", salt], ["info", info]] as const) {
    if (!(value instanceof Uint8Array)) {
      throw new CryptoError("input", `HKDF ${what}: expected bytes`);
    }
  }
  return hkdf(sha256, ikm, salt, info, length);
}

/** Derives the stream key and nonce salt for `epoch` (0 … 2^32−1) from the handshake result. */
export function deriveStreamKeys(
  sharedSecret: Uint8Array,
  transcriptHash: Uint8Array,
  epoch: number,
): StreamKeys {
  expectLength("shared secret", sharedSecret, 32);
  expectLength("transcript hash", transcriptHash, 32);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) {
    throw new CryptoError("range", `epoch ${epoch} out of range`);
  }
  const info = new Uint8Array(INFO_PREFIX.length + 4);
  info.set(INFO_PREFIX);
  new DataView(info.buffer).setUint32(INFO_PREFIX.length, epoch);
  const okm = hkdfSha256(sharedSecret, transcriptHash, info, 36);
  return { key: okm.slice(0, 32), salt: okm.slice(32, 36) };
}
