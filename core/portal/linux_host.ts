/**
 * The host side of portal mode on Linux, through the system's own tools: the host's IPv4 routes
 * (`ip -j -4 route`), and, on a portal, IPv4 forwarding plus an nftables masquerade so that hosts
 * of the served networks answer overlay peers without a route back to the overlay.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import { formatCidr, type HostRoute, parseHostRoutes } from "./subnets.ts";
import type { Ipv4Cidr } from "../node/packet.ts";

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")}: ${err || `exit ${out.code}`}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The host's IPv4 routes of the main table (empty off Linux). */
export async function readHostRoutes(): Promise<HostRoute[]> {
  if (Deno.build.os !== "linux") return [];
  return parseHostRoutes(await run("ip", ["-j", "-4", "route", "show", "table", "main"]));
}

/** nftables table of one TUN's portal rules (one per interface, so two nodes never clash). */
export function natTableName(tunName: string): string {
  return `veilnet_portal_${tunName.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The nftables script that masquerades overlay traffic leaving through any other interface. */
export function natScript(tunName: string, realm: Ipv4Cidr): string {
  return [
    `table ip ${natTableName(tunName)} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority 100; policy accept;",
    `    ip saddr ${formatCidr(realm)} oifname != "${tunName}" masquerade`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Turns on IPv4 forwarding and the masquerade for `realm`; returns the undo (old forwarding
 * setting back, table removed). Without nftables, forwarding still works but hosts of the served
 * networks need a route to the overlay through this host: that is logged.
 */
export async function enablePortalForwarding(
  tunName: string,
  realm: Ipv4Cidr,
  log: Logger,
): Promise<() => Promise<void>> {
  if (Deno.build.os !== "linux") {
    log.warn("portal forwarding is set up on Linux only: enable forwarding and NAT yourself");
    return async () => {};
  }
  const before = (await Deno.readTextFile(IP_FORWARD)).trim();
  if (before !== "1") await Deno.writeTextFile(IP_FORWARD, "1\n");
  const table = natTableName(tunName);
  let nat = false;
  try {
    // A table left by a crashed run is replaced, not doubled.
    await run("nft", ["delete", "table", "ip", table]).catch(() => {});
    await run("nft", ["-f", "-"], natScript(tunName, realm));
    nat = true;
  } catch (e) {
    log.warn("portal: no masquerade (nftables unavailable); served hosts need a route back", {
      realm: formatCidr(realm),
      error: String(e),
    });
  }
  log.info("portal forwarding on", { masquerade: nat, ip_forward_before: before });
  return async () => {
    if (nat) await run("nft", ["delete", "table", "ip", table]).catch(() => {});
    if (before !== "1") await Deno.writeTextFile(IP_FORWARD, `${before}\n`).catch(() => {});
  };
}
