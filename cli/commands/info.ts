/**
 * `veilnet-conflux info`: the running node's identity, overlay IP, realm, teams, tethers, routes
 * and streams, read from its local API.
 *
 * @module
 */
import type { CommandContext } from "../context.ts";
import { boolFlag } from "../flags.ts";
import { fetchNodeInfo, type NodeInfo } from "../local_api.ts";
import { renderPairs, renderTable } from "../table.ts";

/**
 * The data-path counters as one `stats:` line, and losses by cause (only causes that occurred)
 * as one `drops:` line, when the node reports them.
 */
function statsLine(stats: unknown): Array<[string, string]> {
  if (typeof stats !== "object" || stats === null || Array.isArray(stats)) return [];
  const entries = Object.entries(stats);
  const parts = entries.filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k}=${v}`);
  const out: Array<[string, string]> = parts.length > 0 ? [["stats", parts.join(" ")]] : [];
  const drops = (stats as { drops?: unknown }).drops;
  if (typeof drops === "object" && drops !== null && !Array.isArray(drops)) {
    const lost = Object.entries(drops).filter(([, n]) => typeof n === "number" && n > 0);
    out.push(["drops", lost.length > 0 ? lost.map(([k, n]) => `${k}=${n}`).join(" ") : "none"]);
  }
  return out;
}

/** Seconds between now and `at` (ms since the epoch), rounded. */
function secondsFrom(at: number, now: number): number {
  return Math.round((at - now) / 1000);
}

/**
 * The control channel as one `control:` line: state and since when, session expiry, the
 * Guardian's last answer and the last renewal error.
 */
export function controlLine(control: unknown, now = Date.now()): Array<[string, string]> {
  if (typeof control !== "object" || control === null) return [];
  const c = control as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const parts = [String(c.state ?? "?")];
  const since = num(c.since);
  if (since !== undefined) {
    parts[0] += ` since ${new Date(since).toISOString()} (${-secondsFrom(since, now)} s)`;
  }
  const expires = num(c.session_expires_at);
  if (expires !== undefined) {
    const left = secondsFrom(expires, now);
    parts.push(left >= 0 ? `session expires in ${left} s` : `session expired ${-left} s ago`);
  }
  const contact = num(c.last_guardian_contact_at);
  if (contact !== undefined) {
    parts.push(`Guardian last answered ${-secondsFrom(contact, now)} s ago`);
  }
  if (typeof c.last_renewal_error === "string") {
    parts.push(`last renewal failed: ${c.last_renewal_error}`);
  }
  if (c.revoked === true) parts.push("REVOKED: the node stops when the session ends");
  return [["control", parts.join("; ")]];
}

/**
 * The node process's memory as one `memory:` line: resident set, split into its own (anonymous)
 * pages and the shared pages of mapped files, and the V8 heap in use.
 */
export function memoryLine(memory: unknown): Array<[string, string]> {
  if (typeof memory !== "object" || memory === null) return [];
  const m = memory as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const rss = num(m.rss_mb);
  if (rss === undefined) return [];
  const parts = [`rss ${rss} MB`];
  const anon = num(m.anon_mb), file = num(m.file_mb);
  if (anon !== undefined && file !== undefined) {
    parts[0] += ` (own ${anon} MB, shared files ${file} MB)`;
  }
  const used = num(m.heap_used_mb), total = num(m.heap_total_mb);
  if (used !== undefined && total !== undefined) parts.push(`V8 heap ${used}/${total} MB`);
  return [["memory", parts.join("; ")]];
}

/** The networks this node serves as a portal, as one `serving:` line. */
function servingLine(portals: unknown): Array<[string, string]> {
  const serving = (portals as { serving?: unknown } | null)?.serving;
  return Array.isArray(serving) && serving.length > 0 ? [["serving", serving.join(", ")]] : [];
}

/** Known portals as table rows, their subnet lists joined. */
function portalRows(portals: unknown): unknown[] {
  const list = (portals as { portals?: unknown } | null)?.portals;
  if (!Array.isArray(list)) return [];
  return list.map((p) => {
    if (typeof p !== "object" || p === null) return p;
    const row = p as Record<string, unknown>;
    const join = (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.join(", ") : "-");
    return { ...row, subnets: join(row.subnets), routed: join(row.routed) };
  });
}

/** Renders `/info` as the text `info` prints. */
export function renderInfo(info: NodeInfo): string {
  const out = [
    renderPairs([
      ["conflux", info.conflux_id],
      ["realm", info.realm_id],
      ["overlay ip", info.overlay_ip],
      ["tag", info.tag],
      ["portal", info.portal ? "yes" : "no"],
      ["teams", info.teams.length > 0 ? info.teams.join(", ") : "-"],
      ...controlLine((info as { control?: unknown }).control),
      ...underlayLine(info.underlay),
      ...servingLine(info.portals),
      ...dnsLines((info as { dns?: unknown }).dns),
      ...statsLine(info.stats),
      ...memoryLine((info as { memory?: unknown }).memory),
    ]),
  ];
  for (
    const [title, rows] of [
      ["tethers", info.tethers.map(tetherRow)],
      ["routes", info.routes.map(routeRow)],
      ["streams", info.streams],
      ["portals", portalRows(info.portals)],
    ] as const
  ) {
    out.push("", `${title} (${rows.length})`);
    if (rows.length > 0) out.push(renderTable(rows));
  }
  return out.join("\n");
}

/** Names: `dns:` (the resolver and how the host is configured), `duplicate names:` if any. */
function dnsLines(dns: unknown): Array<[string, string]> {
  if (typeof dns !== "object" || dns === null) return [];
  const d = dns as Record<string, unknown>;
  const names = Array.isArray(d.names) ? d.names.map((n) => `${n}.${d.suffix}`) : [];
  const out: Array<[string, string]> = [[
    "dns",
    `${d.server ? `resolver ${d.server}` : "no resolver"}; host: ${d.host}` +
    (d.detail ? ` (${d.detail})` : ""),
  ]];
  if (names.length > 0) out.push(["names", names.join(", ")]);
  const dups = Array.isArray(d.duplicates) ? d.duplicates as Record<string, unknown>[] : [];
  if (dups.length > 0) {
    out.push([
      "duplicate names",
      dups.map((x) => `${x.name} (${(x.conflux_ids as string[] ?? []).join(", ")})`).join("; "),
    ]);
  }
  return out;
}

/** The addresses tethers gather on, as one `underlay:` line. */
function underlayLine(underlay: unknown): Array<[string, string]> {
  return Array.isArray(underlay) ? [["underlay", underlay.length ? underlay.join(", ") : "-"]] : [];
}

/** A tether as one table row: each end of its candidate pair as "type address:port". */
function tetherRow(tether: unknown): unknown {
  if (typeof tether !== "object" || tether === null) return tether;
  const { local, remote, ...rest } = tether as Record<string, unknown>;
  const end = (e: unknown) => {
    const { type, address, port } = (e ?? {}) as Record<string, unknown>;
    if (typeof address !== "string") return "-";
    const host = address.includes(":") ? `[${address}]` : address;
    return `${type} ${host}:${port}`;
  };
  return { ...rest, local: end(local), remote: end(remote) };
}

/** A route as one table row: candidates shortened to "next hop (estimate, hops)". */
function routeRow(route: unknown): unknown {
  if (typeof route !== "object" || route === null) return route;
  const { candidates, ...rest } = route as Record<string, unknown>;
  const text = Array.isArray(candidates) && candidates.length > 0
    ? candidates.map((c) => {
      const { next_hop, estimate_ms, hops } = (c ?? {}) as Record<string, unknown>;
      return `${next_hop} (${estimate_ms} ms, ${hops} hop${hops === 1 ? "" : "s"})`;
    }).join(", ")
    : "-";
  return { ...rest, estimate_ms: rest.estimate_ms ?? "-", candidates: text };
}

/** Runs `info`; exit 3 when the node is not running. */
export async function infoCommand(ctx: CommandContext): Promise<number> {
  const info = await fetchNodeInfo(ctx.configDir);
  ctx.deps.stdout(
    boolFlag(ctx.parsed, "json") ? JSON.stringify(info, null, 2) : renderInfo(info),
  );
  return 0;
}
