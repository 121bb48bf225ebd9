/**
 * Which local addresses tethers gather host candidates on: every usable underlay address, since a
 * relay sits between two networks by nature, and cloud VMs, hosts with container bridges or a
 * second VPN have several NICs. Binding one address (the first in interface order, usually a
 * management network) left such hosts without tethers.
 *
 * Excluded: the TUN itself and anything inside the realm (a tether over our own overlay would
 * loop), loopback and link-local (not reachable from another host). An operator may name the
 * interfaces to use instead (`--underlay-interfaces`); naming one also admits its loopback
 * address, which is how tests confine tethers to 127.0.0.1.
 *
 * Pure: the caller passes the interface list (`Deno.networkInterfaces()`).
 *
 * @module
 */
import { parseIpv4 } from "../../ffi/cidr.ts";

/** One address of one interface, as `Deno.networkInterfaces()` lists it. */
export interface InterfaceAddress {
  name: string;
  family: "IPv4" | "IPv6";
  address: string;
}

/** What decides the underlay set. */
export interface UnderlayPolicy {
  /** The TUN's interface name: never an underlay. */
  tunName?: string;
  /** The realm (overlay) network: addresses inside it are never underlay. */
  realm?: { network: number; prefix: number };
  /** When set, exactly these interfaces (by name) are used. */
  interfaces?: readonly string[];
}

/** A dotted IPv4 address as an unsigned 32-bit number; -1 when it is not one. */
function ipv4(text: string): number {
  const b = parseIpv4(text);
  return b ? ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0 : -1;
}

function inRealm(ip: number, realm: { network: number; prefix: number } | undefined): boolean {
  if (!realm || ip < 0) return false;
  const mask = realm.prefix === 0 ? 0 : (0xffff_ffff << (32 - realm.prefix)) >>> 0;
  return ((ip & mask) >>> 0) === realm.network;
}

/** True for loopback addresses (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}

/** True for link-local addresses (169.254.0.0/16, fe80::/10), which ICE cannot use across hosts. */
export function isLinkLocal(address: string): boolean {
  if (address.startsWith("169.254.")) return true;
  return /^fe[89ab][0-9a-f]:/i.test(address);
}

/**
 * The underlay addresses under `policy`, IPv4 first, in interface order, without duplicates.
 * Without a list of interfaces, loopback is used only when nothing else exists (a host with no
 * network still reaches tethers of its own machine).
 */
export function underlayAddresses(
  interfaces: readonly InterfaceAddress[],
  policy: UnderlayPolicy = {},
): string[] {
  const named = policy.interfaces && policy.interfaces.length > 0
    ? new Set(policy.interfaces)
    : undefined;
  const usable = interfaces.filter((i) => {
    if (i.name === policy.tunName) return false;
    if (named && !named.has(i.name)) return false;
    if (isLinkLocal(i.address)) return false;
    if (i.family === "IPv4" && inRealm(ipv4(i.address), policy.realm)) return false;
    return true;
  });
  const external = usable.filter((i) => !isLoopback(i.address));
  const chosen = named || external.length === 0 ? usable : external;
  const ordered = [
    ...chosen.filter((i) => i.family === "IPv4"),
    ...chosen.filter((i) => i.family === "IPv6"),
  ];
  return [...new Set(ordered.map((i) => i.address))];
}

/** Parses `--underlay-interfaces eth0,eth1`: names, comma-separated; throws on a bad name. */
export function parseInterfaceList(value: string): string[] {
  const names = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    // Linux allows up to 15 bytes without '/' or whitespace; be strict so typos show.
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(n)) {
      throw new RangeError(`bad interface name "${n}" (expected e.g. eth0,eth1)`);
    }
  }
  if (names.length === 0) throw new RangeError("no interface named (expected e.g. eth0,eth1)");
  return [...new Set(names)];
}

/** True when both lists hold the same addresses (order ignored). */
export function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
