/**
 * A stand-in for `systemctl` on machines where systemd is not PID 1 (this host, CI): it keeps
 * the loaded/enabled/active state of units read from a unit directory, and can be told to fail a
 * given step, so the real systemd driver and the CLI's rollback can be exercised end to end. The
 * real systemd is exercised by tests/service_systemd_test.ts.
 *
 * @module
 */
import { join } from "node:path";
import type { CommandResult, CommandRunner } from "../service/mod.ts";

/** A simulated systemctl over the unit files in `unitDir`. */
export class FakeSystemctl implements CommandRunner {
  /** Every call, as `systemctl arg…`. */
  readonly calls: string[] = [];
  /** Unit name → unit text as of the last daemon-reload. */
  readonly loaded = new Map<string, string>();
  /** Enabled units. */
  readonly enabled = new Set<string>();
  /** Running units. */
  readonly active = new Set<string>();
  /** The first call for which this returns true fails with exit 1 (then it is cleared). */
  failWhen: ((args: string[]) => boolean) | null = null;

  /** Simulates systemd over the unit files of `unitDir`. */
  constructor(readonly unitDir: string) {}

  /** Implements CommandRunner. */
  run(program: string, args: string[]): Promise<CommandResult> {
    this.calls.push([program, ...args].join(" "));
    const ok = (stdout = ""): Promise<CommandResult> =>
      Promise.resolve({ code: 0, stdout, stderr: "" });
    const fail = (stderr: string, code = 1): Promise<CommandResult> =>
      Promise.resolve({ code, stdout: "", stderr });
    if (program !== "systemctl") return fail(`${program}: command not found`, 127);
    if (this.failWhen?.(args)) {
      this.failWhen = null;
      return fail(`Job for ${args[1] ?? "?"} failed (simulated)`);
    }
    const unit = args[1] ?? "";
    switch (args[0]) {
      case "daemon-reload": {
        this.loaded.clear();
        for (const e of Deno.readDirSync(this.unitDir)) {
          if (e.name.endsWith(".service")) {
            this.loaded.set(e.name, Deno.readTextFileSync(join(this.unitDir, e.name)));
          }
        }
        for (const u of [...this.active]) if (!this.loaded.has(u)) this.active.delete(u);
        return ok();
      }
      case "enable":
        if (!this.loaded.has(unit)) return fail(`Unit file ${unit} does not exist.`);
        this.enabled.add(unit);
        return ok();
      case "disable":
        this.enabled.delete(unit);
        return ok();
      case "start":
        if (!this.loaded.has(unit)) return fail(`Unit ${unit} not found.`, 5);
        this.active.add(unit);
        return ok();
      case "stop":
        this.active.delete(unit);
        return ok();
      case "reset-failed":
        return ok();
      case "show": {
        const on = this.active.has(unit);
        return ok(
          [
            `LoadState=${this.loaded.has(unit) ? "loaded" : "not-found"}`,
            `ActiveState=${on ? "active" : "inactive"}`,
            `SubState=${on ? "running" : "dead"}`,
            `MainPID=${on ? 4242 : 0}`,
          ].join("\n") + "\n",
        );
      }
      default:
        return fail(`unsupported in the fake: ${args.join(" ")}`);
    }
  }
}
