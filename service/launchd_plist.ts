/**
 * Renders the launchd property list `/Library/LaunchDaemons/org.veilnet.conflux.plist`.
 *
 * @module
 */
import type { ServiceDescription } from "./description.ts";

/** Directory of system-wide launch daemons on macOS. */
export const LAUNCH_DAEMONS_DIR = "/Library/LaunchDaemons";

/** Escapes text for an XML element body. */
export function xmlEscape(text: string): string {
  // XML 1.0 cannot carry most control characters at all, escaped or not.
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      throw new Error("control character in plist text");
    }
  }
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

const str = (s: string) => `<string>${xmlEscape(s)}</string>`;

/** The plist XML text for the daemon. */
export function renderLaunchdPlist(service: ServiceDescription): string {
  const env = Object.entries(service.environment);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "  <key>Label</key>",
    `  ${str(service.launchdLabel)}`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...service.argv.map((a) => `    ${str(a)}`),
    "  </array>",
    "  <key>WorkingDirectory</key>",
    `  ${str(service.workingDirectory)}`,
  ];
  if (env.length > 0) {
    lines.push("  <key>EnvironmentVariables</key>", "  <dict>");
    for (const [name, value] of env) {
      lines.push(`    <key>${xmlEscape(name)}</key>`, `    ${str(value)}`);
    }
    lines.push("  </dict>");
  }
  lines.push(
    "  <key>RunAtLoad</key>",
    "  <true/>",
    // Restart only when the node exits with an error, like systemd's Restart=on-failure.
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "  <key>ThrottleInterval</key>",
    `  <integer>${service.restartDelaySeconds}</integer>`,
    "  <key>StandardOutPath</key>",
    `  ${str(service.logFile)}`,
    "  <key>StandardErrorPath</key>",
    `  ${str(service.logFile)}`,
    "</dict>",
    "</plist>",
    "",
  );
  return lines.join("\n");
}
