import assert from "node:assert/strict";
import {
  acquireShim,
  cacheDir,
  compileShim,
  locateShim,
  releaseShim,
  SHIM_ABI,
  shimSourceHash,
} from "./shim.ts";
import { TunError } from "./errors.ts";

async function hasCompiler(cc: string): Promise<boolean> {
  try {
    return (await new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

const haveCc = Deno.build.os === "linux" && await hasCompiler("cc");
const MINGW = "x86_64-w64-mingw32-gcc";
const haveMingw = await hasCompiler(MINGW);
if (!haveMingw) {
  console.warn(`shim_test: Windows shim compile test ignored: ${MINGW} absent (apt mingw-w64)`);
}

Deno.test({
  name: "shim: built into the cache keyed by the source hash, then found there",
  ignore: !haveCc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-" });
    try {
      const hash = await shimSourceHash();
      assert.match(hash ?? "", /^[0-9a-f]{16}$/);
      const first = await locateShim({ cacheDir: dir });
      assert.equal(first.origin, "built");
      assert.equal(first.path, `${dir}/libtun-${hash}.so`);
      const second = await locateShim({ cacheDir: dir });
      assert.deepEqual(second, { path: first.path, origin: "cache" });
      // The built library loads and speaks the expected ABI.
      const lib = Deno.dlopen(first.path, {
        vn_tun_abi_version: { parameters: [], result: "i32" },
      });
      try {
        assert.equal(lib.symbols.vn_tun_abi_version(), SHIM_ABI);
      } finally {
        lib.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "shim: VEILNET_CACHE_DIR overrides the cache; no library and no build is a typed error",
  ignore: !haveCc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-" });
    const before = Deno.env.get("VEILNET_CACHE_DIR");
    try {
      Deno.env.set("VEILNET_CACHE_DIR", dir);
      await assert.rejects(
        () => locateShim({ build: false }),
        (e) =>
          e instanceof TunError && e.code === "shim" && /no C compiler|no TUN shim/.test(e.message),
      );
      const built = await locateShim();
      assert.ok(built.path.startsWith(dir + "/"), built.path);
      await assert.rejects(
        () => locateShim({ library: `${dir}/missing.so` }),
        (e) => e instanceof TunError && e.code === "shim",
      );
      assert.deepEqual(await locateShim({ library: built.path }), {
        path: built.path,
        origin: "explicit",
      });
    } finally {
      if (before === undefined) Deno.env.delete("VEILNET_CACHE_DIR");
      else Deno.env.set("VEILNET_CACHE_DIR", before);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "shim: a library with another ABI is refused with a typed error",
  ignore: !haveCc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-" });
    try {
      const src = `${dir}/old.c`;
      // Every symbol the binding binds, but a different ABI number.
      const names = [
        "vn_tun_init",
        "vn_tun_open",
        "vn_tun_offload",
        "vn_tun_read_batch",
        "vn_tun_write_batch",
        "vn_tun_wake",
        "vn_tun_close",
        "vn_tun_set_mtu",
        "vn_tun_get_mtu",
        "vn_tun_set_up",
        "vn_tun_set_ipv4",
        "vn_tun_addr",
        "vn_tun_route",
      ];
      await Deno.writeTextFile(
        src,
        `int vn_tun_abi_version(void){return ${SHIM_ABI + 100};}\n` +
          names.map((n) => `int ${n}(void){return 0;}\n`).join(""),
      );
      const lib = `${dir}/old.so`;
      const r = await new Deno.Command("cc", { args: ["-shared", "-fPIC", "-o", lib, src] })
        .output();
      assert.ok(r.success);
      await assert.rejects(
        () => acquireShim({ library: lib }),
        (e) => e instanceof TunError && e.code === "shim" && /ABI/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "shim: the Windows (wintun) shim compiles with MinGW and exports the C API",
  ignore: !haveMingw,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-win-" });
    try {
      const out = `${dir}/libtun.dll`;
      await compileShim("windows", out, { cc: MINGW });
      const dll = await Deno.readFile(out);
      assert.equal(String.fromCharCode(dll[0], dll[1]), "MZ");
      const text = new TextDecoder("latin1").decode(dll);
      for (
        const sym of [
          "vn_tun_abi_version",
          "vn_tun_open",
          "vn_tun_read_batch",
          "vn_tun_write_batch",
          "vn_tun_wake",
          "vn_tun_close",
          "vn_tun_route",
          "vn_tun_addr",
          "vn_tun_set_mtu",
          "WintunStartSession",
        ]
      ) {
        assert.ok(text.includes(sym), `${sym} missing from the DLL`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "shim: a compile failure is reported as TunError shim with the compiler output",
  ignore: !haveCc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-" });
    const before = Deno.env.get("CC");
    try {
      await assert.rejects(
        () => compileShim("linux", `${dir}/x.so`, { cc: "/nonexistent/cc" }),
        (e) => e instanceof TunError && e.code === "shim",
      );
    } finally {
      if (before !== undefined) Deno.env.set("CC", before);
      await Deno.remove(dir, { recursive: true });
    }
    releaseShim(); // no-op when nothing is loaded
  },
});

Deno.test({
  name: "shim: a cache another user could write, or a library owned by someone else, is refused",
  ignore: !haveCc || Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-shim-trust-" });
    try {
      const built = await locateShim({ cacheDir: dir });
      assert.equal(built.origin, "built");
      await Deno.chmod(dir, 0o777);
      await assert.rejects(() => locateShim({ cacheDir: dir }), (e: Error) => {
        assert.ok(e instanceof TunError);
        assert.match(e.message, /unsafe place: .* is writable by others \(mode 777\)/);
        return true;
      });
      await Deno.chmod(dir, 0o700);
      await Deno.chown(built.path, 65534, 65534);
      await assert.rejects(() => locateShim({ cacheDir: dir }), /belongs to uid 65534/);
      await Deno.chown(built.path, 0, 0);
      await Deno.chmod(built.path, 0o777);
      await assert.rejects(() => locateShim({ cacheDir: dir }), /writable by others/);
      await Deno.remove(built.path);
      const elsewhere = `${dir}-planted.so`;
      await Deno.writeFile(elsewhere, new Uint8Array([0]));
      await Deno.symlink(elsewhere, built.path);
      await assert.rejects(() => locateShim({ cacheDir: dir }), /symbolic link/);
      await Deno.remove(elsewhere);
      await Deno.remove(built.path);
      assert.equal((await locateShim({ cacheDir: dir })).origin, "built");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("shim: root's default cache is its own folder, never one under /tmp", () => {
  const saved = ["VEILNET_CACHE_DIR", "HOME", "XDG_CACHE_HOME"].map((k) => [k, Deno.env.get(k)]);
  try {
    Deno.env.delete("VEILNET_CACHE_DIR");
    Deno.env.delete("HOME");
    Deno.env.delete("XDG_CACHE_HOME");
    const dir = cacheDir();
    if (Deno.uid() === 0) assert.equal(dir, "/var/cache/veilnet-conflux");
    else assert.equal(dir, `/tmp/veilnet-conflux-${Deno.uid()}`);
    Deno.env.set("VEILNET_CACHE_DIR", "/opt/x");
    assert.equal(cacheDir(), "/opt/x");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k!) : Deno.env.set(k!, v);
  }
});
