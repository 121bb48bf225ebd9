import assert from "node:assert/strict";
import { findCommand } from "./command_specs.ts";
import { CliError } from "./errors.ts";
import { boolFlag, parseBoolEnv, parseCommand, renderCommandHelp, stringFlag } from "./flags.ts";

const spec = (name: string) => {
  const s = findCommand(name);
  assert.ok(s, name);
  return s;
};

function usageError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.code, "usage");
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes("\n"), "one line");
    return err;
  }
  assert.fail("expected a usage error");
}

Deno.test("register: short and long flags parse", () => {
  const p = parseCommand(spec("register"), [
    "-t",
    "reg-token",
    "-g",
    "http://127.0.0.1:9",
    "--tag",
    "web",
    "--cidr",
    "100.64.0.9/24",
    "-p",
    "--teams",
    "a,b",
    "--debug",
    "--rtc",
    "werift",
    "--no-relay",
  ], {});
  assert.equal(stringFlag(p, "token"), "reg-token");
  assert.equal(stringFlag(p, "guardian"), "http://127.0.0.1:9");
  assert.equal(stringFlag(p, "tag"), "web");
  assert.equal(stringFlag(p, "cidr"), "100.64.0.9/24");
  assert.equal(boolFlag(p, "portal"), true);
  assert.equal(stringFlag(p, "teams"), "a,b");
  assert.equal(boolFlag(p, "debug"), true);
  assert.equal(stringFlag(p, "rtc"), "werift");
  assert.equal(boolFlag(p, "no-relay"), true);
  assert.equal(p.values.get("token")?.origin, "flag");
});

Deno.test("register: every seed environment variable fills its flag", () => {
  const env = {
    VEILNET_REGISTRATION_TOKEN: "env-reg",
    VEILNET_GUARDIAN: "http://127.0.0.1:8",
    VEILNET_CONFLUX_TAG: "env-tag",
    VEILNET_CONFLUX_CIDR: "100.64.0.7/24",
    VEILNET_PORTAL: "true",
    VEILNET_CONFLUX_TEAMS: "x,y",
    VEILNET_DEBUG: "1",
    VEILNET_CONFIG_DIR: "/tmp/somewhere",
    VEILNET_CONFLUX_TOKEN: "not-for-register",
  };
  const p = parseCommand(spec("register"), [], env);
  assert.equal(stringFlag(p, "token"), "env-reg"); // the registration token, not the conflux one
  assert.equal(stringFlag(p, "guardian"), "http://127.0.0.1:8");
  assert.equal(stringFlag(p, "tag"), "env-tag");
  assert.equal(stringFlag(p, "cidr"), "100.64.0.7/24");
  assert.equal(boolFlag(p, "portal"), true);
  assert.equal(stringFlag(p, "teams"), "x,y");
  assert.equal(boolFlag(p, "debug"), true);
  assert.equal(stringFlag(p, "config-dir"), "/tmp/somewhere");
  assert.equal(p.values.get("tag")?.origin, "env");
});

Deno.test("up and run read VEILNET_CONFLUX_TOKEN, not the registration token", () => {
  for (const name of ["up", "run"]) {
    const p = parseCommand(spec(name), [], {
      VEILNET_CONFLUX_TOKEN: "conflux-tok",
      VEILNET_REGISTRATION_TOKEN: "reg",
    });
    assert.equal(stringFlag(p, "token"), "conflux-tok", name);
  }
});

Deno.test("a flag overrides its environment variable", () => {
  const p = parseCommand(spec("up"), ["-t", "flag-tok", "--guardian", "http://127.0.0.1:1"], {
    VEILNET_CONFLUX_TOKEN: "env-tok",
    VEILNET_GUARDIAN: "http://127.0.0.1:2",
  });
  assert.equal(stringFlag(p, "token"), "flag-tok");
  assert.equal(stringFlag(p, "guardian"), "http://127.0.0.1:1");
});

Deno.test("an empty environment variable counts as unset", () => {
  const p = parseCommand(spec("up"), [], { VEILNET_CONFLUX_TOKEN: "", VEILNET_PORTAL: "" });
  assert.equal(stringFlag(p, "token"), undefined);
  assert.equal(boolFlag(p, "portal"), undefined);
});

Deno.test("boolean environment values", () => {
  for (const v of ["true", "TRUE", "1", "yes", "on"]) assert.equal(parseBoolEnv("X", v), true);
  for (const v of ["false", "0", "no", "off"]) assert.equal(parseBoolEnv("X", v), false);
  const e = usageError(() => parseCommand(spec("up"), [], { VEILNET_PORTAL: "maybe" }));
  assert.match(e.message, /VEILNET_PORTAL=maybe .*true or false/);
});

Deno.test("unknown flags are one-line usage errors with the fix", () => {
  for (const name of ["register", "unregister", "up", "down", "start", "stop", "status"]) {
    const e = usageError(() => parseCommand(spec(name), ["--frobnicate"], {}));
    assert.match(e.message, /unknown flag --frobnicate/);
    assert.match(e.message, new RegExp(`veilnet-conflux ${name} --help`));
  }
});

Deno.test("missing values name the flag and show how to write it", () => {
  let e = usageError(() => parseCommand(spec("register"), ["-t"], {}));
  assert.match(e.message, /--token needs a value: write --token TOKEN/);
  e = usageError(() => parseCommand(spec("register"), ["--guardian"], {}));
  assert.match(e.message, /--guardian needs a value/);
  e = usageError(() => parseCommand(spec("run"), ["--config-dir"], {}));
  assert.match(e.message, /--config-dir needs a value: write --config-dir DIR/);
  e = usageError(() => parseCommand(spec("register"), ["--tag", ""], {}));
  assert.match(e.message, /--tag is empty/);
});

Deno.test("switches take no value", () => {
  const e = usageError(() => parseCommand(spec("register"), ["--portal=yes"], {}));
  assert.match(e.message, /--portal takes no value/);
});

Deno.test("choices are checked for flags and environment", () => {
  let e = usageError(() => parseCommand(spec("run"), ["--rtc", "quic"], {}));
  assert.match(e.message, /--rtc must be one of auto, werift, libdatachannel/);
  e = usageError(() => parseCommand(spec("run"), [], { VEILNET_RTC: "quic" }));
  assert.match(e.message, /VEILNET_RTC must be one of/);
  const p = parseCommand(spec("run"), ["--rtc", "libdatachannel"], {});
  assert.equal(stringFlag(p, "rtc"), "libdatachannel");
});

Deno.test("positional arguments are refused where none are expected", () => {
  const e = usageError(() => parseCommand(spec("status"), ["extra"], {}));
  assert.match(e.message, /unexpected argument "extra"/);
  const p = parseCommand(spec("teams"), ["add", "dev"], {});
  assert.deepEqual(p.positionals, ["add", "dev"]);
});

Deno.test("every command has --help listing each flag and its variable", () => {
  for (const name of ["register", "up", "run", "teams", "info", "status"]) {
    const s = spec(name);
    const text = renderCommandHelp(s);
    const p = parseCommand(s, ["--help"], {});
    assert.equal(boolFlag(p, "help"), true);
    for (const f of s.flags) {
      assert.ok(text.includes(`--${f.name}`), `${name} --${f.name}`);
      if (f.env) assert.ok(text.includes(f.env), `${name} ${f.env}`);
    }
  }
});
