// The names flags of register, up and run: --dns-suffix, --no-dns, --dns-config, their
// variables, what is saved in the profile and read back, and bad values as usage errors.
import assert from "node:assert/strict";
import { findCommand } from "../cli/command_specs.ts";
import { UpConfigSchema } from "../cli/config_store.ts";
import { CliError } from "../cli/errors.ts";
import { parseCommand } from "../cli/flags.ts";
import { resolveEngineFlags, savedNodeFields } from "../cli/settings.ts";

const up = findCommand("up")!;
const run = findCommand("run")!;

Deno.test("dns flags: defaults, flags, variables, saved and read back", () => {
  const d = resolveEngineFlags(parseCommand(run, [], {}));
  assert.equal(d.dns, true);
  assert.equal(d.dnsSuffix, undefined);
  assert.equal(d.dnsConfig, undefined);
  const f = resolveEngineFlags(
    parseCommand(up, ["--dns-suffix", "Corp.Example", "--dns-config", "resolv.conf"], {}),
  );
  assert.equal(f.dnsSuffix, "corp.example");
  assert.equal(f.dnsConfig, "resolv.conf");
  const e = resolveEngineFlags(
    parseCommand(run, [], { VEILNET_NO_DNS: "true", VEILNET_DNS_SUFFIX: "lab.test" }),
  );
  assert.equal(e.dns, false);
  assert.equal(e.dnsSuffix, "lab.test");
  // Saved in up.json (per profile) and used by run when nothing overrides it.
  const saved = savedNodeFields({ url: "http://127.0.0.1:1" }, { ...f, dns: false });
  assert.deepEqual(
    [saved.dns, saved.dns_suffix, saved.dns_config],
    [false, "corp.example", "resolv.conf"],
  );
  const file = UpConfigSchema.parse({ version: 1, conflux_token: "t", ...saved });
  const back = resolveEngineFlags(parseCommand(run, [], {}), file);
  assert.deepEqual([back.dns, back.dnsSuffix, back.dnsConfig], [
    false,
    "corp.example",
    "resolv.conf",
  ]);
  assert.equal(
    resolveEngineFlags(parseCommand(run, ["--dns-suffix", "x.test"], {}), file).dnsSuffix,
    "x.test",
  );
  // Defaults are not written.
  const plain = savedNodeFields({ url: "http://127.0.0.1:1" }, d);
  assert.ok(!("dns" in plain) && !("dns_suffix" in plain) && !("dns_config" in plain));
});

Deno.test("dns flags: bad values are usage errors", () => {
  for (
    const args of [["--dns-suffix", "a..b"], ["--dns-suffix", "x.in-addr.arpa"], [
      "--dns-config",
      "nrpt",
    ]]
  ) {
    assert.throws(
      () => resolveEngineFlags(parseCommand(run, args, {})),
      (e) => e instanceof CliError && e.code === "usage",
      args.join(" "),
    );
  }
});

Deno.test("dns info: the text of `info` says how DNS is configured and which names clash", async () => {
  const { renderInfo } = await import("../cli/commands/info.ts");
  const text = renderInfo(
    {
      conflux_id: "c1",
      realm_id: "r1",
      overlay_ip: "100.64.0.2",
      tag: "n1",
      portal: false,
      teams: ["dev"],
      tethers: [],
      routes: [],
      streams: [],
      dns: {
        suffix: "veilnet.internal",
        server: "100.64.0.2:53",
        host: "resolv.conf",
        detail: "nameserver 100.64.0.2 first in /etc/resolv.conf",
        names: ["n1", "c1"],
        cached: 0,
        duplicates: [{
          name: "web",
          conflux_ids: ["c2", "c3"],
          addresses: ["100.64.0.3", "100.64.0.4"],
        }],
      },
    } as Parameters<typeof renderInfo>[0],
  );
  assert.match(text, /dns.*resolver 100\.64\.0\.2:53; host: resolv\.conf \(nameserver/);
  assert.match(text, /names.*n1\.veilnet\.internal, c1\.veilnet\.internal/);
  assert.match(text, /duplicate names.*web \(c2, c3\)/);
});
