import assert from "node:assert/strict";
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import { describeService } from "./description.ts";
import { windowsManager } from "./windows.ts";
import {
  scControlCommands,
  scInstallCommands,
  windowsCommandLine,
  windowsQuote,
} from "./windows_sc.ts";

/** Splits a command line the way CommandLineToArgvW / the MS C runtime do. */
function splitWindows(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) break;
    let word = "";
    let quoted = false;
    while (i < line.length && (quoted || (line[i] !== " " && line[i] !== "\t"))) {
      if (line[i] === "\\") {
        let n = 0;
        while (line[i] === "\\") {
          n++;
          i++;
        }
        if (line[i] === '"') {
          word += "\\".repeat(Math.floor(n / 2));
          if (n % 2 === 1) {
            word += '"';
            i++;
          }
        } else {
          word += "\\".repeat(n);
        }
      } else if (line[i] === '"') {
        quoted = !quoted;
        i++;
      } else {
        word += line[i++];
      }
    }
    out.push(word);
  }
  return out;
}

const service = describeService({
  command: ["C:\\Program Files\\VeilNet\\veilnet-conflux.exe"],
  configDir: "C:\\ProgramData\\conflux",
  profile: "register",
});

Deno.test("sc.exe create: quoted binPath that splits back into the service's argv", () => {
  const cmds = scInstallCommands(service);
  assert.deepEqual(cmds.create.slice(0, 3), ["create", "VeilNet Conflux", "binPath="]);
  assert.deepEqual(cmds.create.slice(4), ["start=", "auto", "DisplayName=", "VeilNet Conflux"]);
  const binPath = cmds.create[3];
  assert.equal(binPath, windowsCommandLine(service));
  assert.ok(binPath.startsWith('"C:\\Program Files\\VeilNet\\veilnet-conflux.exe" run'));
  assert.deepEqual(splitWindows(binPath), service.argv);
  assert.deepEqual(cmds.failure, [
    "failure",
    "VeilNet Conflux",
    "reset=",
    "86400",
    "actions=",
    "restart/5000/restart/5000/restart/5000",
  ]);
  assert.deepEqual(scControlCommands("VeilNet Conflux").start, ["start", "VeilNet Conflux"]);
});

Deno.test("Windows quoting round-trips awkward arguments", () => {
  const words = ["plain", "with space", 'a"b', "trail\\", "C:\\dir with space\\", 'x\\"y', ""];
  assert.deepEqual(splitWindows(words.map(windowsQuote).join(" ")), words);
});

class FakeSc implements CommandRunner {
  calls: string[][] = [];
  installed = false;
  running = false;
  run(program: string, args: string[]): Promise<CommandResult> {
    this.calls.push([program, ...args]);
    const r = (code: number, stdout = ""): Promise<CommandResult> =>
      Promise.resolve({ code, stdout, stderr: "" });
    switch (args[0]) {
      case "create":
        this.installed = true;
        return r(0, "[SC] CreateService SUCCESS");
      case "description":
      case "failure":
        return r(0);
      case "queryex":
        if (!this.installed) return r(1060, "[SC] EnumQueryServicesStatus:OpenService FAILED 1060");
        return r(
          0,
          `SERVICE_NAME: VeilNet Conflux\n        TYPE               : 10  WIN32_OWN_PROCESS\n` +
            `        STATE              : ${this.running ? "4  RUNNING" : "1  STOPPED"}\n` +
            `        PID                : ${this.running ? 812 : 0}\n`,
        );
      case "start":
        this.running = true;
        return r(0);
      case "stop":
        if (!this.running) return r(1062);
        this.running = false;
        return r(0);
      case "delete":
        this.installed = false;
        return r(0);
      case "qc":
        return r(0, `        BINARY_PATH_NAME   : ${windowsCommandLine(service)}\n`);
      default:
        return r(1);
    }
  }
}

Deno.test("Windows driver: install, start, status, remove through sc.exe", async () => {
  const sc = new FakeSc();
  const m = windowsManager({ runner: sc });
  assert.equal((await m.status()).state, "not-installed");
  await m.install(service);
  await m.start();
  const s = await m.status();
  assert.equal(s.state, "running");
  assert.equal(s.pid, 812);
  const snap = await m.snapshot();
  assert.deepEqual(snap, { definition: windowsCommandLine(service), running: true });
  await m.remove();
  assert.equal(sc.installed, false);
  await m.restore(snap);
  assert.equal(sc.installed && sc.running, true);
  assert.ok(sc.calls.every((c) => c[0] === "sc.exe"));
  assert.deepEqual(sc.calls.map((c) => c[1]), [
    "queryex",
    "create",
    "description",
    "failure",
    "start",
    "queryex",
    "queryex",
    "qc",
    "queryex",
    "stop",
    "delete",
    "queryex",
    "create",
    "start",
  ]);
});
