/**
 * `veilnet-conflux down`: stop and remove the service and delete up.json.
 *
 * @module
 */
import { configPath, deleteConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { usableManager } from "./unregister.ts";

/** Runs `down`; resolves to the exit code. */
export async function downCommand(ctx: CommandContext): Promise<number> {
  const manager = await usableManager(ctx);
  if (manager) {
    await manager.remove();
    ctx.deps.stdout(`service removed (${manager.kind}: ${manager.location})`);
  }
  const existed = await deleteConfig(ctx.configDir, "up");
  const path = configPath(ctx.configDir, "up");
  ctx.deps.stdout(existed ? `deleted ${path}` : `${path} did not exist`);
  return 0;
}
