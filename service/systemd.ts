/**
 * Drives systemd: writes `/etc/systemd/system/veilnet.service` and runs `systemctl`.
 *
 * @module
 */
import { join } from "node:path";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "../core/fs/atomic_file.ts";
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import { type ServiceDescription, SYSTEMD_NAME } from "./description.ts";
import { ServiceError } from "./errors.ts";
import type { ServiceManager, ServiceSnapshot, ServiceState, ServiceStatus } from "./manager.ts";
import { renderSystemdUnit } from "./systemd_unit.ts";

/** Options of {@link systemdManager}. */
export interface SystemdOptions {
  /** Runs systemctl. */
  runner: CommandRunner;
  /** Directory of admin units; default `/etc/systemd/system`. */
  unitDir?: string;
  /** Whether the caller is root; default `Deno.uid() === 0`. */
  isRoot?: boolean;
  /** Directory whose existence means systemd is PID 1 (sd_booted); default `/run/systemd/system`. */
  bootedMarker?: string;
}

/** True when systemd is the running init (the same test as sd_booted(3)). */
export function systemdBooted(marker = "/run/systemd/system"): boolean {
  try {
    return Deno.statSync(marker).isDirectory;
  } catch {
    return false;
  }
}

/** A ServiceManager for systemd. */
export function systemdManager(options: SystemdOptions): ServiceManager {
  const unit = `${SYSTEMD_NAME}.service`;
  const unitPath = join(options.unitDir ?? "/etc/systemd/system", unit);
  const runner = options.runner;

  const systemctl = async (args: string[], allowFail = false): Promise<CommandResult> => {
    const result = await runner.run("systemctl", args);
    if (result.code !== 0 && !allowFail) {
      const why = (result.stderr || result.stdout).trim().split("\n")[0] ?? "";
      throw new ServiceError(
        "command-failed",
        `systemctl ${args.join(" ")} failed (exit ${result.code}): ${why}` +
          ` — see \`journalctl -u ${SYSTEMD_NAME}\``,
      );
    }
    return result;
  };

  const show = async (): Promise<Record<string, string>> => {
    const r = await systemctl(
      ["show", unit, "-p", "LoadState,ActiveState,SubState,MainPID", "--no-pager"],
      true,
    );
    const props: Record<string, string> = {};
    for (const line of r.stdout.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1).trim();
    }
    return props;
  };

  const manager: ServiceManager = {
    kind: "systemd",
    location: unitPath,
    check() {
      if (!systemdBooted(options.bootedMarker)) {
        return Promise.reject(
          new ServiceError(
            "unsupported",
            "systemd is not running on this machine, so no service can be installed: " +
              "use --debug to run in the foreground, or start `veilnet-conflux run` from your " +
              "init system (OpenRC, runit, s6, a container entrypoint)",
          ),
        );
      }
      if (!(options.isRoot ?? Deno.uid() === 0)) {
        return Promise.reject(
          new ServiceError("permission", "installing a service needs root: run it with sudo"),
        );
      }
      return Promise.resolve();
    },
    async install(service: ServiceDescription) {
      await writeFileAtomic(unitPath, renderSystemdUnit(service), { mode: 0o644 });
      await systemctl(["daemon-reload"]);
      await systemctl(["enable", unit]);
    },
    async start() {
      await systemctl(["start", unit]);
    },
    async stop() {
      if ((await readTextIfExists(unitPath)) === null) return;
      await systemctl(["stop", unit]);
    },
    async status(): Promise<ServiceStatus> {
      if ((await readTextIfExists(unitPath)) === null) {
        return { state: "not-installed", detail: `${unitPath} does not exist` };
      }
      const p = await show();
      const active = p.ActiveState ?? "unknown";
      const map: Record<string, ServiceState> = {
        active: "running",
        reloading: "running",
        activating: "starting",
        deactivating: "stopped",
        inactive: "stopped",
        failed: "failed",
      };
      const pid = Number(p.MainPID ?? "0");
      return {
        state: map[active] ?? "stopped",
        pid: pid > 0 ? pid : undefined,
        detail: `${active} (${p.SubState ?? "unknown"})`,
      };
    },
    async remove() {
      if ((await readTextIfExists(unitPath)) === null) return;
      await systemctl(["stop", unit], true);
      await systemctl(["disable", unit], true);
      await removeIfExists(unitPath);
      await systemctl(["daemon-reload"]);
      // Forget a failed state so `systemctl status veilnet` reports "could not be found".
      await systemctl(["reset-failed", unit], true);
    },
    async snapshot(): Promise<ServiceSnapshot> {
      const definition = await readTextIfExists(unitPath);
      if (definition === null) return { definition, running: false };
      return { definition, running: (await show()).ActiveState === "active" };
    },
    async restore(snapshot: ServiceSnapshot) {
      await manager.remove();
      if (snapshot.definition === null) return;
      await writeFileAtomic(unitPath, snapshot.definition, { mode: 0o644 });
      await systemctl(["daemon-reload"]);
      await systemctl(["enable", unit]);
      if (snapshot.running) await systemctl(["start", unit]);
    },
  };
  return manager;
}
