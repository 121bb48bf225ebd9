/**
 * The `veilnet-conflux` command line: parses arguments, dispatches to a command, turns typed
 * errors into one-line messages and exit codes.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { ServiceError } from "../service/mod.ts";
import { findCommand } from "./command_specs.ts";
import { downCommand } from "./commands/down.ts";
import { infoCommand } from "./commands/info.ts";
import { netcheckCommand } from "./netcheck/command.ts";
import { pingCommand } from "./commands/ping.ts";
import { registerCommand } from "./commands/register.ts";
import { runCommand } from "./commands/run.ts";
import {
  removeCommand,
  startCommand,
  statusCommand,
  stopCommand,
} from "./commands/service_control.ts";
import { teamsCommand } from "./commands/teams.ts";
import { unregisterCommand } from "./commands/unregister.ts";
import { upCommand } from "./commands/up.ts";
import { defaultConfigDir } from "./config_dir.ts";
import type { CommandContext } from "./context.ts";
import { type CliDeps, defaultDeps } from "./deps.ts";
import { CliError } from "./errors.ts";
import { boolFlag, parseCommand, renderCommandHelp, stringFlag } from "./flags.ts";
import { renderGeneralHelp } from "./help.ts";
import { VERSION } from "./version.ts";

export { CliError } from "./errors.ts";
export type { CliDeps } from "./deps.ts";
export { defaultDeps } from "./deps.ts";

const HANDLERS: Record<string, (ctx: CommandContext) => Promise<number>> = {
  register: registerCommand,
  unregister: unregisterCommand,
  up: upCommand,
  down: downCommand,
  start: startCommand,
  stop: stopCommand,
  status: statusCommand,
  remove: removeCommand,
  run: runCommand,
  info: infoCommand,
  teams: teamsCommand,
  netcheck: netcheckCommand,
  ping: pingCommand,
};

/**
 * Moves global flags written before the command (`--config-dir DIR`, `-h`, `--version`) behind
 * it, so `veilnet-conflux --config-dir X status` and `veilnet-conflux status --config-dir X` agree.
 */
function splitGlobal(args: string[]): { command: string | undefined; rest: string[] } {
  const globals: string[] = [];
  let i = 0;
  for (; i < args.length && args[i].startsWith("-"); i++) {
    const a = args[i];
    if (a === "--config-dir") {
      if (i + 1 >= args.length) {
        throw new CliError("usage", "--config-dir needs a value: write --config-dir DIR");
      }
      globals.push(a, args[++i]);
    } else if (a.startsWith("--config-dir=")) {
      globals.push(a);
    } else if (a === "-h" || a === "--help") {
      return { command: "help", rest: [] };
    } else if (a === "-v" || a === "--version") {
      return { command: "version", rest: [] };
    } else {
      throw new CliError(
        "usage",
        `unknown flag ${a} before the command: see \`veilnet-conflux help\``,
      );
    }
  }
  return { command: args[i], rest: [...args.slice(i + 1), ...globals] };
}

async function dispatch(args: string[], deps: CliDeps): Promise<number> {
  const { command, rest } = splitGlobal(args);
  if (command === undefined) {
    deps.stdout(renderGeneralHelp());
    return 0;
  }
  const spec = findCommand(command);
  if (!spec) {
    throw new CliError(
      "usage",
      `unknown command "${command}": run \`veilnet-conflux help\` for the list`,
    );
  }
  const parsed = parseCommand(spec, rest, deps.env);
  if (boolFlag(parsed, "help")) {
    deps.stdout(renderCommandHelp(spec));
    return 0;
  }
  if (command === "help") {
    const topic = parsed.positionals[0];
    if (topic === undefined) {
      deps.stdout(renderGeneralHelp());
      return 0;
    }
    const about = findCommand(topic);
    if (!about) {
      throw new CliError("usage", `unknown command "${topic}": run \`veilnet-conflux help\``);
    }
    deps.stdout(renderCommandHelp(about));
    return 0;
  }
  if (command === "version") {
    deps.stdout(`veilnet-conflux ${VERSION}`);
    return 0;
  }
  const dir = stringFlag(parsed, "config-dir") ?? defaultConfigDir(deps.os, deps.env);
  const configDir = isAbsolute(dir) ? dir : resolve(dir);
  return await HANDLERS[command]({ parsed, deps, configDir });
}

/** Runs the CLI with `args` (without the program name); resolves to the process exit code. */
export async function main(args: string[], deps: Partial<CliDeps> = {}): Promise<number> {
  const d: CliDeps = { ...defaultDeps(), ...deps };
  try {
    return await dispatch(args, d);
  } catch (err) {
    if (err instanceof CliError) {
      d.stderr(`error: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof ServiceError) {
      d.stderr(`error: ${err.message}`);
      return 1;
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      d.stderr(`error: ${(err as Error).message} (run as root, e.g. with sudo)`);
      return 1;
    }
    d.stderr(`error: unexpected failure: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  }
}
