/**
 * Where the conflux keeps its configuration on each OS (as the seed documents it).
 *
 * @module
 */
import { join, win32 } from "node:path";

/** Name of the file written by `register`. */
export const REGISTER_FILE = "conflux.json";
/** Name of the file written by `up`. */
export const UP_FILE = "up.json";
/** Name of the node's local API socket inside the config dir (the node defines it). */
export { STATUS_SOCKET_NAME as SOCKET_FILE } from "../core/node/status_server.ts";

/**
 * The default configuration directory:
 * Linux `$XDG_CONFIG_HOME/conflux` or `$HOME/.config/conflux` (`/root/.config/conflux` as root),
 * macOS `$HOME/Library/Application Support/conflux` (`/var/root/…` as root),
 * Windows `%ProgramData%\conflux`.
 */
export function defaultConfigDir(
  os: typeof Deno.build.os,
  env: Record<string, string | undefined>,
): string {
  if (os === "windows") return win32.join(env.ProgramData ?? "C:\\ProgramData", "conflux");
  const home = env.HOME ?? (os === "darwin" ? "/var/root" : "/root");
  if (os === "darwin") return join(home, "Library", "Application Support", "conflux");
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(home, ".config"), "conflux");
}
