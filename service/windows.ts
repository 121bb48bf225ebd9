/**
 * Drives the Windows service control manager through `sc.exe`.
 *
 * @module
 */
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import { type ServiceDescription, WINDOWS_NAME } from "./description.ts";
import { ServiceError } from "./errors.ts";
import type { ServiceManager, ServiceSnapshot, ServiceStatus } from "./manager.ts";
import { scControlCommands, scInstallCommands } from "./windows_sc.ts";

/** sc.exe exit code for "The specified service does not exist as an installed service". */
const NOT_INSTALLED = 1060;
/** sc.exe exit code for "The service has not been started". */
const NOT_STARTED = 1062;

/** Options of {@link windowsManager}. */
export interface WindowsOptions {
  /** Runs sc.exe. */
  runner: CommandRunner;
}

/** A ServiceManager for the Windows SCM. */
export function windowsManager(options: WindowsOptions): ServiceManager {
  const sc = async (args: string[], allowFail = false): Promise<CommandResult> => {
    const result = await options.runner.run("sc.exe", args);
    if (result.code !== 0 && !allowFail) {
      const text = (result.stdout + result.stderr).trim().replace(/\s+/g, " ");
      const hint = result.code === 5 ? " — run the terminal as Administrator" : "";
      throw new ServiceError(
        result.code === 5 ? "permission" : "command-failed",
        `sc.exe ${args[0]} failed (exit ${result.code}): ${text}${hint}`,
      );
    }
    return result;
  };
  const name = WINDOWS_NAME;
  const names = scControlCommands(name);

  const query = async (): Promise<{ installed: boolean; state: string; pid?: number }> => {
    const r = await sc(names.queryex, true);
    if (r.code === NOT_INSTALLED) return { installed: false, state: "" };
    if (r.code !== 0) await sc(names.queryex); // throws with sc.exe's message
    const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(r.stdout)?.[1] ?? "UNKNOWN";
    const pid = Number(/PID\s*:\s*(\d+)/.exec(r.stdout)?.[1] ?? "0");
    return { installed: true, state, pid: pid > 0 ? pid : undefined };
  };

  const manager: ServiceManager = {
    kind: "windows",
    location: name,
    check: () => Promise.resolve(),
    async install(service: ServiceDescription) {
      const cmds = scInstallCommands(service);
      await sc(cmds.create);
      await sc(cmds.description, true);
      await sc(cmds.failure, true);
    },
    async start() {
      await sc(names.start);
    },
    async stop() {
      const r = await sc(names.stop, true);
      if (r.code !== 0 && r.code !== NOT_STARTED && r.code !== NOT_INSTALLED) await sc(names.stop);
    },
    async status(): Promise<ServiceStatus> {
      const q = await query();
      if (!q.installed) return { state: "not-installed", detail: `service "${name}" not found` };
      const map: Record<string, ServiceStatus["state"]> = {
        RUNNING: "running",
        START_PENDING: "starting",
        STOPPED: "stopped",
        STOP_PENDING: "stopped",
      };
      return { state: map[q.state] ?? "stopped", pid: q.pid, detail: q.state };
    },
    async remove() {
      if (!(await query()).installed) return;
      await manager.stop();
      await sc(names.delete);
    },
    async snapshot(): Promise<ServiceSnapshot> {
      const q = await query();
      if (!q.installed) return { definition: null, running: false };
      const qc = await sc(names.qc);
      const binPath = /BINARY_PATH_NAME\s*:\s*(.*)$/m.exec(qc.stdout)?.[1]?.trim() ?? null;
      return { definition: binPath, running: q.state === "RUNNING" };
    },
    async restore(snapshot: ServiceSnapshot) {
      await manager.remove();
      if (snapshot.definition === null) return;
      await sc(["create", name, "binPath=", snapshot.definition, "start=", "auto"]);
      if (snapshot.running) await sc(names.start);
    },
  };
  return manager;
}
