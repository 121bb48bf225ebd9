/**
 * Renders the systemd unit `veilnet.service` from a {@link ServiceDescription}.
 *
 * @module
 */
import type { ServiceDescription } from "./description.ts";

/**
 * Quotes one word for `ExecStart=`/`Environment=`: systemd splits on whitespace, expands `%`
 * specifiers and `$` variables, and understands C-style escapes inside double quotes.
 */
export function systemdQuote(word: string): string {
  if (/[\n\r\0]/.test(word)) throw new Error("a systemd unit value cannot contain a line break");
  const escaped = word.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (escaped !== "" && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** Escapes an absolute path for a whole-line path setting such as `WorkingDirectory=`. */
export function systemdPath(path: string): string {
  if (/[\n\r\0]/.test(path)) throw new Error("a systemd unit value cannot contain a line break");
  if (!path.startsWith("/")) throw new Error(`systemd needs an absolute path (got "${path}")`);
  return path.replaceAll("%", "%%");
}

/** The text of `/etc/systemd/system/<name>.service`. */
export function renderSystemdUnit(service: ServiceDescription): string {
  const lines = [
    "[Unit]",
    `Description=${service.summary}`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${service.argv.map(systemdQuote).join(" ")}`,
    // WorkingDirectory= takes the rest of the line as the path: only specifiers need escaping.
    `WorkingDirectory=${systemdPath(service.workingDirectory)}`,
  ];
  for (const [name, value] of Object.entries(service.environment)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad environment name ${name}`);
    lines.push(`Environment=${systemdQuote(`${name}=${value}`)}`);
  }
  lines.push(
    "Restart=on-failure",
    `RestartSec=${service.restartDelaySeconds}`,
    // The node opens a TUN device and edits routes: it needs these and nothing more.
    `AmbientCapabilities=${service.capabilities.join(" ")}`,
    `CapabilityBoundingSet=${service.capabilities.join(" ")}`,
    "LimitNOFILE=65536",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  );
  return lines.join("\n");
}
