/**
 * Shared setup of the CLI integration tests: a temp config dir, the real systemd driver over a
 * temp unit directory with a simulated systemctl (this host has no systemd as PID 1), and output
 * collectors. The real systemd is exercised by tests/service_systemd_test.ts.
 *
 * @module
 */
import { join } from "node:path";
import type { NodeOptions } from "../core/node/mod.ts";
import type { CliDeps } from "../cli/mod.ts";
import { main } from "../cli/mod.ts";
import { systemdManager } from "../service/mod.ts";
import { FakeSystemctl } from "./service_fake_systemctl.ts";

/** A sandbox for running CLI commands in-process. */
export interface CliHarness {
  /** Config dir passed with --config-dir. */
  configDir: string;
  /** Unit directory the systemd driver writes to. */
  unitDir: string;
  /** The simulated systemctl. */
  systemctl: FakeSystemctl;
  /** Collected standard output and error lines. */
  out: string[];
  err: string[];
  /** NodeOptions of every runNode call. */
  nodeRuns: NodeOptions[];
  /** Whether the machine "has systemd"; false makes check() fail like on this host. */
  setSystemd(on: boolean): void;
  /** Runs the CLI with `args` plus `--config-dir`; resolves to the exit code. */
  run(args: string[], env?: Record<string, string>): Promise<number>;
  /** Text of the installed unit, or null. */
  unit(): Promise<string | null>;
  /** Removes everything. */
  cleanup(): Promise<void>;
}

/** Creates a harness; call `cleanup()` in `finally`. */
export async function cliHarness(): Promise<CliHarness> {
  const root = await Deno.makeTempDir({ prefix: "veilnet-cli-test-" });
  const configDir = join(root, "config");
  const unitDir = join(root, "units");
  const marker = join(root, "run-systemd-system");
  await Deno.mkdir(unitDir);
  await Deno.mkdir(marker);
  const systemctl = new FakeSystemctl(unitDir);
  const out: string[] = [];
  const err: string[] = [];
  const nodeRuns: NodeOptions[] = [];
  const deps: Partial<CliDeps> = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    serviceManager: () =>
      systemdManager({ runner: systemctl, unitDir, isRoot: true, bootedMarker: marker }),
    selfCommand: () => ["/usr/local/bin/veilnet-conflux"],
    serviceEnvironment: () => ({}),
    runNode: (options, signal) => {
      nodeRuns.push(options);
      if (!signal.aborted) throw new Error("test expected an aborted signal");
      return Promise.resolve();
    },
    shutdownSignal: () => AbortSignal.abort(),
  };
  return {
    configDir,
    unitDir,
    systemctl,
    out,
    err,
    nodeRuns,
    setSystemd(on) {
      if (on) Deno.mkdirSync(marker, { recursive: true });
      else Deno.removeSync(marker);
    },
    run: (args, env = {}) => main([...args, "--config-dir", configDir], { ...deps, env }),
    unit: () => Deno.readTextFile(join(unitDir, "veilnet.service")).catch(() => null),
    cleanup: () => Deno.remove(root, { recursive: true }),
  };
}
