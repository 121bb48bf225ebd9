/**
 * Finds, builds and loads the C TUN shim and the other C libraries of ffi/. This is the only
 * place in the project that calls `Deno.dlopen`.
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
 * The cache folder is `$VEILNET_CACHE_DIR`, else for root `/var/cache/veilnet-conflux`, else
 * `$XDG_CACHE_HOME/veilnet-conflux`, else `~/.cache/veilnet-conflux`, else (no HOME)
 * `/tmp/veilnet-conflux-<uid>` (`%LOCALAPPDATA%\veilnet-conflux` on Windows). A library is
 * loaded from the cache only when the folder and the file are owned by us (or root) and writable
 * by nobody else: another user must never get code into a process that runs as root.
 *
 * The same lookup serves every C library of ffi/ ({@link NativeLibrarySpec}: name, sources,
 * flags, env variable, error type): {@link locateLibrary}, {@link compileLibrary} and
 * {@link openLibrary} are the generic forms; the `*Shim` functions are the TUN shim's.
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
  return libraryPrebuiltName(TUN_LIBRARY, os, arch);
}

/** URL of the prebuilt shim for this platform inside the project tree / compiled binary. */
export function prebuiltUrl(
  os: ShimOs = currentOs(),
  arch: string = Deno.build.arch,
  spec: NativeLibrarySpec = TUN_LIBRARY,
): URL {
  return new URL(`../dist/shim/${libraryPrebuiltName(spec, os, arch)}`, import.meta.url);
}

/** A C library of ffi/ that is found, built into the cache and loaded like the TUN shim. */
export interface NativeLibrarySpec {
  /** File stem: the library is `lib<name>.<ext>` (e.g. "tun" → libtun.so). */
  name: string;
  /** What to call it in messages, e.g. "TUN shim". */
  title: string;
  /** Environment variable holding an explicit library path. */
  envVar: string;
  /** Files relative to ffi/ that make up the library (all hashed; the `.c` ones compiled). */
  sources(os: ShimOs): string[];
  /** Compiler and linker flags (`-l…` are placed after the sources); part of the hash. */
  flags(os: ShimOs): string[];
  /** Extra text mixed into the source hash, e.g. the ABI version. */
  hashPrefix: string;
  /** What to install to build it, for the "no C compiler" message. */
  buildHint: string;
  /** Makes the error thrown when the library cannot be found, built or loaded. */
  error(message: string): Error;
}

/** The TUN shim as a {@link NativeLibrarySpec}. */
export const TUN_LIBRARY: NativeLibrarySpec = {
  name: "tun",
  title: "TUN shim",
  envVar: "VEILNET_TUN_LIBRARY",
  sources: shimSources,
  flags: compileFlags,
  hashPrefix: `abi=${SHIM_ABI}`,
  buildHint: "Debian: apt-get install gcc libc6-dev",
  error: (message) => new TunError("shim", message),
};

/** Name under which build.ts stores (and `deno compile --include` embeds) a prebuilt library. */
export function libraryPrebuiltName(spec: NativeLibrarySpec, os: ShimOs, arch: string): string {
  return `lib${spec.name}-${os}-${arch}.${libraryExtension(os)}`;
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
  const uid = Deno.uid();
  // The service runs as root: its cache is root's own, not a folder under a shared HOME or /tmp.
  if (uid === 0) return "/var/cache/veilnet-conflux";
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/veilnet-conflux`;
  const home = env("HOME");
  return home ? `${home}/.cache/veilnet-conflux` : `/tmp/veilnet-conflux-${uid ?? "user"}`;
}

/**
 * Why `path` (a cache folder or a library in it) may not be trusted: null when it is owned by
 * this user or root, is not a symbolic link, and no one else can write it; else the reason.
 * Windows: always null (ACLs, not modes; the cache is under the user's profile).
 */
export async function untrustedReason(path: string): Promise<string | null> {
  if (Deno.build.os === "windows") return null;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return null;
  }
  const uid = Deno.uid();
  if (info.isSymlink) return `${path} is a symbolic link`;
  if (info.uid !== null && info.uid !== 0 && info.uid !== uid) {
    return `${path} belongs to uid ${info.uid}, not to this user (${uid})`;
  }
  if (info.mode !== null && (info.mode & 0o022) !== 0) {
    return `${path} is writable by others (mode ${(info.mode & 0o777).toString(8)})`;
  }
  return null;
}

/** Throws `spec.error` when the cache folder or `file` in it may not be trusted. */
async function checkTrusted(spec: NativeLibrarySpec, paths: string[]): Promise<void> {
  for (const p of paths) {
    const why = await untrustedReason(p);
    if (why) {
      throw spec.error(
        `refusing to load a library from an unsafe place: ${why}; remove it, or set ` +
          `VEILNET_CACHE_DIR to a folder only you can write`,
      );
    }
  }
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
export function shimSourceHash(os: ShimOs = currentOs()): Promise<string | null> {
  return librarySourceHash(TUN_LIBRARY, os);
}

/** Hash (16 hex digits) of a library's sources and flags for `os`; null if a source is absent. */
export async function librarySourceHash(
  spec: NativeLibrarySpec,
  os: ShimOs = currentOs(),
): Promise<string | null> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(`${spec.hashPrefix};flags=${spec.flags(os).join(" ")};`)];
  for (const file of spec.sources(os)) {
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
export function compileShim(
  os: ShimOs,
  output: string,
  options: { cc?: string; ccArgs?: string[] } = {},
): Promise<void> {
  return compileLibrary(TUN_LIBRARY, output, { ...options, os });
}

/**
 * Compiles `spec` for `options.os` (default this OS) with `cc` (default `$CC` or `cc`;
 * `ccArgs` go first) to `output`, atomically. Throws `spec.error(…)` with the compiler's
 * message on failure.
 */
export async function compileLibrary(
  spec: NativeLibrarySpec,
  output: string,
  options: { os?: ShimOs; cc?: string; ccArgs?: string[] } = {},
): Promise<void> {
  const os = options.os ?? currentOs();
  const cc = options.cc ?? envVar("CC") ?? "cc";
  const sources = spec.sources(os).filter((f) => f.endsWith(".c")).map((f) =>
    new URL(f, import.meta.url)
  );
  const remote = sources.find((u) => u.protocol !== "file:");
  if (remote) throw spec.error(`cannot compile the ${spec.title} from ${remote.href}`);
  const tmp = `${output}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const flags = spec.flags(os);
  // Libraries must follow the source files for the MinGW and GNU linkers.
  const libs = flags.filter((f) => f.startsWith("-l"));
  const args = [
    ...(options.ccArgs ?? []),
    ...flags.filter((f) => !f.startsWith("-l")),
    "-o",
    tmp,
    ...sources.map((u) => u.pathname),
    ...libs,
  ];
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cc, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw spec.error(`C compiler ${cc} not runnable: ${(e as Error).message}`);
  }
  if (!result.success) {
    await Deno.remove(tmp).catch(() => {});
    const msg = new TextDecoder().decode(result.stderr).trim().split("\n").slice(0, 20).join("\n");
    throw spec.error(`compiling the ${spec.title} with ${cc} failed:\n${msg}`);
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
export function locateShim(options: LocateOptions = {}): Promise<ShimLocation> {
  return locateLibrary(TUN_LIBRARY, options);
}

/** Finds (or builds) `spec` for this process, in the order of the module comment. */
export async function locateLibrary(
  spec: NativeLibrarySpec,
  options: LocateOptions = {},
): Promise<ShimLocation> {
  const os = currentOs();
  const ext = libraryExtension(os);
  const file = `lib${spec.name}`;
  const explicit = options.library ?? envVar(spec.envVar);
  if (explicit) {
    if (!await exists(explicit)) {
      throw spec.error(`${spec.title} ${explicit} does not exist`);
    }
    return { path: explicit, origin: "explicit" };
  }
  const beside = `${dirname(Deno.execPath())}${sep()}${file}.${ext}`;
  if (await exists(beside)) return { path: beside, origin: "beside-executable" };

  const cache = options.cacheDir ?? cacheDir();
  const embedded = prebuiltUrl(os, Deno.build.arch, spec);
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
    const path = `${cache}${sep()}${file}-bin-${await sha256Hex([embeddedBytes])}.${ext}`;
    await checkTrusted(spec, [cache, path]);
    if (!await exists(path)) {
      await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
      await writeAtomic(path, embeddedBytes);
    }
    return { path, origin: "embedded" };
  }

  const hash = await librarySourceHash(spec, os);
  if (hash === null) {
    throw spec.error(
      `no ${spec.title}: put ${file}.${ext} next to the executable or set ${spec.envVar}`,
    );
  }
  const cached = `${cache}${sep()}${file}-${hash}.${ext}`;
  await checkTrusted(spec, [cache, cached]);
  if (await exists(cached)) return { path: cached, origin: "cache" };
  if (options.build === false || os === "windows" || !await compilerAvailable()) {
    throw spec.error(
      `no ${spec.title} at ${cached} and no C compiler to build it: install cc ` +
        `(${spec.buildHint}), run "deno task build", or set ${spec.envVar}`,
    );
  }
  await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
  // Built next to its final name and renamed, so concurrent processes never load half a file.
  await compileLibrary(spec, cached, { os });
  return { path: cached, origin: "built" };
}

/** `Deno.dlopen` of `path` with `symbols`; a failure becomes `spec.error(…)`. */
export function openLibrary<S extends Deno.ForeignLibraryInterface>(
  spec: NativeLibrarySpec,
  path: string,
  symbols: S,
): Deno.DynamicLibrary<S> {
  try {
    return Deno.dlopen(path, symbols);
  } catch (e) {
    throw spec.error(`cannot load ${path}: ${(e as Error).message}`);
  }
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
      const lib = openLibrary(TUN_LIBRARY, location.path, SHIM_SYMBOLS);
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
