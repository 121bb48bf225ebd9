/**
 * `veilnet-conflux run`: the node in the foreground, what the service (and Docker) executes.
 *
 * @module
 */
import { configPath, loadConfig, type Profile } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { stringFlag } from "../flags.ts";
import { runForeground } from "../foreground.ts";
import { resolveNodeSettings } from "../settings.ts";

/** Runs `run` until SIGINT/SIGTERM; resolves to the exit code. */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const chosen = stringFlag(ctx.parsed, "profile") as Profile | undefined;
  let saved = null;
  if (chosen) {
    saved = await loadConfig(ctx.configDir, chosen);
  } else {
    saved = (await loadConfig(ctx.configDir, "up")) ??
      (await loadConfig(ctx.configDir, "register"));
  }
  const settings = resolveNodeSettings(ctx.parsed, saved);
  if (chosen && !saved && !stringFlag(ctx.parsed, "token")) {
    ctx.deps.stderr(`warning: ${configPath(ctx.configDir, chosen)} does not exist`);
  }
  return await runForeground(ctx, settings);
}
