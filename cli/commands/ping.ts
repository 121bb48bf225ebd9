/**
 * `veilnet-conflux ping TARGET`: probes through the overlay, from the running node. Per reply it
 * prints the RTT and the path (direct, or relayed via which conflux and how many hops), says when
 * the path changes, and exits 1 when nothing answered, saying why.
 *
 * @module
 */
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag, stringFlag } from "../flags.ts";
import { getLocalApi } from "../local_api.ts";

/** How long the CLI waits for one ping (the node waits 5 s for the reply itself). */
const PING_API_TIMEOUT_MS = 8000;

/** One result as the node's GET /ping/<ip> returns it. */
interface PingReply {
  ok: boolean;
  target: string;
  seq: number;
  conflux_id?: string;
  rtt_ms?: number;
  path?: { kind: string; next_hop: string; hops: number };
  reason?: string;
  detail?: string;
}

function positiveNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new CliError("usage", `veilnet-conflux ping: --${flag} must be a number in (0, 3600]`);
  }
  return n;
}

/** The path of a reply in words. */
export function describePath(r: PingReply): string {
  if (!r.path) return "?";
  if (r.path.kind === "direct") return "direct";
  return `via ${r.path.next_hop} (${r.path.hops} hops)`;
}

/** Runs the command. */
export async function pingCommand(ctx: CommandContext): Promise<number> {
  const [target, extra] = ctx.parsed.positionals;
  if (!target || extra !== undefined) {
    throw new CliError("usage", "veilnet-conflux ping: give one target (an overlay IP)");
  }
  if (!/^[0-9.]{7,15}$/.test(target)) {
    throw new CliError("usage", `veilnet-conflux ping: "${target}" is not an overlay IPv4 address`);
  }
  const count = Math.floor(positiveNumber(stringFlag(ctx.parsed, "count"), "count", 4));
  const intervalMs = positiveNumber(stringFlag(ctx.parsed, "interval"), "interval", 1) * 1000;
  const json = boolFlag(ctx.parsed, "json") ?? false;
  const out = ctx.deps.stdout;
  const replies: PingReply[] = [];
  let lastPath = "";
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, intervalMs));
    const r = await getLocalApi(ctx.configDir, `/ping/${target}`, {
      timeoutMs: PING_API_TIMEOUT_MS,
    }) as PingReply;
    replies.push(r);
    if (json) continue;
    if (!r.ok) {
      out(`no reply from ${target} (seq ${r.seq}): ${r.detail ?? r.reason}`);
      continue;
    }
    const path = describePath(r);
    if (lastPath && path !== lastPath) out(`path changed: ${lastPath} → ${path}`);
    lastPath = path;
    out(`reply from ${target} (${r.conflux_id}): seq=${r.seq} time=${r.rtt_ms} ms ${path}`);
  }
  const answered = replies.filter((r) => r.ok);
  if (json) {
    out(JSON.stringify({ target, sent: replies.length, received: answered.length, replies }));
  } else out(`${replies.length} sent, ${answered.length} received`);
  if (answered.length > 0) return 0;
  const last = replies[replies.length - 1];
  if (!json) {
    ctx.deps.stderr(`veilnet-conflux ping: ${target} unreachable: ${last.detail ?? last.reason}`);
  }
  return 1;
}
