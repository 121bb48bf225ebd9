/**
 * AES-256-GCM packet protection.
 *
 * Nonce = 4-byte stream salt || 64-bit big-endian packet counter; the frame header is the
 * associated data. Implemented with node:crypto's synchronous cipher because, measured in Deno
 * 2.9.6 on our 2-core VMs for 1,400-byte packets, one seal+open costs ~39 µs with node:crypto
 * against ~127 µs sequential (~53 µs with 64 in flight) with WebCrypto, whose per-call promise
 * overhead dominates at packet sizes (see bench/crypto_bench.ts). The key object and nonce buffer
 * are made once per cipher; node:crypto still needs one cipher context per packet because GCM
 * contexts cannot be re-keyed with a new IV.
 *
 * The AES-GCM code sits behind {@link AesGcmEngine} so a faster one can be plugged in from
 * outside core/ without changing callers: ffi/aesgcm.ts (OpenSSL's libcrypto through FFI, ~1 µs
 * instead of ~20 µs per 1,400-byte packet here) is installed as the process default with
 * {@link setDefaultAesGcmEngine} by the runtime, so core/ itself does no FFI or I/O. Engines may
 * also seal/open a whole {@link AeadBatch} in one call ({@link PacketCipher.sealBatch}).
 *
 * Counter discipline: seal refuses a counter that is not greater than the last sealed one, so a
 * (key, nonce) pair can never be used twice; the receiver's ReplayWindow rejects repeats.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { CryptoError, expectLength } from "./errors.ts";
import type { StreamKeys } from "./kdf.ts";

/** Byte length of the GCM authentication tag appended to every sealed packet. */
export const TAG_LENGTH = 16;
/** Largest counter value; a stream must rekey before reaching it. */
export const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** One AES-256-GCM key's encrypt/decrypt operations, synchronous. */
export interface AesGcmEngine {
  /** Writes ciphertext || 16-byte tag of `plaintext` into `out` at `offset`. */
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
  /** Plaintext of ciphertext || tag, or null if authentication fails; must not throw. */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  /** Optional: decrypts into `out` at `offset`; plaintext length, or −1 on failure; no throw. */
  openInto?(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    target: { out: Uint8Array; offset: number },
  ): number;
  /** Optional: seals a batch in place in one call (bounds already checked by PacketCipher). */
  sealBatch?(salt: Uint8Array, batch: AeadBatch): void;
  /** Optional: opens a batch in place in one call; returns how many authenticated. */
  openBatch?(salt: Uint8Array, batch: AeadBatch): number;
  /** Optional: frees native state now instead of at garbage collection. */
  dispose?(): void;
}

/**
 * Packets laid out in one buffer for sealing or opening in place with one engine call.
 * Packet i starts at `offsets[i]`: `aadLength` bytes of associated data, then `lengths[i]` bytes
 * of data (plaintext to seal, or ciphertext || tag to open), then (seal) 16 bytes of room for the
 * tag. A strided layout is `offsets[i] = i * stride`; a frame is its header (AAD) + payload.
 */
export interface AeadBatch {
  /** All packet bytes. */
  buffer: Uint8Array;
  /** Start of each packet's AAD in `buffer`. */
  offsets: Int32Array;
  /**
   * Data length of each packet; rewritten in place: sealed length (+16) after a seal, plaintext
   * length or −1 (authentication failed, bytes zeroed) after an open.
   */
  lengths: Int32Array;
  /** AAD bytes at the start of every packet (e.g. FRAME_HEADER_LENGTH). */
  aadLength: number;
  /** Number of packets (the first `count` entries are used). */
  count: number;
  /** 8 bytes per packet: its big-endian counter, the nonce's low 8 bytes. */
  counters: Uint8Array;
}

/** Makes an engine for a 32-byte key. */
export type AesGcmEngineFactory = (key: Uint8Array) => AesGcmEngine;

/** The default engine: node:crypto, with the key object made once. */
export const nodeAesGcm: AesGcmEngineFactory = (key: Uint8Array): AesGcmEngine => {
  const keyObject: KeyObject = createSecretKey(key);
  return {
    seal(nonce, aad, plaintext, out, offset) {
      const cipher = createCipheriv("aes-256-gcm", keyObject, nonce);
      cipher.setAAD(aad);
      const body = cipher.update(plaintext);
      cipher.final();
      out.set(body, offset);
      out.set(cipher.getAuthTag(), offset + body.length);
    },
    open(nonce, aad, sealed) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", keyObject, nonce);
        decipher.setAAD(aad);
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
        const body = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
        decipher.final();
        return new Uint8Array(body.buffer, body.byteOffset, body.length);
      } catch {
        return null;
      }
    },
  };
};

let defaultEngine: AesGcmEngineFactory = nodeAesGcm;

/**
 * Sets the engine {@link PacketCipher.create} uses when none is given (null restores
 * {@link nodeAesGcm}); returns the previous one. The runtime calls it once at start-up with the
 * OpenSSL engine (ffi/aesgcm.ts `useOpensslAesGcmByDefault`). Ciphers already made keep theirs.
 */
export function setDefaultAesGcmEngine(
  factory: AesGcmEngineFactory | null,
): AesGcmEngineFactory {
  const previous = defaultEngine;
  defaultEngine = factory ?? nodeAesGcm;
  return previous;
}

/** The engine {@link PacketCipher.create} uses by default. */
export function defaultAesGcmEngine(): AesGcmEngineFactory {
  return defaultEngine;
}

/** Options of {@link PacketCipher.create}. */
export interface PacketCipherOptions {
  /** AES-GCM implementation (default: {@link defaultAesGcmEngine}, initially node:crypto). */
  engine?: AesGcmEngineFactory;
}

/** Throws CryptoError unless every packet of `batch` lies inside its buffer. */
function checkBatch(batch: AeadBatch, minLength: number, room: number): void {
  const { buffer, offsets, lengths, counters, aadLength, count } = batch;
  if (
    !(buffer instanceof Uint8Array) || !(offsets instanceof Int32Array) ||
    !(lengths instanceof Int32Array) || !(counters instanceof Uint8Array) ||
    !Number.isInteger(count) || count < 0 || !Number.isInteger(aadLength) || aadLength < 0
  ) {
    throw new CryptoError("input", "AEAD batch: bad buffers, count or AAD length");
  }
  if (offsets.length < count || lengths.length < count || counters.length < 8 * count) {
    throw new CryptoError("length", "AEAD batch: offsets, lengths or counters shorter than count");
  }
  for (let i = 0; i < count; i++) {
    const start = offsets[i];
    const len = lengths[i];
    if (start < 0 || len < minLength || start + aadLength + len + room > buffer.length) {
      throw new CryptoError("length", `AEAD batch: packet ${i} does not fit the buffer`);
    }
  }
}

/** Seals and opens packets of one stream direction and epoch. */
export class PacketCipher {
  readonly #engine: AesGcmEngine;
  readonly #salt: Uint8Array;
  readonly #nonce = new Uint8Array(12);
  readonly #nonceView: DataView;
  #lastSealed = -1n;

  private constructor(keys: StreamKeys, engine: AesGcmEngineFactory) {
    expectLength("AES-256-GCM key", keys.key, 32);
    expectLength("nonce salt", keys.salt, 4);
    this.#engine = engine(keys.key);
    this.#salt = keys.salt.slice();
    this.#nonce.set(keys.salt, 0);
    this.#nonceView = new DataView(this.#nonce.buffer);
  }

  /** Creates a cipher for `keys` (32-byte key, 4-byte salt); throws CryptoError on bad lengths. */
  static create(keys: StreamKeys, options: PacketCipherOptions = {}): PacketCipher {
    return new PacketCipher(keys, options.engine ?? defaultEngine);
  }

  /** The last counter sealed, or −1n before the first seal. */
  get lastSealedCounter(): bigint {
    return this.#lastSealed;
  }

  /**
   * Encrypts `plaintext` under `counter` with `aad` authenticated; returns ciphertext || tag.
   * Throws CryptoError("range") if `counter` is out of range or not above the last sealed one.
   */
  seal(counter: bigint, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + TAG_LENGTH);
    this.sealInto(counter, aad, plaintext, { out, offset: 0 });
    return out;
  }

  /**
   * Like seal, but writes ciphertext || tag into `out` at `offset` (so a caller can place it right
   * after a frame header) and returns the number of bytes written.
   */
  sealInto(
    counter: bigint,
    aad: Uint8Array,
    plaintext: Uint8Array,
    target: { out: Uint8Array; offset: number },
  ): number {
    if (typeof counter !== "bigint" || counter <= this.#lastSealed || counter > MAX_COUNTER) {
      throw new CryptoError("range", "packet counter must increase and stay below 2^64");
    }
    const need = plaintext.length + TAG_LENGTH;
    if (target.offset < 0 || target.offset + need > target.out.length) {
      throw new CryptoError("length", "output buffer too small");
    }
    this.#lastSealed = counter;
    this.#nonceView.setBigUint64(4, counter);
    this.#engine.seal(this.#nonce, aad, plaintext, target.out, target.offset);
    return need;
  }

  /**
   * Decrypts ciphertext || tag sealed under `counter` and `aad`. Returns the plaintext, or null
   * if authentication fails or the input is malformed; never throws.
   */
  open(counter: bigint, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    if (
      typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER ||
      !(sealed instanceof Uint8Array) || sealed.length < TAG_LENGTH ||
      !(aad instanceof Uint8Array)
    ) {
      return null;
    }
    this.#nonceView.setBigUint64(4, counter);
    try {
      return this.#engine.open(this.#nonce, aad, sealed);
    } catch {
      return null;
    }
  }

  /**
   * Like open, but writes the plaintext into `target.out` at `target.offset` (e.g. straight into
   * a TUN write slot) and returns its length; −1 if authentication fails, the input is malformed
   * or the plaintext does not fit. Never throws.
   */
  openInto(
    counter: bigint,
    aad: Uint8Array,
    sealed: Uint8Array,
    target: { out: Uint8Array; offset: number },
  ): number {
    if (
      typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER ||
      !(sealed instanceof Uint8Array) || sealed.length < TAG_LENGTH ||
      !(aad instanceof Uint8Array) || !(target?.out instanceof Uint8Array) ||
      !Number.isInteger(target.offset) || target.offset < 0 ||
      target.offset + sealed.length - TAG_LENGTH > target.out.length
    ) {
      return -1;
    }
    this.#nonceView.setBigUint64(4, counter);
    try {
      if (this.#engine.openInto) return this.#engine.openInto(this.#nonce, aad, sealed, target);
      const plain = this.#engine.open(this.#nonce, aad, sealed);
      if (plain === null) return -1;
      target.out.set(plain, target.offset);
      return plain.length;
    } catch {
      return -1;
    }
  }

  /**
   * Seals `batch.count` packets in place under counters `first`, `first + 1`, … (written into
   * `batch.counters`); `batch.lengths[i]` becomes the sealed length. One engine call when the
   * engine supports batches. Throws CryptoError ("range": counters not above the last sealed or
   * past 2^64 − 1; "length"/"input": a packet outside the buffer) before sealing anything.
   */
  sealBatch(first: bigint, batch: AeadBatch): void {
    checkBatch(batch, 0, TAG_LENGTH);
    if (
      typeof first !== "bigint" || first <= this.#lastSealed ||
      first + BigInt(Math.max(batch.count - 1, 0)) > MAX_COUNTER
    ) {
      throw new CryptoError("range", "packet counter must increase and stay below 2^64");
    }
    if (batch.count === 0) return;
    const counters = new DataView(
      batch.counters.buffer,
      batch.counters.byteOffset,
      8 * batch.count,
    );
    for (let i = 0; i < batch.count; i++) counters.setBigUint64(8 * i, first + BigInt(i));
    this.#lastSealed = first + BigInt(batch.count - 1);
    if (this.#engine.sealBatch) {
      this.#engine.sealBatch(this.#salt, batch);
      return;
    }
    const { buffer, offsets, lengths, aadLength } = batch;
    for (let i = 0; i < batch.count; i++) {
      const start = offsets[i];
      const data = start + aadLength;
      this.#nonceView.setBigUint64(4, counters.getBigUint64(8 * i));
      this.#engine.seal(
        this.#nonce,
        buffer.subarray(start, data),
        buffer.subarray(data, data + lengths[i]),
        buffer,
        data,
      );
      lengths[i] += TAG_LENGTH;
    }
  }

  /**
   * Opens `batch.count` packets in place, each under its counter in `batch.counters`;
   * `batch.lengths[i]` becomes the plaintext length, or −1 when authentication failed. Returns
   * how many opened. Throws CryptoError only when a packet lies outside the buffer or is shorter
   * than the tag (then nothing is touched).
   */
  openBatch(batch: AeadBatch): number {
    checkBatch(batch, TAG_LENGTH, 0);
    if (batch.count === 0) return 0;
    if (this.#engine.openBatch) return this.#engine.openBatch(this.#salt, batch);
    const { buffer, offsets, lengths, aadLength } = batch;
    const counters = new DataView(batch.counters.buffer, batch.counters.byteOffset);
    let opened = 0;
    for (let i = 0; i < batch.count; i++) {
      const start = offsets[i];
      const data = start + aadLength;
      this.#nonceView.setBigUint64(4, counters.getBigUint64(8 * i));
      let plain: Uint8Array | null = null;
      try {
        plain = this.#engine.open(
          this.#nonce,
          buffer.subarray(start, data),
          buffer.subarray(data, data + lengths[i]),
        );
      } catch {
        plain = null;
      }
      if (plain === null) {
        buffer.fill(0, data, data + lengths[i]);
        lengths[i] = -1;
      } else {
        buffer.set(plain, data);
        lengths[i] = plain.length;
        opened++;
      }
    }
    return opened;
  }

  /** Frees the engine's native state now (e.g. the OpenSSL key schedule); later calls fail. */
  dispose(): void {
    this.#engine.dispose?.();
  }
}
