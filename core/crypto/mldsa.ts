/**
 * ML-DSA-65 (FIPS 204) signatures with one context string per message kind.
 *
 * The FIPS 204 context string separates domains: a signature made for an envelope can never be
 * replayed as a certificate signature, because the context is part of the signed message M'.
 * Signing is deterministic unless the caller passes 32 bytes of randomness (hedged mode); the
 * module itself draws no randomness, so tests are reproducible.
 *
 * @module
 */

import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { CryptoError, expectLength } from "./errors.ts";

/** The message kinds that may be signed; each is a distinct FIPS 204 context string. */
export type SignContext =
  | "veilnet/v1/certificate"
  | "veilnet/v1/envelope"
  | "veilnet/v1/team-keys"
  | "veilnet/v1/signal";

/** An ML-DSA-65 key pair. */
export interface SigningKeyPair {
  /** 1,952-byte public key. */
  publicKey: Uint8Array;
  /** 4,032-byte secret key. */
  secretKey: Uint8Array;
}

/** Byte length of an ML-DSA-65 public key. */
export const MLDSA_PUBLIC_KEY_LENGTH = 1952;
/** Byte length of an ML-DSA-65 secret key. */
export const MLDSA_SECRET_KEY_LENGTH = 4032;
/** Byte length of an ML-DSA-65 signature. */
export const MLDSA_SIGNATURE_LENGTH = 3309;
/** Byte length of the key-generation seed (xi in FIPS 204). */
export const MLDSA_SEED_LENGTH = 32;

const encoder = new TextEncoder();
const CONTEXTS: Record<SignContext, Uint8Array> = {
  "veilnet/v1/certificate": encoder.encode("veilnet/v1/certificate"),
  "veilnet/v1/envelope": encoder.encode("veilnet/v1/envelope"),
  "veilnet/v1/team-keys": encoder.encode("veilnet/v1/team-keys"),
  "veilnet/v1/signal": encoder.encode("veilnet/v1/signal"),
};

function contextBytes(context: SignContext): Uint8Array {
  const bytes = CONTEXTS[context];
  if (!bytes) throw new CryptoError("input", `unknown signing context ${String(context)}`);
  return bytes;
}

/** Derives an ML-DSA-65 key pair from a 32-byte random seed (FIPS 204 ML-DSA.KeyGen_internal). */
export function generateSigningKeyPair(seed: Uint8Array): SigningKeyPair {
  expectLength("ML-DSA seed", seed, MLDSA_SEED_LENGTH);
  const { publicKey, secretKey } = ml_dsa65.keygen(seed);
  return { publicKey, secretKey };
}

/**
 * Signs `message` under `context`. With `random` (32 bytes) the signature is hedged; without it
 * it is deterministic. Throws CryptoError on a malformed key or randomness.
 */
export function sign(
  secretKey: Uint8Array,
  context: SignContext,
  message: Uint8Array,
  random?: Uint8Array,
): Uint8Array {
  expectLength("ML-DSA secret key", secretKey, MLDSA_SECRET_KEY_LENGTH);
  if (random !== undefined) expectLength("ML-DSA signing randomness", random, 32);
  if (!(message instanceof Uint8Array)) throw new CryptoError("input", "message: expected bytes");
  return ml_dsa65.sign(message, secretKey, {
    context: contextBytes(context),
    extraEntropy: random ?? false,
  });
}

/** True when `signature` is a valid ML-DSA-65 signature of `message` under `context`; never throws. */
export function verify(
  publicKey: Uint8Array,
  context: SignContext,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    if (
      !(publicKey instanceof Uint8Array) || publicKey.length !== MLDSA_PUBLIC_KEY_LENGTH ||
      !(signature instanceof Uint8Array) || signature.length !== MLDSA_SIGNATURE_LENGTH ||
      !(message instanceof Uint8Array)
    ) {
      return false;
    }
    const ctx = CONTEXTS[context];
    if (!ctx) return false;
    return ml_dsa65.verify(signature, message, publicKey, { context: ctx });
  } catch {
    return false;
  }
}
