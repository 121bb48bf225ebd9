import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfigDir } from "./config_dir.ts";
import { configPath, loadConfig, type RegisterConfig, saveConfig } from "./config_store.ts";
import { CliError } from "./errors.ts";
import { main } from "./mod.ts";

const sample: RegisterConfig = {
  version: 1,
  guardian: "http://127.0.0.1:7000",
  conflux_id: "c_1",
  conflux_token: "vnc_secret",
  portal: false,
  teams: ["dev"],
  rtc: "auto",
  relay: true,
  registered_at: "2026-11-25T00:00:00.000Z",
};

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-cli-config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("saved config round-trips, mode 0600, no temp file left", async () => {
  await withDir(async (dir) => {
    const sub = join(dir, "nested", "conflux");
    await saveConfig(sub, { profile: "register", config: sample });
    assert.deepEqual(await loadConfig(sub, "register"), sample);
    assert.equal((await Deno.stat(configPath(sub, "register"))).mode! & 0o777, 0o600);
    const names = [...Deno.readDirSync(sub)].map((e) => e.name);
    assert.deepEqual(names, ["conflux.json"]);
    assert.equal(await loadConfig(sub, "up"), null);
  });
});

Deno.test("overwriting replaces the whole file (never a mix of old and new)", async () => {
  await withDir(async (dir) => {
    await saveConfig(dir, { profile: "register", config: { ...sample, teams: ["a".repeat(500)] } });
    await saveConfig(dir, { profile: "register", config: sample });
    const text = await Deno.readTextFile(configPath(dir, "register"));
    assert.deepEqual(JSON.parse(text), sample);
  });
});

Deno.test("a corrupt file is a clear error naming the file", async () => {
  await withDir(async (dir) => {
    const path = configPath(dir, "register");
    await Deno.writeTextFile(path, '{"version": 1, "guardian": "http://x", "conflux_to');
    await assert.rejects(
      () => loadConfig(dir, "register"),
      (e: unknown) =>
        e instanceof CliError && e.code === "config" && e.message.includes(path) &&
        /corrupt/.test(e.message),
    );
  });
});

Deno.test("a file with wrong fields names the field but not the token", async () => {
  await withDir(async (dir) => {
    const path = configPath(dir, "up");
    await Deno.writeTextFile(
      path,
      JSON.stringify({ version: 1, guardian: "http://127.0.0.1:1", conflux_token: "vnc_s3cr3t" }),
    );
    await assert.rejects(
      () => loadConfig(dir, "up"),
      (e: unknown) =>
        e instanceof CliError && e.message.includes(path) && /portal/.test(e.message) &&
        !e.message.includes("vnc_s3cr3t"),
    );
  });
});

Deno.test("read-only commands leave a corrupt file untouched", async () => {
  await withDir(async (dir) => {
    const corrupt = "{not json";
    await Deno.writeTextFile(configPath(dir, "register"), corrupt);
    await Deno.writeTextFile(configPath(dir, "up"), corrupt);
    const err: string[] = [];
    const deps = { env: {}, stdout: () => {}, stderr: (t: string) => err.push(t) };
    for (const args of [["run"], ["teams", "list"], ["unregister"], ["run", "--profile", "up"]]) {
      err.length = 0;
      const code = await main([...args, "--config-dir", dir], deps);
      assert.equal(code, 1, args.join(" "));
      assert.match(err.join("\n"), /is corrupt/);
    }
    assert.equal(await Deno.readTextFile(configPath(dir, "register")), corrupt);
    assert.equal(await Deno.readTextFile(configPath(dir, "up")), corrupt);
  });
});

Deno.test("default config directories per OS match the seed", () => {
  assert.equal(defaultConfigDir("linux", { HOME: "/root" }), "/root/.config/conflux");
  assert.equal(
    defaultConfigDir("linux", { HOME: "/root", XDG_CONFIG_HOME: "/etc/xdg" }),
    "/etc/xdg/conflux",
  );
  assert.equal(
    defaultConfigDir("darwin", { HOME: "/var/root" }),
    "/var/root/Library/Application Support/conflux",
  );
  assert.equal(
    defaultConfigDir("windows", { ProgramData: "C:\\ProgramData" }),
    "C:\\ProgramData\\conflux",
  );
  assert.equal(defaultConfigDir("windows", {}), "C:\\ProgramData\\conflux");
});
