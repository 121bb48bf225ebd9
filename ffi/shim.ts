/**
 * Finds, builds and loads the C TUN shim. This is the only place in the project that calls
 * `Deno.dlopen`.
 *
 * Lookup order (first hit wins):
 * 1. an explicit path: the `library` option or env `VEILNET_TUN_LIBRARY`;
 * 2. next to the executable: `libtun.so` / `libtun.dylib` / `libtun.dll`;
 * 3. embedded in a `deno compile` binary (`--include dist/shim/libtun-<os>-<arch>.<ext>`,
 *    see build.ts): copied out to the cache under its content hash, because dlopen needs a
 *    real file (0700 cache folder rather than Deno's own copy in a possibly noexec $TMPDIR);
 * 4. the cache: `<cache>/libtun-<source hash>.<ext>`;
 * 5. built there with the system C compiler (`$CC`, else `cc`) when one exists;
 * 6. otherwise TunError `shim` saying how to get one.
 *
 * The cache folder is `$VEILNET_CACHE_DIR`, else `$XDG_CACHE_HOME/veilnet-conflux`, else
 * `~/.cache/veilnet-conflux` (`%LOCALAPPDATA%\veilnet-conflux` on Windows).
 *
 * @module
 */

import { TunError } from "./errors.ts";

/** The ABI version the binding expects from `vn_tun_abi_version()` (see libtun.h). */
export const SHIM_ABI = 1;

/** Operating systems with a shim implementation. */
export type ShimOs = "linux" | "darwin" | "windows";

/** The FFI symbol table. Only `vn_tun_read_wait` is nonblocking: it is the one that waits. */
export const SHIM_SYMBOLS = {
  vn_tun_abi_version: { parameters: [], result: "i32" },
  vn_tun_init: { parameters: ["buffer"], result: "i32" },
  vn_tun_open: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  vn_tun_offload: { parameters: ["i32", "i32"], result: "i32" },
  vn_tun_read_now: {
    name: "vn_tun_read_batch",
    parameters: ["i32", "i32", "buffer", "buffer", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  vn_tun_read_wait: {
    name: "vn_tun_read_batch",
    parameters: ["i32", "i32", "buffer", "buffer", "i32", "i32", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  vn_tun_write_batch: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  vn_tun_wake: { parameters: ["i32"], result: "i32" },
  vn_tun_close: { parameters: ["i32"], result: "i32" },
  vn_tun_set_mtu: { parameters: ["buffer", "i32"], result: "i32" },
  vn_tun_get_mtu: { parameters: ["buffer"], result: "i32" },
  vn_tun_set_up: { parameters: ["buffer", "i32"], result: "i32" },
  vn_tun_set_ipv4: { parameters: ["buffer", "buffer", "i32"], result: "i32" },
  vn_tun_addr: { parameters: ["buffer", "i32", "buffer", "i32", "i32"], result: "i32" },
  vn_tun_route: { parameters: ["buffer", "i32", "buffer", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded shim's callable symbols. */
export type ShimSymbols = Deno.DynamicLibrary<typeof SHIM_SYMBOLS>["symbols"];

/** Where a shim came from. */
export interface ShimLocation {
  path: string;
  origin: "explicit" | "beside-executable" | "embedded" | "cache" | "built";
}

/** Options for locating the shim. */
export interface LocateOptions {
  /** Use this file and nothing else. */
  library?: string;
  /** Cache folder instead of the default. */
  cacheDir?: string;
  /** Build from source when no library is found (default true). */
  build?: boolean;
}

/** The OS whose shim this process needs. */
export function currentOs(): ShimOs {
  const os = Deno.build.os;
  if (os === "linux" || os === "darwin" || os === "windows") return os;
  throw new TunError("unsupported", `no TUN shim for ${os}`);
}

/** File extension of a shared library on `os`. */
export function libraryExtension(os: ShimOs): string {
  return os === "windows" ? "dll" : os === "darwin" ? "dylib" : "so";
}

/** The C sources of the shim for `os`, relative to ffi/. */
export function shimSources(os: ShimOs): string[] {
  return ["libtun.h", `tun_${os}.c`];
}

/** Compiler flags for building the shim on `os` (part of the source hash). */
export function compileFlags(os: ShimOs): string[] {
  if (os === "windows") {
    return ["-O2", "-shared", "-Wall", "-Wextra", "-static-libgcc", "-liphlpapi", "-lws2_32"];
  }
  const common = ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"];
  return os === "linux" ? [...common, "-pthread"] : common;
}

/** Name under which build.ts stores (and `deno compile --include` embeds) a prebuilt shim. */
export function prebuiltName(os: ShimOs, arch: string): string {
  return `libtun-${os}-${arch}.${libraryExtension(os)}`;
}

/** URL of the prebuilt shim for this platform inside the project tree / compiled binary. */
export function prebuiltUrl(os: ShimOs = currentOs(), arch: string = Deno.build.arch): URL {
  return new URL(`../dist/shim/${prebuiltName(os, arch)}`, import.meta.url);
}

/** The cache folder (not created). */
export function cacheDir(): string {
  const env = envVar;
  const explicit = env("VEILNET_CACHE_DIR");
  if (explicit) return explicit;
  if (Deno.build.os === "windows") {
    const base = env("LOCALAPPDATA") ?? `${env("USERPROFILE") ?? "."}\\AppData\\Local`;
    return `${base}\\veilnet-conflux`;
  }
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/veilnet-conflux`;
  return `${env("HOME") ?? "/tmp"}/.cache/veilnet-conflux`;
}

/** An environment variable, or undefined when unset, empty or not permitted (no --allow-env). */
function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hash (16 hex digits) of the shim sources and flags for `os`; null if the sources are absent. */
export async function shimSourceHash(os: ShimOs = currentOs()): Promise<string | null> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(`abi=${SHIM_ABI};flags=${compileFlags(os).join(" ")};`)];
  for (const file of shimSources(os)) {
    try {
      parts.push(enc.encode(`${file}\n`), await Deno.readFile(new URL(file, import.meta.url)));
    } catch {
      return null;
    }
  }
  return sha256Hex(parts);
}

async function exists(path: string | URL): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? "." : path.slice(0, i);
}

function sep(): string {
  return Deno.build.os === "windows" ? "\\" : "/";
}

/** Writes `bytes` to `path` atomically (temp file + rename) so concurrent processes never
 * dlopen a half-written library. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeFile(tmp, bytes, { mode: 0o755 });
  await Deno.rename(tmp, path);
}

/**
 * Compiles the shim for `os` with `cc` (default `$CC` or `cc`; for Windows pass a MinGW
 * compiler; `ccArgs` go first, e.g. `-arch arm64`) to `output`. Throws TunError `shim` with the compiler's message on failure.
 */
export async function compileShim(
  os: ShimOs,
  output: string,
  options: { cc?: string; ccArgs?: string[] } = {},
): Promise<void> {
  const cc = options.cc ?? envVar("CC") ?? "cc";
  const source = new URL(`tun_${os}.c`, import.meta.url);
  if (source.protocol !== "file:") {
    throw new TunError("shim", `cannot compile the shim from ${source.href}`);
  }
  const tmp = `${output}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const flags = compileFlags(os);
  // Libraries must follow the source file for the MinGW linker.
  const libs = flags.filter((f) => f.startsWith("-l"));
  const args = [
    ...(options.ccArgs ?? []),
    ...flags.filter((f) => !f.startsWith("-l")),
    "-o",
    tmp,
    source.pathname,
    ...libs,
  ];
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cc, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new TunError("shim", `C compiler ${cc} not runnable: ${(e as Error).message}`);
  }
  if (!result.success) {
    await Deno.remove(tmp).catch(() => {});
    const msg = new TextDecoder().decode(result.stderr).trim().split("\n").slice(0, 20).join("\n");
    throw new TunError("shim", `compiling the TUN shim with ${cc} failed:\n${msg}`);
  }
  await Deno.rename(tmp, output);
}

async function compilerAvailable(): Promise<boolean> {
  const cc = envVar("CC") ?? "cc";
  try {
    const r = await new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

/** Finds (or builds) the shim for this process; see the module comment for the order. */
export async function locateShim(options: LocateOptions = {}): Promise<ShimLocation> {
  const os = currentOs();
  const ext = libraryExtension(os);
  const explicit = options.library ?? envVar("VEILNET_TUN_LIBRARY");
  if (explicit) {
    if (!await exists(explicit)) {
      throw new TunError("shim", `TUN shim ${explicit} does not exist`);
    }
    return { path: explicit, origin: "explicit" };
  }
  const beside = `${dirname(Deno.execPath())}${sep()}libtun.${ext}`;
  if (await exists(beside)) return { path: beside, origin: "beside-executable" };

  const cache = options.cacheDir ?? cacheDir();
  const embedded = prebuiltUrl(os);
  let embeddedBytes: Uint8Array | null = null;
  // Only a `deno compile` binary uses the embedded copy; from source, the cache and a fresh
  // build keep the library in step with the C files.
  if (Deno.build.standalone) {
    try {
      embeddedBytes = await Deno.readFile(embedded);
    } catch {
      // not embedded: fall through to the cache
    }
  }
  if (embeddedBytes) {
    const path = `${cache}${sep()}libtun-bin-${await sha256Hex([embeddedBytes])}.${ext}`;
    if (!await exists(path)) {
      await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
      await writeAtomic(path, embeddedBytes);
    }
    return { path, origin: "embedded" };
  }

  const hash = await shimSourceHash(os);
  if (hash === null) {
    throw new TunError(
      "shim",
      `no TUN shim: put libtun.${ext} next to the executable or set VEILNET_TUN_LIBRARY`,
    );
  }
  const cached = `${cache}${sep()}libtun-${hash}.${ext}`;
  if (await exists(cached)) return { path: cached, origin: "cache" };
  if (options.build === false || os === "windows" || !await compilerAvailable()) {
    throw new TunError(
      "shim",
      `no TUN shim at ${cached} and no C compiler to build it: install cc ` +
        `(Debian: apt-get install gcc libc6-dev), run "deno task build", or set VEILNET_TUN_LIBRARY`,
    );
  }
  await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
  await compileShim(os, cached);
  return { path: cached, origin: "built" };
}

interface Loaded {
  lib: Deno.DynamicLibrary<typeof SHIM_SYMBOLS>;
  location: ShimLocation;
  users: number;
}

let loaded: Loaded | null = null;
let loading: Promise<Loaded> | null = null;

/**
 * Opens the shim (once per process) and counts one more user. Every acquire must be matched
 * by {@link releaseShim} after the user's last call has returned; the library is closed when
 * the count reaches zero, so no call can follow its dlclose.
 */
export async function acquireShim(
  options: LocateOptions = {},
): Promise<{ symbols: ShimSymbols; location: ShimLocation }> {
  if (!loaded) {
    loading ??= (async () => {
      const location = await locateShim(options);
      let lib: Deno.DynamicLibrary<typeof SHIM_SYMBOLS>;
      try {
        lib = Deno.dlopen(location.path, SHIM_SYMBOLS);
      } catch (e) {
        throw new TunError("shim", `cannot load ${location.path}: ${(e as Error).message}`);
      }
      const abi = lib.symbols.vn_tun_abi_version();
      if (abi !== SHIM_ABI) {
        lib.close();
        throw new TunError("shim", `${location.path} has ABI ${abi}, expected ${SHIM_ABI}`);
      }
      return { lib, location, users: 0 };
    })();
    try {
      loaded = await loading;
    } finally {
      loading = null;
    }
  }
  loaded.users++;
  return { symbols: loaded.lib.symbols, location: loaded.location };
}

/** Drops one user of the shim; closes the library when it was the last. */
export function releaseShim(): void {
  if (!loaded) return;
  loaded.users--;
  if (loaded.users <= 0) {
    loaded.lib.close();
    loaded = null;
  }
}
