import assert from "node:assert/strict";
import { join } from "node:path";
import { describeService, selfCommand } from "./description.ts";
import { renderSystemdUnit, systemdPath, systemdQuote } from "./systemd_unit.ts";

function devService(configDir = "/root/.config/conflux") {
  return describeService({
    command: selfCommand({
      execPath: Deno.execPath(),
      standalone: false,
      mainModule: new URL("../main.ts", import.meta.url).href,
      denoConfig: new URL("../deno.json", import.meta.url).pathname,
    }),
    configDir,
    profile: "register",
    environment: { DENO_DIR: "/root/.cache/deno" },
  });
}

/** Splits an ExecStart= value the way systemd does (quotes, backslash escapes, %%, $$). */
function splitExecStart(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === " ") i++;
    if (i >= value.length) break;
    let word = "";
    if (value[i] === '"') {
      i++;
      while (value[i] !== '"') {
        if (value[i] === "\\") i++;
        word += value[i++];
      }
      i++;
    } else {
      while (i < value.length && value[i] !== " ") word += value[i++];
    }
    out.push(word.replaceAll("%%", "%").replaceAll("$$", "$"));
  }
  return out;
}

Deno.test("systemd unit: restart, ordering, capabilities, ExecStart of the running program", () => {
  const service = devService();
  const unit = renderSystemdUnit(service);
  for (
    const line of [
      "After=network-online.target",
      "Wants=network-online.target",
      "Restart=on-failure",
      "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE",
      "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE",
      "WantedBy=multi-user.target",
      "Environment=DENO_DIR=/root/.cache/deno",
    ]
  ) assert.ok(unit.split("\n").includes(line), line);
  const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!.slice(10);
  const argv = splitExecStart(exec);
  assert.deepEqual(argv, service.argv);
  assert.equal(argv[0], Deno.execPath());
  assert.deepEqual(argv.slice(1, 3), ["run", "-A"]);
  assert.ok(argv.includes(new URL("../main.ts", import.meta.url).pathname));
  assert.deepEqual(argv.slice(-5), [
    "run",
    "--config-dir",
    "/root/.config/conflux",
    "--profile",
    "register",
  ]);
});

Deno.test("systemd quoting survives spaces, quotes, % and $", () => {
  const words = ["plain", "with space", 'q"uote', "back\\slash", "50%", "$HOME", ""];
  assert.deepEqual(splitExecStart(words.map(systemdQuote).join(" ")), words);
  assert.throws(() => systemdQuote("line\nbreak"));
  assert.equal(systemdPath("/a b/%i"), "/a b/%%i");
  assert.throws(() => systemdPath("relative"));
});

Deno.test("a compiled executable runs itself", () => {
  const argv = selfCommand({
    execPath: "/usr/local/bin/veilnet-conflux",
    standalone: true,
    mainModule: "file:///tmp/deno-compile-x/main.ts",
  });
  assert.deepEqual(argv, ["/usr/local/bin/veilnet-conflux"]);
});

Deno.test({
  name: "systemd-analyze verify accepts the unit",
  ignore: !(() => {
    try {
      return Deno.statSync("/usr/bin/systemd-analyze").isFile;
    } catch {
      return false;
    }
  })(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-unit-" });
    try {
      for (const configDir of ["/root/.config/conflux", "/srv/veil net/100%"]) {
        const path = join(dir, "veilnet.service");
        await Deno.writeTextFile(path, renderSystemdUnit(devService(configDir)));
        const out = await new Deno.Command("systemd-analyze", {
          args: ["verify", path],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
        assert.equal(out.code, 0, text);
        assert.ok(!/veilnet\.service:\d+/.test(text), text); // no warning about any line
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
