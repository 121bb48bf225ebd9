/**
 * What every command receives.
 *
 * @module
 */
import type { CliDeps } from "./deps.ts";
import type { ParsedCommand } from "./flags.ts";

/** A parsed invocation of one command. */
export interface CommandContext {
  /** Flags (with environment fallbacks) and positional arguments. */
  parsed: ParsedCommand;
  /** Outside world. */
  deps: CliDeps;
  /** The configuration directory in effect (absolute). */
  configDir: string;
}
