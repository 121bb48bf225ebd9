/**
 * The receiver's memory of senders: certificates already verified (by hash) and recently seen
 * envelope nonces.
 *
 * ML-DSA-65 verification costs about 1–2 ms here, so a sender's certificate is verified once and
 * then found by its SHA-256; this also lets senders name their certificate by hash instead of
 * resending 5.3 KB with every message.
 *
 * @module
 */

import { constantTimeEqual } from "../crypto/compare.ts";
import { type CertificateFields, certificateHash, verifyCertificate } from "./certificate.ts";
import { NonceFilter } from "./nonce_filter.ts";
import { WireError } from "./errors.ts";

/** A certificate that passed verification. */
export interface CachedCertificate {
  /** SHA-256 of `signed`. */
  hash: Uint8Array;
  /** SignedCertificate bytes. */
  signed: Uint8Array;
  /** Verified fields. */
  fields: CertificateFields;
}

/** Options of {@link CertificateCache}. */
export interface CertificateCacheOptions {
  /** Most certificates held (least recently used go first; default 4,096). */
  maxEntries?: number;
  /** Most envelope nonces remembered (default 65,536). */
  maxNonces?: number;
}

interface Entry extends CachedCertificate {
  guardianPublicKey: Uint8Array;
}

/** Verified certificates by hash, with expiry and a bounded size, plus the nonce filter. */
export class CertificateCache {
  /** Nonces of accepted envelopes, used by openEnvelope for replay rejection. */
  readonly nonces: NonceFilter;
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();

  /** Creates an empty cache. */
  constructor(options: CertificateCacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 4096);
    this.nonces = new NonceFilter({ maxEntries: options.maxNonces });
  }

  /** Number of certificates held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The verified certificate named by `hash`, if held, issued by `guardianPublicKey` and not expired
   * at `now`; expired entries are dropped.
   */
  lookup(
    hash: Uint8Array,
    options: { guardianPublicKey: Uint8Array; now: number },
  ): CachedCertificate | undefined {
    const k = hex(hash);
    const entry = this.#entries.get(k);
    if (!entry) return undefined;
    if (options.now >= entry.fields.expiresAt) {
      this.#entries.delete(k);
      return undefined;
    }
    if (!sameKey(entry.guardianPublicKey, options.guardianPublicKey)) return undefined;
    // Refresh recency: Map iteration order is insertion order.
    this.#entries.delete(k);
    this.#entries.set(k, entry);
    return entry;
  }

  /**
   * Returns the cached verification of `signed`, or verifies it now (throws WireError) and caches
   * it. Each certificate costs one ML-DSA verification while it stays in the cache.
   */
  verify(
    signed: Uint8Array,
    options: { guardianPublicKey: Uint8Array; now: number },
  ): CachedCertificate {
    const hash = certificateHash(signed);
    const hit = this.lookup(hash, options);
    if (hit) return hit;
    const fields = verifyCertificate(signed, options.guardianPublicKey, options.now);
    const entry: Entry = {
      hash,
      signed: signed.slice(),
      fields,
      guardianPublicKey: options.guardianPublicKey,
    };
    while (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(hex(hash), entry);
    return entry;
  }

  /** Like lookup but throws WireError("unknown-certificate") when the hash is not held. */
  require(
    hash: Uint8Array,
    options: { guardianPublicKey: Uint8Array; now: number },
  ): CachedCertificate {
    const hit = this.lookup(hash, options);
    if (!hit) {
      throw new WireError("unknown-certificate", "sender certificate not known: resend it in full");
    }
    return hit;
  }

  /** Forgets the certificate named by `hash` (e.g. when its conflux was removed). */
  delete(hash: Uint8Array): boolean {
    return this.#entries.delete(hex(hash));
  }

  /** Forgets every certificate. */
  clear(): void {
    this.#entries.clear();
  }
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || constantTimeEqual(a, b);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}
