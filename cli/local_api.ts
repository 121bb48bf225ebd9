/**
 * Client of the running node's local status API: HTTP/1.1 on the Unix socket
 * `<configDir>/conflux.sock`.
 *
 * @module
 */
import { join } from "node:path";
import { SOCKET_FILE } from "./config_dir.ts";
import { CliError } from "./errors.ts";

/** What `GET /info` returns (extra fields are kept as they come). */
export interface NodeInfo {
  conflux_id: string;
  realm_id: string;
  overlay_ip: string;
  tag: string;
  portal: boolean;
  teams: string[];
  tethers: unknown[];
  routes: unknown[];
  streams: unknown[];
  [extra: string]: unknown;
}

/** Fetches `GET /info` from the node whose config dir is `configDir`. */
export async function fetchNodeInfo(
  configDir: string,
  options: { timeoutMs?: number } = {},
): Promise<NodeInfo> {
  const path = join(configDir, SOCKET_FILE);
  const notRunning = (why: string) =>
    new CliError(
      "not-running",
      `the node is not running (${why} at ${path}): start it with \`veilnet-conflux start\` ` +
        "or `veilnet-conflux run`",
    );
  try {
    if (!Deno.statSync(path).isSocket) throw notRunning("not a socket");
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new CliError("not-running", `cannot open ${path}: permission denied (use sudo)`);
    }
    throw notRunning("no socket");
  }
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  try {
    let response: Response;
    try {
      response = await fetch("http://conflux/info", {
        client,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
    } catch {
      throw notRunning("nobody answers on the socket");
    }
    const text = await response.text();
    if (!response.ok) {
      throw new CliError("node", `the node answered HTTP ${response.status} to GET /info`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new CliError("node", "the node's /info reply is not JSON");
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new CliError("node", "the node's /info reply is not a JSON object");
    }
    const info = data as Record<string, unknown>;
    const list = (v: unknown) => (Array.isArray(v) ? v : []);
    return {
      ...info,
      conflux_id: String(info.conflux_id ?? ""),
      realm_id: String(info.realm_id ?? ""),
      overlay_ip: String(info.overlay_ip ?? ""),
      tag: String(info.tag ?? ""),
      portal: info.portal === true,
      teams: list(info.teams).map(String),
      tethers: list(info.tethers),
      routes: list(info.routes),
      streams: list(info.streams),
    };
  } finally {
    client.close();
  }
}
