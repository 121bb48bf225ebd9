/**
 * nats-server configuration files for the Master, written by `veilnet-guardian init`.
 *
 * Operator mode with `resolver: MEMORY` and the two account JWTs preloaded: the server trusts
 * exactly the Guardian's operator, and every client needs a user JWT minted by the Guardian.
 * A super cluster is several clusters (servers joined by routes) joined by gateways.
 *
 * @module
 */

import { join } from "node:path";
import type { GuardianKeys } from "./keys.ts";
import { accountJwts, operatorJwt } from "./nats_auth.ts";

/** One nats-server of a cluster. */
export interface ServerSpec {
  /** Host (IP) the server listens on for clients, routes and gateways. */
  host: string;
  /** Client port. */
  clientPort: number;
  /** Route (cluster) port; required when the cluster has more than one server. */
  routePort?: number;
  /** Gateway port; required when there is more than one cluster. */
  gatewayPort?: number;
}

/** A named cluster of servers. */
export interface ClusterSpec {
  /** Cluster name; also the gateway name. Letters, digits, `-` and `_`. */
  name: string;
  /** Its servers, at least one. */
  servers: ServerSpec[];
}

/** TLS of the Master: PEM files the server reads (absolute paths). */
export interface NatsTls {
  /** Server certificate chain (PEM); valid for every host name or address servers are dialled at. */
  certFile: string;
  /** Its private key (PEM). */
  keyFile: string;
  /**
   * CA that signed every server's certificate: with it, routes and gateways between the servers
   * of a super cluster use mutual TLS too (each server verifies the other's certificate).
   */
  caFile?: string;
}

/** The `tls {}` block between servers (routes, gateways): mutual, verified against the CA. */
function peerTls(tls: NatsTls | undefined, indent: string): string[] {
  if (!tls?.caFile) return [];
  return [
    `${indent}tls {`,
    `${indent}  cert_file: ${JSON.stringify(tls.certFile)}`,
    `${indent}  key_file: ${JSON.stringify(tls.keyFile)}`,
    `${indent}  ca_file: ${JSON.stringify(tls.caFile)}`,
    `${indent}  verify: true`,
    `${indent}}`,
  ];
}

/** Thrown for an unusable topology (missing ports, bad names, duplicates). */
export class TopologyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TopologyError";
  }
}

/** One written configuration file. */
export interface WrittenConfig {
  /** Server name, e.g. `east-1` (`veilnet` for a single server). */
  serverName: string;
  /** Absolute path of the file. */
  path: string;
  /** Client URL of that server, e.g. `nats://127.0.0.1:4222`. */
  clientUrl: string;
}

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Checks a topology; throws TopologyError on the first problem. */
export function validateTopology(clusters: ClusterSpec[]): void {
  if (clusters.length === 0) throw new TopologyError("no cluster given");
  const names = new Set<string>();
  const ports = new Set<string>();
  const usePort = (host: string, port: number | undefined, what: string) => {
    if (port === undefined) return;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TopologyError(`${what}: port ${port} out of range`);
    }
    const key = hostPort(host, port);
    if (ports.has(key)) throw new TopologyError(`${what}: ${key} used twice`);
    ports.add(key);
  };
  for (const c of clusters) {
    if (!NAME.test(c.name)) throw new TopologyError(`bad cluster name "${c.name}"`);
    if (names.has(c.name)) throw new TopologyError(`cluster "${c.name}" given twice`);
    names.add(c.name);
    if (c.servers.length === 0) throw new TopologyError(`cluster "${c.name}" has no server`);
    for (const s of c.servers) {
      if (!HOST.test(s.host)) throw new TopologyError(`bad host "${s.host}"`);
      usePort(s.host, s.clientPort, `cluster ${c.name} client`);
      usePort(s.host, s.routePort, `cluster ${c.name} route`);
      usePort(s.host, s.gatewayPort, `cluster ${c.name} gateway`);
      if (c.servers.length > 1 && s.routePort === undefined) {
        throw new TopologyError(`cluster "${c.name}": every server needs a route port`);
      }
      if (clusters.length > 1 && s.gatewayPort === undefined) {
        throw new TopologyError(`cluster "${c.name}": every server needs a gateway port`);
      }
    }
  }
}

/** Renders the configuration text of server `index` of cluster `clusterIndex`. */
export function renderServerConfig(
  auth: { operatorJwt: string; systemAccount: string; preload: Record<string, string> },
  topology: { clusters: ClusterSpec[]; clusterIndex: number; serverIndex: number },
  tls?: NatsTls,
): string {
  const { clusters, clusterIndex, serverIndex } = topology;
  const cluster = clusters[clusterIndex];
  const server = cluster.servers[serverIndex];
  const single = clusters.length === 1 && cluster.servers.length === 1;
  const lines = [
    "# nats-server configuration written by `veilnet-guardian init`. Re-run init to regenerate;",
    "# the Guardian's keys are never regenerated.",
    `server_name: "${single ? "veilnet" : `${cluster.name}-${serverIndex + 1}`}"`,
    `listen: "${hostPort(server.host, server.clientPort)}"`,
    "# Control messages are small; a signed envelope with a certificate is about 9 KB.",
    "max_payload: 1048576",
    "",
    "# Operator mode: only users whose JWT chains to this operator may connect.",
    `operator: "${auth.operatorJwt}"`,
    `system_account: "${auth.systemAccount}"`,
    "resolver: MEMORY",
    "resolver_preload: {",
    ...Object.entries(auth.preload).map(([k, v]) => `  ${k}: "${v}"`),
    "}",
  ];
  if (tls) {
    // Clients (confluxes, the Guardian) must speak TLS; between servers, see peerTls.
    lines.push(
      "",
      "tls {",
      `  cert_file: ${JSON.stringify(tls.certFile)}`,
      `  key_file: ${JSON.stringify(tls.keyFile)}`,
      "}",
    );
  }
  if (cluster.servers.length > 1) {
    const routes = cluster.servers
      .filter((_, i) => i !== serverIndex)
      .map((s) => `    "nats-route://${hostPort(s.host, s.routePort!)}"`);
    lines.push(
      "",
      "cluster {",
      `  name: "${cluster.name}"`,
      `  listen: "${hostPort(server.host, server.routePort!)}"`,
      ...peerTls(tls, "  "),
      "  routes: [",
      ...routes,
      "  ]",
      "}",
    );
  } else if (clusters.length > 1) {
    // A gateway needs a cluster name even for a one-server cluster.
    lines.push("", "cluster {", `  name: "${cluster.name}"`, "}");
  }
  if (clusters.length > 1) {
    lines.push(
      "",
      "gateway {",
      `  name: "${cluster.name}"`,
      `  listen: "${hostPort(server.host, server.gatewayPort!)}"`,
      ...peerTls(tls, "  "),
      "  gateways: [",
    );
    for (const other of clusters) {
      if (other === cluster) continue;
      const urls = other.servers.map((s) => `"nats://${hostPort(s.host, s.gatewayPort!)}"`);
      lines.push(`    { name: "${other.name}", urls: [${urls.join(", ")}] }`);
    }
    lines.push("  ]", "}");
  }
  return lines.join("\n") + "\n";
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  await Deno.rename(tmp, path);
}

/**
 * Writes one configuration file per server into `dataDir`: `nats.conf` for a single server,
 * `nats-<cluster>-<n>.conf` otherwise. Each file is written to a temporary name and renamed, so
 * a failure never leaves a half-written configuration. With `tls` clients must use TLS and the
 * client URLs are `tls://`.
 */
export async function writeNatsConfigs(
  dataDir: string,
  keys: GuardianKeys,
  clusters: ClusterSpec[],
  tls?: NatsTls,
): Promise<WrittenConfig[]> {
  validateTopology(clusters);
  const accounts = await accountJwts(keys);
  const auth = {
    operatorJwt: await operatorJwt(keys),
    systemAccount: keys.systemAccount.getPublicKey(),
    preload: {
      [keys.systemAccount.getPublicKey()]: accounts.system,
      [keys.account.getPublicKey()]: accounts.application,
    },
  };
  const single = clusters.length === 1 && clusters[0].servers.length === 1;
  const written: WrittenConfig[] = [];
  for (let ci = 0; ci < clusters.length; ci++) {
    for (let si = 0; si < clusters[ci].servers.length; si++) {
      const serverName = single ? "veilnet" : `${clusters[ci].name}-${si + 1}`;
      const path = join(dataDir, single ? "nats.conf" : `nats-${serverName}.conf`);
      const text = renderServerConfig(auth, { clusters, clusterIndex: ci, serverIndex: si }, tls);
      await writeAtomic(path, text);
      const s = clusters[ci].servers[si];
      const scheme = tls ? "tls" : "nats";
      written.push({
        serverName,
        path,
        clientUrl: `${scheme}://${hostPort(s.host, s.clientPort)}`,
      });
    }
  }
  return written;
}
