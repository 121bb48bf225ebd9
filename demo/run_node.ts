/**
 * Test helper process: runs one node with `runNode` in the foreground (the same function the
 * CLI's `run` calls), logging at debug level to stderr, until SIGTERM/SIGINT.
 *
 *   deno run -A demo/run_node.ts --guardian URL --token T --config-dir DIR
 *     [--rtc auto|werift|libdatachannel] [--idle-ms N] [--tun NAME]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { consoleLogger } from "../core/log/logger.ts";
import { runNode } from "../core/node/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    guardian: { type: "string" },
    token: { type: "string" },
    "config-dir": { type: "string" },
    rtc: { type: "string", default: "auto" },
    "idle-ms": { type: "string" },
    tun: { type: "string", default: "veilnet0" },
    "no-relay": { type: "boolean", default: false },
  },
});
const rtc = values.rtc as "auto" | "werift" | "libdatachannel";
const ac = new AbortController();
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => ac.abort());
try {
  await runNode({
    guardianUrl: values.guardian!,
    confluxToken: values.token!,
    configDir: values["config-dir"]!,
    portal: false,
    rtcEngine: rtc,
    relay: !values["no-relay"],
    tunName: values.tun,
    idleTimeoutMs: values["idle-ms"] ? Number(values["idle-ms"]) : undefined,
    log: consoleLogger("debug"),
  }, ac.signal);
  Deno.exit(0);
} catch (e) {
  console.error(`node failed: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
