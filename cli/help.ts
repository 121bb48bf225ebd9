/**
 * The general help text.
 *
 * @module
 */
import { COMMANDS } from "./command_specs.ts";
import { VERSION } from "./version.ts";

/** Text of `veilnet-conflux help`. */
export function renderGeneralHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `veilnet-conflux ${VERSION}: the VeilNet Conflux connector`,
    "",
    "Usage: veilnet-conflux [--config-dir DIR] COMMAND [flags]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run `veilnet-conflux COMMAND --help` for the flags of a command.",
    "Flags override environment variables, which override the saved configuration.",
  ].join("\n");
}
