/**
 * The node runtime's unit tests need no TUN device: they run here in a mount namespace where
 * /dev/net is an empty tmpfs, so a test that quietly opened /dev/net/tun would fail.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

async function canUnshare(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  try {
    const r = await new Deno.Command("unshare", { args: ["--mount", "true"] }).output();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "core/node tests pass with /dev/net/tun hidden",
  ignore: !(await canUnshare()),
  fn: async () => {
    const deno = Deno.execPath();
    const script = [
      "mount -t tmpfs tmpfs /dev/net",
      "test ! -e /dev/net/tun || exit 90",
      `exec "${deno}" test -A --no-check=remote core/node ffi/tun_payload_test.ts`,
    ].join(" && ");
    const r = await new Deno.Command("unshare", {
      args: ["--mount", "--propagation", "private", "sh", "-c", script],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.notEqual(r.code, 90, "/dev/net/tun still visible inside the namespace");
    assert.ok(r.success, out.slice(-4000));
    const summary = out.match(/ok \| (\d+) passed \| 0 failed/);
    assert.ok(summary && Number(summary[1]) >= 60, out.slice(-2000));
  },
});
