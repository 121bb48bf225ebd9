import assert from "node:assert/strict";
import { Tun, TunError } from "./tun.ts";

// Argument checks happen before the shim is even loaded: no root, no device needed.
Deno.test("tun: bad open options are invalid-argument before any system call", async () => {
  const invalid = (e: unknown) => e instanceof TunError && e.code === "invalid-argument";
  await assert.rejects(() => Tun.open({ name: "" }), invalid);
  await assert.rejects(() => Tun.open({ name: "has space" }), invalid);
  await assert.rejects(() => Tun.open({ name: "much-too-long-name" }), invalid);
  await assert.rejects(() => Tun.open({ name: "ok0", mtu: 67 }), invalid);
  await assert.rejects(() => Tun.open({ name: "ok0", mtu: 70000 }), invalid);
  await assert.rejects(() => Tun.open({ name: "ok0", mtu: 1400.5 }), invalid);
});

Deno.test("tun: a missing shim library is a shim error", async () => {
  await assert.rejects(
    () => Tun.open({ name: "ok0", library: "/nonexistent/libtun.so" }),
    (e) => e instanceof TunError && e.code === "shim",
  );
});
