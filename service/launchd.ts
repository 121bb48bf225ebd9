/**
 * Drives launchd: writes `/Library/LaunchDaemons/org.veilnet.conflux.plist` and runs `launchctl`.
 *
 * @module
 */
import { join } from "node:path";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "../core/fs/atomic_file.ts";
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import { LAUNCHD_LABEL, type ServiceDescription } from "./description.ts";
import { ServiceError } from "./errors.ts";
import { LAUNCH_DAEMONS_DIR, renderLaunchdPlist } from "./launchd_plist.ts";
import type { ServiceManager, ServiceSnapshot, ServiceStatus } from "./manager.ts";

/** Options of {@link launchdManager}. */
export interface LaunchdOptions {
  /** Runs launchctl. */
  runner: CommandRunner;
  /** Default `/Library/LaunchDaemons`. */
  daemonsDir?: string;
  /** Whether the caller is root; default `Deno.uid() === 0`. */
  isRoot?: boolean;
}

/** A ServiceManager for macOS launchd (system domain). */
export function launchdManager(options: LaunchdOptions): ServiceManager {
  const plistPath = join(options.daemonsDir ?? LAUNCH_DAEMONS_DIR, `${LAUNCHD_LABEL}.plist`);
  const target = `system/${LAUNCHD_LABEL}`;
  const launchctl = async (args: string[], allowFail = false): Promise<CommandResult> => {
    const result = await options.runner.run("launchctl", args);
    if (result.code !== 0 && !allowFail) {
      const why = (result.stderr || result.stdout).trim().split("\n")[0] ?? "";
      throw new ServiceError(
        "command-failed",
        `launchctl ${args.join(" ")} failed (exit ${result.code}): ${why}`,
      );
    }
    return result;
  };
  const loaded = async () => (await launchctl(["print", target], true)).code === 0;

  const manager: ServiceManager = {
    kind: "launchd",
    location: plistPath,
    check() {
      if (!(options.isRoot ?? Deno.uid() === 0)) {
        return Promise.reject(
          new ServiceError("permission", "installing a launch daemon needs root: run it with sudo"),
        );
      }
      return Promise.resolve();
    },
    async install(service: ServiceDescription) {
      await writeFileAtomic(plistPath, renderLaunchdPlist(service), { mode: 0o644 });
      await launchctl(["enable", target]);
    },
    async start() {
      // bootstrap loads the daemon (RunAtLoad starts it); kickstart covers an already loaded one.
      if (!(await loaded())) await launchctl(["bootstrap", "system", plistPath]);
      await launchctl(["kickstart", target]);
    },
    async stop() {
      if (await loaded()) await launchctl(["bootout", target]);
    },
    async status(): Promise<ServiceStatus> {
      if ((await readTextIfExists(plistPath)) === null) {
        return { state: "not-installed", detail: `${plistPath} does not exist` };
      }
      const r = await launchctl(["print", target], true);
      if (r.code !== 0) return { state: "stopped", detail: "not loaded" };
      const state = /^\s*state = (\S+)/m.exec(r.stdout)?.[1] ?? "unknown";
      const pid = Number(/^\s*pid = (\d+)/m.exec(r.stdout)?.[1] ?? "0");
      return {
        state: state === "running" ? "running" : "stopped",
        pid: pid > 0 ? pid : undefined,
        detail: `state = ${state}`,
      };
    },
    async remove() {
      if (await loaded()) await launchctl(["bootout", target], true);
      await removeIfExists(plistPath);
    },
    async snapshot(): Promise<ServiceSnapshot> {
      const definition = await readTextIfExists(plistPath);
      return { definition, running: definition !== null && (await loaded()) };
    },
    async restore(snapshot: ServiceSnapshot) {
      await manager.remove();
      if (snapshot.definition === null) return;
      await writeFileAtomic(plistPath, snapshot.definition, { mode: 0o644 });
      await launchctl(["enable", target]);
      if (snapshot.running) await launchctl(["bootstrap", "system", plistPath]);
    },
  };
  return manager;
}
