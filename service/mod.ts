/**
 * System service management for the conflux: one description rendered as a systemd unit, a
 * launchd plist or Windows `sc.exe` command lines, and drivers for each OS's manager.
 *
 * @module
 */
export * from "./description.ts";
export * from "./errors.ts";
export type { ServiceManager, ServiceSnapshot, ServiceState, ServiceStatus } from "./manager.ts";
export { type CommandResult, type CommandRunner, systemRunner } from "./command_runner.ts";
export { renderSystemdUnit, systemdQuote } from "./systemd_unit.ts";
export { renderLaunchdPlist } from "./launchd_plist.ts";
export { scControlCommands, scInstallCommands, windowsCommandLine } from "./windows_sc.ts";
export { systemdBooted, systemdManager } from "./systemd.ts";
export { launchdManager } from "./launchd.ts";
export { windowsManager } from "./windows.ts";
export { unsupportedManager } from "./unsupported.ts";

import type { CommandRunner } from "./command_runner.ts";
import { launchdManager } from "./launchd.ts";
import type { ServiceManager } from "./manager.ts";
import { systemdManager } from "./systemd.ts";
import { unsupportedManager } from "./unsupported.ts";
import { windowsManager } from "./windows.ts";

/** The service manager of this OS. */
export function detectServiceManager(
  os: typeof Deno.build.os,
  runner: CommandRunner,
): ServiceManager {
  switch (os) {
    case "linux":
      // On Linux without systemd, check() explains what to do instead.
      return systemdManager({ runner });
    case "darwin":
      return launchdManager({ runner });
    case "windows":
      return windowsManager({ runner });
    default:
      return unsupportedManager(`no service manager is supported on ${os}`);
  }
}
