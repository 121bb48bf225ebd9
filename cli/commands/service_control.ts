/**
 * `start`, `stop`, `status` and `remove`: thin wrappers over the OS service manager.
 *
 * @module
 */
import type { CommandContext } from "../context.ts";
import { boolFlag } from "../flags.ts";
import { ServiceError, type ServiceStatus } from "../../service/mod.ts";
import { type NodeProbe, probeNode } from "../local_api.ts";
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

/** The node's local API as one `node:` value: answering (with its id and address), or why not. */
function nodeLine(probe: NodeProbe): string {
  if (probe.state === "answering") {
    const { conflux_id, overlay_ip } = probe.info;
    return `answering on ${probe.socket} (conflux ${conflux_id || "-"}, ${overlay_ip || "-"})`;
  }
  return `${probe.state}: ${probe.message}`;
}

/**
 * Runs `status`: the service's state and whether the node answers on its socket. Exit 0 when the
 * service runs (like `systemctl is-active`), 3 otherwise. Where no service manager exists (Linux
 * without systemd: the node runs from another init system or a container), the node's own
 * answer decides instead.
 */
export async function statusCommand(ctx: CommandContext): Promise<number> {
  const m = ctx.deps.serviceManager();
  let service: ServiceStatus | null = null;
  let unsupported = "";
  try {
    await m.check();
    service = await m.status();
  } catch (err) {
    if (!(err instanceof ServiceError) || err.code !== "unsupported") throw err;
    unsupported = err.message.split(":")[0];
  }
  const node = await probeNode(ctx.configDir);
  const running = service ? service.state === "running" : node.state === "answering";
  if (boolFlag(ctx.parsed, "json")) {
    const nodeJson = node.state === "answering"
      ? {
        state: node.state,
        socket: node.socket,
        conflux_id: node.info.conflux_id,
        overlay_ip: node.info.overlay_ip,
      }
      : { state: node.state, socket: node.socket, message: node.message };
    const serviceJson = service
      ? { manager: m.kind, location: m.location, ...service }
      : { manager: "none", state: "unsupported", detail: unsupported };
    ctx.deps.stdout(JSON.stringify({ ...serviceJson, node: nodeJson }));
  } else if (service) {
    ctx.deps.stdout(renderPairs([
      ["service", `${m.kind} (${m.location})`],
      ["state", service.state],
      ["detail", service.detail],
      ["pid", service.pid],
      ["node", nodeLine(node)],
    ]));
  } else {
    ctx.deps.stdout(renderPairs([
      ["service", `none (${unsupported})`],
      ["node", nodeLine(node)],
    ]));
  }
  return running ? 0 : 3;
}
