/**
 * Test helper process: runs one node with `runNode` in the foreground (the same function the
 * CLI's `run` calls), logging at debug level to stderr, until SIGTERM/SIGINT.
 *
 *   deno run -A demo/run_node.ts --guardian URL --token T --config-dir DIR
 *     [--rtc auto|werift|libdatachannel] [--idle-ms N] [--tun NAME] [--no-relay]
 *     [--tamper-relay] [--delay-ms N] [--portal] [--portal-rescan-ms N]
 *     [--portal-networks CIDR,CIDR] [--underlay-interfaces IF,IF]
 *     [--dns-config auto|resolv.conf] [--dns-suffix SUFFIX] [--no-dns]
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
    portal: { type: "boolean", default: false },
    "portal-rescan-ms": { type: "string" },
    "portal-networks": { type: "string" },
    "underlay-interfaces": { type: "string" },
    "dns-config": { type: "string" },
    "dns-suffix": { type: "string" },
    "no-dns": { type: "boolean", default: false },
    // Tests only: flip a ciphertext bit of every frame this node relays (a hostile relay).
    "tamper-relay": { type: "boolean", default: false },
    // Tests only: delay every frame this node sends by N ms (netem is not in every kernel).
    "delay-ms": { type: "string" },
  },
});
const rtc = values.rtc as "auto" | "werift" | "libdatachannel";
// VEILNET_CPU_PROFILE=FILE writes a V8 CPU profile of the whole run (bench/tunnel_bench.ts
// --profile uses it); Deno has no --cpu-prof, node:inspector does the job.
const profilePath = Deno.env.get("VEILNET_CPU_PROFILE");
const stopProfile = profilePath ? await startProfile(profilePath) : async () => {};
const ac = new AbortController();
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => ac.abort());
try {
  await runNode({
    guardianUrl: values.guardian!,
    confluxToken: values.token!,
    configDir: values["config-dir"]!,
    portal: values.portal,
    portalRescanMs: values["portal-rescan-ms"] ? Number(values["portal-rescan-ms"]) : undefined,
    subnets: values["portal-networks"]?.split(","),
    rtcEngine: rtc,
    underlayInterfaces: values["underlay-interfaces"]?.split(","),
    relay: !values["no-relay"],
    tunName: values.tun,
    dns: !values["no-dns"],
    dnsSuffix: values["dns-suffix"],
    dnsConfig: values["dns-config"] as "auto" | "resolv.conf" | undefined,
    idleTimeoutMs: values["idle-ms"] ? Number(values["idle-ms"]) : undefined,
    log: consoleLogger("debug"),
    sendDelayMs: values["delay-ms"] ? Number(values["delay-ms"]) : undefined,
    relayFault: values["tamper-relay"] ? (frame) => frame[frame.length - 1] ^= 0x01 : undefined,
  }, ac.signal);
  await stopProfile();
  Deno.exit(0);
} catch (e) {
  console.error(`node failed: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}

async function startProfile(path: string): Promise<() => Promise<void>> {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(
        method,
        params ?? {},
        (err: Error | null, res: unknown) => err ? reject(err) : resolve(res),
      )
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 200 });
  await post("Profiler.start");
  return async () => {
    const res = await post("Profiler.stop") as { profile: unknown };
    await Deno.writeTextFile(path, JSON.stringify(res.profile));
    session.disconnect();
  };
}
