/**
 * Key encapsulation: ML-KEM-768 (FIPS 203) and X-Wing, the hybrid X25519 + ML-KEM-768 KEM
 * (draft-connolly-cfrg-xwing-kem), both from @noble/post-quantum.
 *
 * Streams use X-Wing: its shared secret stays safe if either X25519 or ML-KEM-768 holds.
 * All randomness is passed in. Each KEM states its exact seed and randomness lengths; as a
 * convenience a 32-byte value is also accepted where a longer one is needed and is then expanded
 * with SHAKE-256 under a fixed label (known-answer tests always pass the exact length).
 *
 * @module
 */

import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ml_kem768_x25519 } from "@noble/post-quantum/hybrid.js";
import { shake256 } from "@noble/hashes/sha3.js";
import { CryptoError, expectLength } from "./errors.ts";

/** A key pair of a KEM. */
export interface KemKeyPair {
  /** Encapsulation key, `publicKeyLength` bytes. */
  publicKey: Uint8Array;
  /** Decapsulation key, `secretKeyLength` bytes. */
  secretKey: Uint8Array;
}

/** Result of encapsulating to a public key. */
export interface Encapsulation {
  /** Ciphertext for the key holder, `cipherTextLength` bytes. */
  cipherText: Uint8Array;
  /** 32-byte shared secret. */
  sharedSecret: Uint8Array;
}

/** A key encapsulation mechanism; every method throws CryptoError on a wrong input length. */
export interface Kem {
  /** Name used in logs and in the handshake transcript. */
  readonly name: "ML-KEM-768" | "X-Wing";
  /** Byte length of a public (encapsulation) key. */
  readonly publicKeyLength: number;
  /** Byte length of a secret (decapsulation) key. */
  readonly secretKeyLength: number;
  /** Byte length of a ciphertext. */
  readonly cipherTextLength: number;
  /** Byte length of the shared secret (32). */
  readonly sharedSecretLength: number;
  /** Exact key-generation seed length of the standard (a 32-byte seed is also accepted). */
  readonly seedLength: number;
  /** Exact encapsulation randomness length of the standard (32 bytes are also accepted). */
  readonly randomLength: number;
  /** Derives a key pair from random `seed`. */
  generateKeyPair(seed: Uint8Array): KemKeyPair;
  /** Encapsulates a fresh shared secret to `publicKey` using `random`. */
  encapsulate(publicKey: Uint8Array, random: Uint8Array): Encapsulation;
  /**
   * Recovers the shared secret. A tampered ciphertext does not throw: ML-KEM's implicit rejection
   * returns an unrelated secret, so the AEAD that uses it fails instead.
   */
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

interface NobleKem {
  lengths: { publicKey?: number; secretKey?: number; cipherText?: number; seed?: number };
  keygen(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array, msg?: Uint8Array): Encapsulation;
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();

function expand(label: string, input: Uint8Array, length: number): Uint8Array {
  const labelBytes = encoder.encode(label);
  const data = new Uint8Array(labelBytes.length + input.length);
  data.set(labelBytes);
  data.set(input, labelBytes.length);
  return shake256(data, { dkLen: length });
}

function fit(what: string, label: string, bytes: Uint8Array, length: number): Uint8Array {
  if (bytes instanceof Uint8Array && bytes.length === 32 && length !== 32) {
    return expand(label, bytes, length);
  }
  expectLength(what, bytes, length);
  return bytes;
}

function wrap(
  name: Kem["name"],
  noble: NobleKem,
  lengths: { seed: number; random: number },
): Kem {
  const publicKeyLength = noble.lengths.publicKey!;
  const secretKeyLength = noble.lengths.secretKey!;
  const cipherTextLength = noble.lengths.cipherText!;
  const seedLabel = `veilnet/v1/${name}/seed`;
  const randomLabel = `veilnet/v1/${name}/encaps`;
  return {
    name,
    publicKeyLength,
    secretKeyLength,
    cipherTextLength,
    sharedSecretLength: 32,
    seedLength: lengths.seed,
    randomLength: lengths.random,
    generateKeyPair(seed: Uint8Array): KemKeyPair {
      const full = fit(`${name} seed`, seedLabel, seed, lengths.seed);
      const { publicKey, secretKey } = noble.keygen(full);
      return { publicKey, secretKey };
    },
    encapsulate(publicKey: Uint8Array, random: Uint8Array): Encapsulation {
      expectLength(`${name} public key`, publicKey, publicKeyLength);
      const full = fit(`${name} randomness`, randomLabel, random, lengths.random);
      try {
        const { cipherText, sharedSecret } = noble.encapsulate(publicKey, full);
        return { cipherText, sharedSecret };
      } catch (error) {
        // FIPS 203 modulus check or an invalid X25519 point: the key is malformed.
        throw new CryptoError("input", `${name} public key rejected: ${(error as Error).message}`);
      }
    },
    decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
      expectLength(`${name} ciphertext`, cipherText, cipherTextLength);
      expectLength(`${name} secret key`, secretKey, secretKeyLength);
      try {
        return noble.decapsulate(cipherText, secretKey);
      } catch (error) {
        throw new CryptoError(
          "input",
          `${name} decapsulation rejected: ${(error as Error).message}`,
        );
      }
    },
  };
}

/** ML-KEM-768 (FIPS 203): seed = d || z (64 bytes), encapsulation randomness m (32 bytes). */
export const mlkem768: Kem = wrap("ML-KEM-768", ml_kem768 as unknown as NobleKem, {
  seed: 64,
  random: 32,
});

/** X-Wing (X25519 + ML-KEM-768): 32-byte seed, 64-byte encapsulation randomness. */
export const xwing: Kem = wrap("X-Wing", ml_kem768_x25519 as unknown as NobleKem, {
  seed: 32,
  random: 64,
});
