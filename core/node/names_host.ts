/**
 * Start-up and shutdown of the node's names on a real host (run.ts calls it): the DNS server on
 * the overlay IP, port 53 (UDP and TCP, answering only this host), and the host's resolver
 * configuration (core/node/host_dns.ts). Returns the stop function, which undoes exactly what
 * was done.
 *
 * @module
 */
import { DEFAULT_DNS_SUFFIX } from "../dns/names.ts";
import { startDnsServer } from "../dns/server.ts";
import type { Logger } from "../log/logger.ts";
import { configureHostDns, type DnsConfigMode } from "./host_dns.ts";
import type { Node } from "./node.ts";

/** What starting names needs. */
export interface NamesHostOptions {
  dns?: boolean;
  dnsSuffix?: string;
  dnsConfig?: DnsConfigMode;
  tunName: string;
  overlayIp: string;
  log: Logger;
  /** Port of the server (tests); default 53. */
  dnsPort?: number;
}

/** True for a query source on this host: our overlay address or loopback. */
export function fromThisHost(address: string, overlayIp: string): boolean {
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === overlayIp || a.startsWith("127.") || a === "::1";
}

/** Starts the resolver and configures the host; resolves with the undo. Never throws. */
export async function startNames(node: Node, o: NamesHostOptions): Promise<() => Promise<void>> {
  const log = o.log;
  const suffix = o.dnsSuffix ?? DEFAULT_DNS_SUFFIX;
  if (o.dns === false) {
    node.setDnsStatus({ host: "off", detail: "--no-dns: no resolver, host DNS untouched" });
    log.info("names: off (--no-dns)");
    return async () => {};
  }
  const port = o.dnsPort ?? 53;
  let server;
  try {
    server = await startDnsServer({
      hostname: o.overlayIp,
      port,
      authority: node.dns,
      allow: (address) => fromThisHost(address, o.overlayIp),
      onError: (message, error) => log.warn(message, { error: String(error) }),
    });
  } catch (e) {
    const why = `the resolver cannot listen on ${o.overlayIp}:${port}: ${String(e)}` +
      (port < 1024 ? " (needs root or CAP_NET_BIND_SERVICE)" : "");
    log.warn(`names: ${why}`);
    node.setDnsStatus({ host: "none", detail: why });
    return async () => {};
  }
  const where = `${o.overlayIp}:${server.port}`;
  const host = await configureHostDns({
    mode: o.dnsConfig ?? "auto",
    os: Deno.build.os,
    tunName: o.tunName,
    server: o.overlayIp,
    suffix,
    reverseZones: node.dns.reverseZones,
  });
  node.setDnsStatus({ server: where, host: host.host, detail: host.detail });
  log.info("names: resolver running", {
    server: where,
    suffix,
    host: host.host,
    detail: host.detail,
  });
  return async () => {
    await host.undo();
    await server.close();
  };
}
