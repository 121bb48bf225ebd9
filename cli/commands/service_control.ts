/**
 * `start`, `stop`, `status` and `remove`: thin wrappers over the OS service manager.
 *
 * @module
 */
import type { CommandContext } from "../context.ts";
import { boolFlag } from "../flags.ts";
import { renderPairs } from "../table.ts";

/** Runs `start`. */
export async function startCommand(ctx: CommandContext): Promise<number> {
  const m = ctx.deps.serviceManager();
  await m.check();
  await m.start();
  ctx.deps.stdout("service started");
  return 0;
}

/** Runs `stop`. */
export async function stopCommand(ctx: CommandContext): Promise<number> {
  const m = ctx.deps.serviceManager();
  await m.check();
  await m.stop();
  ctx.deps.stdout("service stopped");
  return 0;
}

/** Runs `remove` (the saved configuration stays). */
export async function removeCommand(ctx: CommandContext): Promise<number> {
  const m = ctx.deps.serviceManager();
  await m.check();
  await m.remove();
  ctx.deps.stdout(`service removed (${m.kind}: ${m.location}); configuration kept`);
  return 0;
}

/** Runs `status`: exit 0 when running, 3 otherwise (like `systemctl is-active`). */
export async function statusCommand(ctx: CommandContext): Promise<number> {
  const m = ctx.deps.serviceManager();
  await m.check();
  const s = await m.status();
  if (boolFlag(ctx.parsed, "json")) {
    ctx.deps.stdout(JSON.stringify({ manager: m.kind, location: m.location, ...s }));
  } else {
    ctx.deps.stdout(renderPairs([
      ["service", `${m.kind} (${m.location})`],
      ["state", s.state],
      ["detail", s.detail],
      ["pid", s.pid],
    ]));
  }
  return s.state === "running" ? 0 : 3;
}
