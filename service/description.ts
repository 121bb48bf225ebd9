/**
 * One description of the VeilNet Conflux system service. The systemd unit, the launchd plist and
 * the Windows `sc.exe` command lines are all rendered from it, so the three cannot drift apart.
 *
 * @module
 */

/** systemd unit name (without `.service`): `systemctl status veilnet`. */
export const SYSTEMD_NAME = "veilnet";
/** launchd label: `launchctl list | grep org.veilnet.conflux`. */
export const LAUNCHD_LABEL = "org.veilnet.conflux";
/** Windows service name: `Get-Service "VeilNet Conflux"`. */
export const WINDOWS_NAME = "VeilNet Conflux";

/** Everything a service manager needs to run the node. */
export interface ServiceDescription {
  /** systemd unit name without the `.service` suffix. */
  systemdName: string;
  /** launchd label. */
  launchdLabel: string;
  /** Windows service name (also its display name). */
  windowsName: string;
  /** One-line human description. */
  summary: string;
  /** Absolute program path followed by its arguments. */
  argv: string[];
  /** Extra environment for the process (never secrets: tokens live in the 0600 config file). */
  environment: Record<string, string>;
  /** Directory the process starts in (absolute). */
  workingDirectory: string;
  /** Linux capabilities the node needs (TUN creation, routes, raw sockets). */
  capabilities: string[];
  /** Seconds to wait before restarting after a failure. */
  restartDelaySeconds: number;
  /** Where launchd writes the process's output (macOS has no journal for daemons). */
  logFile: string;
}

/** How the running executable can be started again by a service manager. */
export interface SelfCommandOptions {
  /** `Deno.execPath()`: the deno binary, or the compiled `veilnet-conflux` executable. */
  execPath: string;
  /** `Deno.build.standalone`: true inside a `deno compile`d executable. */
  standalone: boolean;
  /** `Deno.mainModule`: the entry module URL (used when running under `deno run`). */
  mainModule: string;
  /** Path of the deno.json that holds the import map, when running from source. */
  denoConfig?: string;
}

/**
 * The argv prefix that starts this program again: the executable itself when compiled, else
 * `deno run -A [--config deno.json] <main module>` so that services work in development too.
 */
export function selfCommand(options: SelfCommandOptions): string[] {
  if (options.standalone) return [options.execPath];
  const url = new URL(options.mainModule);
  if (url.protocol !== "file:") {
    throw new Error(`cannot run a service from a non-file main module: ${options.mainModule}`);
  }
  const main = decodeURIComponent(url.pathname);
  const config = options.denoConfig ? ["--config", options.denoConfig] : [];
  return [options.execPath, "run", "-A", ...config, main];
}

/** Inputs of {@link describeService}. */
export interface DescribeServiceOptions {
  /** From {@link selfCommand}. */
  command: string[];
  /** The config directory the service passes to `run --config-dir`. */
  configDir: string;
  /** Which saved file `run` reads: `conflux.json` (register) or `up.json` (up). */
  profile: "register" | "up";
  /** Extra environment (e.g. DENO_DIR when running from source). */
  environment?: Record<string, string>;
  /** Log file for launchd; default `/var/log/veilnet-conflux.log`. */
  logFile?: string;
}

/** Builds the description of the service that runs `<command> run --config-dir DIR --profile P`. */
export function describeService(options: DescribeServiceOptions): ServiceDescription {
  if (options.command.length === 0) throw new Error("service command is empty");
  return {
    systemdName: SYSTEMD_NAME,
    launchdLabel: LAUNCHD_LABEL,
    windowsName: WINDOWS_NAME,
    summary: "VeilNet Conflux",
    argv: [
      ...options.command,
      "run",
      "--config-dir",
      options.configDir,
      "--profile",
      options.profile,
    ],
    environment: { ...(options.environment ?? {}) },
    workingDirectory: options.configDir,
    capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"],
    restartDelaySeconds: 5,
    logFile: options.logFile ?? "/var/log/veilnet-conflux.log",
  };
}
