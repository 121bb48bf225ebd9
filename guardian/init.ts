/**
 * `veilnet-guardian init`: creates the Guardian's keys (once) and writes nats-server configs.
 *
 * @module
 */

import { resolve } from "node:path";
import type { ClusterSpec, NatsTls } from "./nats_config.ts";
import {
  TopologyError,
  validateTopology,
  writeNatsConfigs,
  type WrittenConfig,
} from "./nats_config.ts";
import { loadOrCreateKeys } from "./keys.ts";
import { encodeBase64 } from "../core/control/base64.ts";
import { readPemFile } from "../core/control/pem_file.ts";

/** Options of {@link initGuardian}. */
export interface InitOptions {
  /** Data directory (created if missing, mode 0700). */
  dataDir: string;
  /** Single-server client listen address `host:port`; default 127.0.0.1:4222. */
  natsListen?: string;
  /** Super-cluster topology; when given, `natsListen` is ignored. */
  clusters?: ClusterSpec[];
  /** Certificate and key (PEM files) of the Master's client port: clients then need TLS. */
  natsTls?: NatsTls;
}

/** What init did. */
export interface InitResult {
  /** Whether keys were created now (false: existing keys kept). */
  createdKeys: boolean;
  /** Configuration files written, one per server. */
  configs: WrittenConfig[];
  /** The Guardian's ML-DSA-65 public key, base64. */
  guardianPublicKey: string;
  /** Public key of the NATS operator. */
  operatorPublicKey: string;
}

/** Parses `host:port` (IPv6 in brackets); throws TopologyError. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new TopologyError(`expected host:port, got "${text}"`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

/**
 * Parses the `--cluster` and `--gateway` flags.
 *
 * `--cluster NAME=HOST:CLIENT_PORT:ROUTE_PORT[,…]` lists the servers of one cluster (repeat per
 * cluster); `--gateway NAME=HOST:PORT[,…]` gives that cluster's gateway listen addresses, one per
 * server in the same order. The gateway host must equal the server's host.
 */
export function parseTopology(clusterFlags: string[], gatewayFlags: string[]): ClusterSpec[] {
  const clusters: ClusterSpec[] = [];
  for (const flag of clusterFlags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) {
      throw new TopologyError(`--cluster: expected NAME=HOST:PORT:ROUTE_PORT, got "${flag}"`);
    }
    const name = flag.slice(0, eq);
    const servers = flag.slice(eq + 1).split(",").map((spec) => {
      const m = /^(.+):(\d{1,5}):(\d{1,5})$/.exec(spec);
      if (!m) {
        throw new TopologyError(`--cluster ${name}: expected HOST:PORT:ROUTE_PORT, got "${spec}"`);
      }
      return {
        host: m[1].replace(/^\[|\]$/g, ""),
        clientPort: Number(m[2]),
        routePort: Number(m[3]),
      };
    });
    clusters.push({ name, servers });
  }
  for (const flag of gatewayFlags) {
    const eq = flag.indexOf("=");
    const name = eq > 0 ? flag.slice(0, eq) : "";
    const cluster = clusters.find((c) => c.name === name);
    if (!cluster) throw new TopologyError(`--gateway: no --cluster named "${name}"`);
    const addrs = flag.slice(eq + 1).split(",").map(parseHostPort);
    if (addrs.length !== cluster.servers.length) {
      throw new TopologyError(
        `--gateway ${name}: ${addrs.length} addresses for ${cluster.servers.length} servers`,
      );
    }
    addrs.forEach((a, i) => {
      if (a.host !== cluster.servers[i].host) {
        throw new TopologyError(`--gateway ${name}: host ${a.host} differs from its server's`);
      }
      cluster.servers[i].gatewayPort = a.port;
    });
  }
  return clusters;
}

/** Creates keys if missing and (re)writes the nats-server configuration files. */
export async function initGuardian(options: InitOptions): Promise<InitResult> {
  const clusters = options.clusters && options.clusters.length > 0 ? options.clusters : (() => {
    const { host, port } = parseHostPort(options.natsListen ?? "127.0.0.1:4222");
    return [{ name: "veilnet", servers: [{ host, clientPort: port }] }];
  })();
  // Refuse a bad topology or unusable TLS files before anything touches the disk.
  validateTopology(clusters);
  const tls = options.natsTls && checkTls(options.natsTls);
  const { keys, created } = await loadOrCreateKeys(options.dataDir);
  const configs = await writeNatsConfigs(options.dataDir, keys, clusters, tls);
  return {
    createdKeys: created,
    configs,
    guardianPublicKey: encodeBase64(keys.identity.publicKey),
    operatorPublicKey: keys.operator.getPublicKey(),
  };
}

/** The TLS files as absolute paths (nats-server resolves relative ones from its own cwd). */
function checkTls(tls: NatsTls): NatsTls {
  readPemFile(tls.certFile, "--nats-tls-cert", "certificate");
  readPemFile(tls.keyFile, "--nats-tls-key", "private key");
  if (tls.caFile !== undefined) readPemFile(tls.caFile, "--nats-tls-ca", "certificate");
  const out: NatsTls = { certFile: resolve(tls.certFile), keyFile: resolve(tls.keyFile) };
  if (tls.caFile !== undefined) out.caFile = resolve(tls.caFile);
  return out;
}
