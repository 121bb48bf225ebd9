/**
 * AES-256-GCM through OpenSSL's libcrypto (ffi/aesgcm.c) as an {@link AesGcmEngineFactory} for
 * core/crypto/aead.ts, with batch calls that seal or open a whole {@link AeadBatch} in one FFI
 * call.
 *
 * Why: node:crypto and WebCrypto in Deno cost 20–40 µs per 1,400-byte seal+open here, libcrypto
 * about 1 µs (see bench/aead_bench.ts). The library is found or built like the TUN shim
 * (ffi/shim.ts, env `VEILNET_AESGCM_LIBRARY`, cache keyed by the source hash) and needs
 * libcrypto at run time (Debian libssl3) and its headers to build (libssl-dev).
 *
 * Use: `await useOpensslAesGcmByDefault()` once at start-up; it makes every later
 * `PacketCipher.create` use OpenSSL, or leaves node:crypto in place and says why (no compiler,
 * no libcrypto, Windows, or `VEILNET_AESGCM=node`). Or `await loadOpensslAesGcm()` (throws
 * {@link AesGcmError}) / `tryLoadOpensslAesGcm()` (null) and pass `{ engine: opensslAesGcm }`.
 *
 * The library stays loaded for the life of the isolate (a symbol called after dlclose would
 * crash); each key's native context is freed by `dispose()` or, failing that, by a
 * FinalizationRegistry when its engine is collected.
 *
 * @module
 */

import {
  type AeadBatch,
  type AesGcmEngine,
  type AesGcmEngineFactory,
  setDefaultAesGcmEngine,
  TAG_LENGTH,
} from "../core/crypto/aead.ts";
import { CryptoError } from "../core/crypto/errors.ts";
import {
  currentOs,
  locateLibrary,
  type LocateOptions,
  type NativeLibrarySpec,
  openLibrary,
  type ShimLocation,
  type ShimOs,
} from "./shim.ts";

/** The ABI version expected from `vn_aesgcm_abi_version()` (VN_AESGCM_ABI in aesgcm.c). */
export const AESGCM_ABI = 1;

/** Why the OpenSSL engine is not usable: `unavailable` (cannot load) or `closed` (disposed). */
export type AesGcmErrorCode = "unavailable" | "closed" | "crypto";

/** An error of the OpenSSL AES-GCM binding; never carries key material. */
export class AesGcmError extends Error {
  /** `unavailable`: library missing/unbuildable/unloadable; `closed`: engine disposed;
   * `crypto`: libcrypto refused to seal. */
  readonly code: AesGcmErrorCode;

  /** Creates an error with `code` and a human-readable `message`. */
  constructor(code: AesGcmErrorCode, message: string) {
    super(message);
    this.name = "AesGcmError";
    this.code = code;
  }
}

function aesgcmFlags(os: ShimOs): string[] {
  const common = ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"];
  return os === "windows" ? [] : [...common, "-lcrypto"];
}

/** ffi/aesgcm.c as a library for ffi/shim.ts's loader (`libaesgcm.so`). */
export const AESGCM_LIBRARY: NativeLibrarySpec = {
  name: "aesgcm",
  title: "OpenSSL AES-GCM library",
  envVar: "VEILNET_AESGCM_LIBRARY",
  sources: () => ["aesgcm.c"],
  flags: aesgcmFlags,
  hashPrefix: `abi=${AESGCM_ABI}`,
  buildHint: "Debian: apt-get install gcc libc6-dev libssl-dev",
  error: (message) => new AesGcmError("unavailable", message),
};

const SYMBOLS = {
  vn_aesgcm_abi_version: { parameters: [], result: "i32" },
  vn_aesgcm_openssl_version: { parameters: [], result: "i32" },
  vn_aesgcm_new: { parameters: ["buffer", "i32"], result: "pointer" },
  vn_aesgcm_free: { parameters: ["pointer"], result: "void" },
  vn_aesgcm_seal: {
    parameters: ["pointer", "buffer", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  vn_aesgcm_open: {
    parameters: ["pointer", "buffer", "buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  vn_aesgcm_seal_batch: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "buffer", "i32", "buffer", "buffer"],
    result: "i32",
  },
  vn_aesgcm_open_batch: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "buffer", "i32", "buffer", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** What was loaded. */
export interface OpensslAesGcmInfo {
  /** Where the library came from (see ffi/shim.ts). */
  location: ShimLocation;
  /** OPENSSL_VERSION_NUMBER of the libcrypto in use, e.g. 0x30000130 for 3.0.19. */
  opensslVersion: number;
}

let symbols: Symbols | null = null;
let info: OpensslAesGcmInfo | null = null;
let loading: Promise<OpensslAesGcmInfo> | null = null;
let registry: FinalizationRegistry<Deno.PointerObject> | null = null;

const NOT_LOADED = "OpenSSL AES-GCM engine used before loadOpensslAesGcm() succeeded";

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Bytes as the FFI layer wants them (Deno types `buffer` parameters as BufferSource). */
function b(bytes: Uint8Array | Int32Array): BufferSource {
  return bytes as unknown as BufferSource;
}

/**
 * Finds, builds if needed, and loads the library (once per isolate); resolves with what was
 * loaded. Throws AesGcmError `unavailable` with the reason (no compiler or headers, no
 * libcrypto, wrong ABI, Windows, or disabled by env `VEILNET_AESGCM=node`).
 */
export function loadOpensslAesGcm(options: LocateOptions = {}): Promise<OpensslAesGcmInfo> {
  if (info) return Promise.resolve(info);
  loading ??= (async () => {
    if (envVar("VEILNET_AESGCM") === "node") {
      throw new AesGcmError("unavailable", "OpenSSL AES-GCM disabled by VEILNET_AESGCM=node");
    }
    let os: ShimOs;
    try {
      os = currentOs();
    } catch (e) {
      throw new AesGcmError("unavailable", (e as Error).message);
    }
    if (os === "windows" && !options.library && !envVar(AESGCM_LIBRARY.envVar)) {
      throw new AesGcmError("unavailable", "no OpenSSL AES-GCM library for Windows builds");
    }
    const location = await locateLibrary(AESGCM_LIBRARY, options);
    const lib = openLibrary(AESGCM_LIBRARY, location.path, SYMBOLS);
    const abi = lib.symbols.vn_aesgcm_abi_version();
    if (abi !== AESGCM_ABI) {
      lib.close();
      throw new AesGcmError(
        "unavailable",
        `${location.path} has ABI ${abi}, expected ${AESGCM_ABI}`,
      );
    }
    const s = lib.symbols;
    symbols = s;
    registry = new FinalizationRegistry((ptr) => s.vn_aesgcm_free(ptr));
    info = { location, opensslVersion: s.vn_aesgcm_openssl_version() >>> 0 };
    return info;
  })();
  return loading.finally(() => {
    loading = null;
  });
}

/** Like {@link loadOpensslAesGcm} but resolves with null (and `onUnavailable(reason)`) instead
 * of throwing, so callers fall back to node:crypto. */
export async function tryLoadOpensslAesGcm(
  options: LocateOptions & { onUnavailable?: (reason: string) => void } = {},
): Promise<AesGcmEngineFactory | null> {
  try {
    await loadOpensslAesGcm(options);
    return opensslAesGcm;
  } catch (e) {
    options.onUnavailable?.((e as Error).message);
    return null;
  }
}

/**
 * Loads the library and makes OpenSSL the default engine of `PacketCipher.create`. Resolves
 * with the engine in use and, for node:crypto, why OpenSSL is not; never throws.
 */
export async function useOpensslAesGcmByDefault(
  options: LocateOptions = {},
): Promise<{ engine: "openssl" | "node"; reason?: string }> {
  let reason = "";
  const factory = await tryLoadOpensslAesGcm({ ...options, onUnavailable: (r) => reason = r });
  if (!factory) return { engine: "node", reason };
  setDefaultAesGcmEngine(factory);
  return { engine: "openssl" };
}

/** True once the library is loaded in this isolate (then {@link opensslAesGcm} works). */
export function opensslAesGcmLoaded(): boolean {
  return symbols !== null;
}

/** One key's OpenSSL contexts. */
class OpensslAesGcmEngine implements AesGcmEngine {
  #s: Symbols;
  #ptr: Deno.PointerObject | null;

  constructor(s: Symbols, key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new CryptoError("length", "AES-256-GCM key: expected 32 bytes");
    }
    const ptr = s.vn_aesgcm_new(b(key), key.length);
    if (ptr === null) throw new AesGcmError("crypto", "libcrypto could not set up AES-256-GCM");
    this.#s = s;
    this.#ptr = ptr;
    registry!.register(this, ptr, this);
  }

  #live(): Deno.PointerObject {
    if (this.#ptr === null) throw new AesGcmError("closed", "AES-GCM engine was disposed");
    return this.#ptr;
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number) {
    const ptr = this.#live();
    if (nonce.length !== 12) throw new CryptoError("length", "AES-GCM nonce: expected 12 bytes");
    if (offset < 0 || offset + plaintext.length + TAG_LENGTH > out.length) {
      throw new CryptoError("length", "output buffer too small");
    }
    const target = offset === 0 ? out : out.subarray(offset);
    const rc = this.#s.vn_aesgcm_seal(
      ptr,
      b(nonce),
      b(aad),
      aad.length,
      b(plaintext),
      plaintext.length,
      b(target),
    );
    if (rc < 0) throw new AesGcmError("crypto", `libcrypto refused to seal (${rc})`);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < TAG_LENGTH) return null;
    const out = new Uint8Array(sealed.length - TAG_LENGTH);
    return this.openInto(nonce, aad, sealed, { out, offset: 0 }) === out.length ? out : null;
  }

  openInto(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    target: { out: Uint8Array; offset: number },
  ): number {
    const { out, offset } = target;
    if (
      this.#ptr === null || nonce.length !== 12 || sealed.length < TAG_LENGTH || offset < 0 ||
      offset + sealed.length - TAG_LENGTH > out.length
    ) {
      return -1;
    }
    const rc = this.#s.vn_aesgcm_open(
      this.#ptr,
      b(nonce),
      b(aad),
      aad.length,
      b(sealed),
      sealed.length,
      b(offset === 0 ? out : out.subarray(offset)),
    );
    return rc >= 0 ? rc : -1;
  }

  #batch(salt: Uint8Array, batch: AeadBatch, open: boolean): number {
    const ptr = this.#live();
    const { buffer, offsets, lengths, counters, count, aadLength } = batch;
    // The C side checks every packet against the buffer, but cannot see these arrays' sizes.
    if (
      salt.length !== 4 || !Number.isInteger(count) || count < 0 || offsets.length < count ||
      lengths.length < count || counters.length < 8 * count || buffer.length > 0x7fff_ffff
    ) {
      throw new CryptoError("length", "AEAD batch: salt, offsets, lengths or counters too short");
    }
    const call = open ? this.#s.vn_aesgcm_open_batch : this.#s.vn_aesgcm_seal_batch;
    const rc = call(
      ptr,
      b(salt),
      count,
      b(buffer),
      buffer.length,
      b(offsets),
      aadLength,
      b(lengths),
      b(counters),
    );
    if (rc === -22) throw new CryptoError("length", "AEAD batch: a packet lies outside the buffer");
    if (rc < 0) throw new AesGcmError("crypto", `libcrypto refused to seal a batch (${rc})`);
    return rc;
  }

  sealBatch(salt: Uint8Array, batch: AeadBatch): void {
    this.#batch(salt, batch, false);
  }

  openBatch(salt: Uint8Array, batch: AeadBatch): number {
    return this.#batch(salt, batch, true);
  }

  dispose(): void {
    if (this.#ptr === null) return;
    registry!.unregister(this);
    this.#s.vn_aesgcm_free(this.#ptr);
    this.#ptr = null;
  }
}

/**
 * The OpenSSL engine factory for `PacketCipher.create(keys, { engine: opensslAesGcm })`.
 * Throws AesGcmError `unavailable` unless {@link loadOpensslAesGcm} has succeeded in this
 * isolate, and CryptoError `length` for a key that is not 32 bytes. The engine it makes also
 * has `openInto`, `sealBatch`, `openBatch` and `dispose` (see AesGcmEngine).
 */
export const opensslAesGcm: AesGcmEngineFactory = (key: Uint8Array): AesGcmEngine => {
  if (!symbols) throw new AesGcmError("unavailable", NOT_LOADED);
  return new OpensslAesGcmEngine(symbols, key);
};
