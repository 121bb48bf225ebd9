/**
 * Everything the commands touch outside their arguments: environment, output, the OS service
 * manager, the node runtime and the shutdown signal. Tests pass their own pieces.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { consoleLogger, type Logger } from "../core/log/logger.ts";
import type { NodeOptions } from "../core/node/mod.ts";
import {
  detectServiceManager,
  selfCommand,
  type ServiceManager,
  systemRunner,
} from "../service/mod.ts";

/** What a command may use. */
export interface CliDeps {
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** The OS (selects config dir and service manager). */
  os: typeof Deno.build.os;
  /** Prints a line to standard output. */
  stdout(text: string): void;
  /** Prints a line to standard error. */
  stderr(text: string): void;
  /** The service manager of this machine (created on first use). */
  serviceManager(): ServiceManager;
  /** The node runtime (`runNode` of core/node/mod.ts). */
  runNode(options: NodeOptions, signal: AbortSignal): Promise<void>;
  /** argv prefix that starts this program again (for the service definition). */
  selfCommand(): string[];
  /** Extra environment the service needs (DENO_DIR when running from source). */
  serviceEnvironment(): Record<string, string>;
  /** A signal aborted on SIGINT/SIGTERM (Ctrl-C, `systemctl stop`). */
  shutdownSignal(): AbortSignal;
  /** Logger handed to the node. */
  log: Logger;
}

/** Variables a from-source service inherits from the shell that installs it (no secrets). */
const SERVICE_ENV_PASSTHROUGH = [
  "HOME",
  "XDG_CACHE_HOME",
  "VEILNET_CACHE_DIR",
  "VEILNET_TUN_LIBRARY",
];

/** Where Deno keeps its module cache when DENO_DIR is not set (see `deno info`). */
function denoDir(env: Record<string, string | undefined>): string | undefined {
  if (env.DENO_DIR) return env.DENO_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "deno");
  if (env.HOME) return join(env.HOME, ".cache", "deno");
  return undefined;
}

/** The real dependencies of the `veilnet-conflux` executable. */
export function defaultDeps(): CliDeps {
  const env = Deno.env.toObject();
  let manager: ServiceManager | undefined;
  let signal: AbortSignal | undefined;
  const debug = /^(1|true|yes|on)$/i.test(env.VEILNET_DEBUG ?? "");
  return {
    env,
    os: Deno.build.os,
    stdout: (text) => console.log(text),
    stderr: (text) => console.error(text),
    serviceManager: () => manager ??= detectServiceManager(Deno.build.os, systemRunner()),
    runNode: async (options, abort) => {
      // Loaded on demand: the data plane pulls in WebRTC and NATS, which other commands never need.
      const node = await import("../core/node/mod.ts");
      return node.runNode(options, abort);
    },
    selfCommand: () => {
      const standalone = Deno.build.standalone;
      let denoConfig: string | undefined;
      if (!standalone && Deno.mainModule.startsWith("file:")) {
        const candidate = join(dirname(fileURLToPath(Deno.mainModule)), "deno.json");
        try {
          if (Deno.statSync(candidate).isFile) denoConfig = candidate;
        } catch {
          // A bundled single file has no deno.json beside it and needs none.
        }
      }
      return selfCommand({
        execPath: Deno.execPath(),
        standalone,
        mainModule: Deno.mainModule,
        denoConfig,
      });
    },
    serviceEnvironment: (): Record<string, string> => {
      if (Deno.build.standalone) return {};
      // From source, the service must find the same module cache and TUN shim as this shell;
      // service managers start processes with an almost empty environment (no HOME).
      const out: Record<string, string> = {};
      const dir = denoDir(env);
      if (dir) out.DENO_DIR = dir;
      for (const name of SERVICE_ENV_PASSTHROUGH) {
        const value = env[name];
        if (value) out[name] = value;
      }
      return out;
    },
    shutdownSignal: () => {
      if (signal) return signal;
      const controller = new AbortController();
      const stop = () => controller.abort();
      for (const s of ["SIGINT", "SIGTERM"] as const) {
        if (Deno.build.os === "windows" && s === "SIGTERM") continue;
        Deno.addSignalListener(s, stop);
      }
      return (signal = controller.signal);
    },
    log: consoleLogger(debug ? "debug" : "info"),
  };
}
