/**
 * Release build: compiles the C TUN shim (and, where libcrypto headers exist, the OpenSSL AES-GCM
 * library ffi/aesgcm.c) for each target and runs `deno compile` to produce
 * self-contained `veilnet-conflux` (and, when guardian/main.ts exists, `veilnet-guardian`)
 * executables in dist/.
 *
 *   deno run -A build.ts                      # every target whose C compiler is installed
 *   deno run -A build.ts --target x86_64-unknown-linux-gnu
 *   deno run -A build.ts --shim-only          # only dist/shim/lib{tun,aesgcm,udp}-<os>-<arch>.<ext>
 *
 * Per target:
 * 1. the shim (ffi/tun_<os>.c) is compiled to dist/shim/libtun-<os>-<arch>.<ext> with that
 *    target's compiler (Linux: cc or <arch>-linux-gnu-gcc; Windows: x86_64-w64-mingw32-gcc
 *    from Debian mingw-w64; macOS: cc -arch … on a Mac, or osxcross o64-clang/oa64-clang);
 *    a target without its compiler is skipped with a message; ffi/aesgcm.c is compiled the
 *    same way to dist/shim/libaesgcm-<os>-<arch>.<ext> (Linux/macOS; needs that target's
 *    OpenSSL headers, Debian libssl-dev) and embedded too; without it the program falls back
 *    to node:crypto at run time, so a failed AES-GCM build only warns; on Linux
 *    ffi/udp_linux.c (the datagram lane's socket) goes to dist/shim/libudp-linux-<arch>.so
 *    the same way (a failure only warns);
 * 2. `deno compile -A --v8-flags=<NODE_V8_FLAGS> --target <t> --include dist/shim/<lib>
 *    --output dist/<name>-<t> main.ts` (core/node/options.ts: the node's V8 flags).
 *    At run time ffi/shim.ts finds the embedded library at the same relative path, copies it
 *    to the cache folder (keyed by its hash) and dlopens that copy: dlopen needs a real file.
 *    Windows also needs wintun.dll (https://www.wintun.net, not redistributable from here):
 *    put it at ffi/vendor/wintun/<arch>/wintun.dll and it is copied next to the .exe.
 *
 * `deno compile` downloads the runtime base binary for each target: on machines without that
 * access (like the project's CI) step 2 fails; use --shim-only there.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  compileLibrary,
  compileShim,
  libraryPrebuiltName,
  prebuiltName,
  type ShimOs,
} from "./ffi/shim.ts";
import { AESGCM_LIBRARY } from "./ffi/aesgcm.ts";
import { UDP_LIBRARY } from "./ffi/udp.ts";
import { NODE_V8_FLAGS } from "./core/node/options.ts";

/** One release target. */
interface Target {
  /** Deno's target triple. */
  triple: string;
  os: ShimOs;
  /** Deno.build.arch spelling, used in the shim file name. */
  arch: "x86_64" | "aarch64";
  /** Compilers to try, first found wins: [program, ...leading args]. */
  compilers: string[][];
}

const hostLinux = Deno.build.os === "linux";
const hostMac = Deno.build.os === "darwin";
const hostArch = Deno.build.arch;

const TARGETS: Target[] = [
  {
    triple: "x86_64-unknown-linux-gnu",
    os: "linux",
    arch: "x86_64",
    compilers: [
      ...(hostLinux && hostArch === "x86_64" ? [["cc"]] : []),
      ["x86_64-linux-gnu-gcc"],
    ],
  },
  {
    triple: "aarch64-unknown-linux-gnu",
    os: "linux",
    arch: "aarch64",
    compilers: [
      ...(hostLinux && hostArch === "aarch64" ? [["cc"]] : []),
      ["aarch64-linux-gnu-gcc"],
    ],
  },
  {
    triple: "x86_64-apple-darwin",
    os: "darwin",
    arch: "x86_64",
    compilers: [...(hostMac ? [["cc", "-arch", "x86_64"]] : []), ["o64-clang"]],
  },
  {
    triple: "aarch64-apple-darwin",
    os: "darwin",
    arch: "aarch64",
    compilers: [...(hostMac ? [["cc", "-arch", "arm64"]] : []), ["oa64-clang"]],
  },
  {
    triple: "x86_64-pc-windows-msvc",
    os: "windows",
    arch: "x86_64",
    compilers: [["x86_64-w64-mingw32-gcc"]],
  },
];

async function found(program: string): Promise<boolean> {
  try {
    const r = await new Deno.Command(program, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Compiles the shim for `t` into dist/shim; returns its path, or null if no compiler. */
async function buildShim(t: Target): Promise<string | null> {
  for (const [cc, ...ccArgs] of t.compilers) {
    if (!await found(cc)) continue;
    await Deno.mkdir("dist/shim", { recursive: true });
    const out = `dist/shim/${prebuiltName(t.os, t.arch)}`;
    await compileShim(t.os, out, { cc, ccArgs });
    console.log(`shim ${t.triple}: ${out} (${[cc, ...ccArgs].join(" ")})`);
    return out;
  }
  console.warn(
    `shim ${t.triple}: skipped, none of ${t.compilers.map((c) => c[0]).join(", ")} installed`,
  );
  return null;
}

/**
 * Compiles ffi/aesgcm.c for `t` into dist/shim; returns its path, or null (with a warning) when
 * there is no compiler or the build fails (e.g. no OpenSSL headers for that target).
 */
async function buildAesGcm(t: Target): Promise<string | null> {
  if (t.os === "windows") return null;
  for (const [cc, ...ccArgs] of t.compilers) {
    if (!await found(cc)) continue;
    await Deno.mkdir("dist/shim", { recursive: true });
    const out = `dist/shim/${libraryPrebuiltName(AESGCM_LIBRARY, t.os, t.arch)}`;
    try {
      await compileLibrary(AESGCM_LIBRARY, out, { os: t.os, cc, ccArgs });
    } catch (e) {
      console.warn(
        `aesgcm ${t.triple}: skipped (node:crypto at run time): ${(e as Error).message}`,
      );
      return null;
    }
    console.log(`aesgcm ${t.triple}: ${out} (${[cc, ...ccArgs].join(" ")})`);
    return out;
  }
  return null;
}

/**
 * Compiles ffi/udp_linux.c (the datagram-lane socket) for a Linux `t` into dist/shim; returns its
 * path, or null (with a warning) when there is no compiler or the build fails.
 */
async function buildUdp(t: Target): Promise<string | null> {
  if (t.os !== "linux") return null;
  for (const [cc, ...ccArgs] of t.compilers) {
    if (!await found(cc)) continue;
    await Deno.mkdir("dist/shim", { recursive: true });
    const out = `dist/shim/${libraryPrebuiltName(UDP_LIBRARY, t.os, t.arch)}`;
    try {
      await compileLibrary(UDP_LIBRARY, out, { os: t.os, cc, ccArgs });
    } catch (e) {
      console.warn(`udp ${t.triple}: skipped (built at run time): ${(e as Error).message}`);
      return null;
    }
    console.log(`udp ${t.triple}: ${out} (${[cc, ...ccArgs].join(" ")})`);
    return out;
  }
  return null;
}

/** Runs `deno compile` for one program and target, embedding `includes`. */
async function denoCompile(
  t: Target,
  program: { name: string; entry: string },
  includes: string[],
): Promise<boolean> {
  const ext = t.os === "windows" ? ".exe" : "";
  const output = `dist/${program.name}-${t.triple}${ext}`;
  const args = [
    "compile",
    "-A",
    `--v8-flags=${NODE_V8_FLAGS}`,
    "--target",
    t.triple,
    ...includes.flatMap((f) => ["--include", f]),
    "--output",
    output,
    program.entry,
  ];
  console.log(`deno ${args.join(" ")}`);
  const r = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!r.success) {
    console.error(`${output}: deno compile failed (exit ${r.code})`);
    return false;
  }
  return true;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: "string", multiple: true },
      "shim-only": { type: "boolean", default: false },
    },
  });
  const wanted = values.target ?? [];
  for (const w of wanted) {
    if (!TARGETS.some((t) => t.triple === w)) {
      console.error(`unknown target ${w}; known: ${TARGETS.map((t) => t.triple).join(", ")}`);
      Deno.exit(2);
    }
  }
  const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.triple)) : TARGETS;
  const programs = [{ name: "veilnet-conflux", entry: "main.ts", tun: true }];
  if (await exists("guardian/main.ts")) {
    programs.push({ name: "veilnet-guardian", entry: "guardian/main.ts", tun: false });
  }
  let failed = 0;
  for (const t of targets) {
    const shim = await buildShim(t);
    const aesgcm = shim ? await buildAesGcm(t) : null;
    const udp = shim ? await buildUdp(t) : null;
    if (values["shim-only"]) continue;
    if (!shim) {
      failed++;
      continue;
    }
    for (const p of programs) {
      const includes = p.tun ? [shim, ...(aesgcm ? [aesgcm] : []), ...(udp ? [udp] : [])] : [];
      if (!await denoCompile(t, p, includes)) failed++;
    }
    const wintun = `ffi/vendor/wintun/${t.arch === "x86_64" ? "amd64" : "arm64"}/wintun.dll`;
    if (t.os === "windows") {
      if (await exists(wintun)) await Deno.copyFile(wintun, "dist/wintun.dll");
      else console.warn(`${t.triple}: ${wintun} missing; ship wintun.dll next to the .exe`);
    }
  }
  if (failed) Deno.exit(1);
}
