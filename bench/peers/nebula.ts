/**
 * nebula (Debian nebula 1.6) on three test hosts: a CA and host certs from nebula-cert, h2 as
 * lighthouse and relay, h1 ↔ h2 direct, and h1 → h3 relayed through h2 (h1 and h3 share no
 * underlay link). Overlay addresses in 100.64.0.0/10. Configs live in a testbed temp dir.
 *
 * @module
 */
import { type Host, type Link, NetnsError, sh, type Testbed, waitForPing } from "../netns.ts";
import { measureTunnelWithMemory, type MemorySample } from "./measure.ts";
import type { BenchRow } from "./row.ts";

/** Options for {@link benchNebula}. */
export interface NebulaOptions {
  /** iperf3 seconds per run (default 5). */
  seconds?: number;
  /** Pings for RTT (default 200). */
  pings?: number;
  /** Skip the relayed row. */
  noRelay?: boolean;
  /** When given, the RSS of sender, relay and receiver daemons is pushed here. */
  memory?: MemorySample[];
  /** Streams of an extra iperf3 run through the relay, for the relay's RSS (e.g. 10). */
  relayStreams?: number;
}

const OVER = ["100.64.8.1", "100.64.8.2", "100.64.8.3"];

function config(dir: string, i: number, lighthouseUnder: string): string {
  const isLh = i === 1;
  return JSON.stringify({
    pki: { ca: `${dir}/ca.crt`, cert: `${dir}/h${i + 1}.crt`, key: `${dir}/h${i + 1}.key` },
    static_host_map: isLh ? {} : { [OVER[1]]: [`${lighthouseUnder}:4242`] },
    lighthouse: { am_lighthouse: isLh, interval: 60, hosts: isLh ? [] : [OVER[1]] },
    listen: { host: "0.0.0.0", port: 4242 },
    punchy: { punch: false },
    relay: isLh ? { am_relay: true, use_relays: false } : { relays: [OVER[1]], use_relays: true },
    tun: { disabled: false, dev: "nebula1", mtu: 1300 },
    logging: { level: "warning", format: "text" },
    firewall: {
      outbound: [{ port: "any", proto: "any", host: "any" }],
      inbound: [{ port: "any", proto: "any", host: "any" }],
    },
  });
}

/**
 * Brings up nebula on h1, h2 (lighthouse + relay), h3 and measures h1 → h2 direct and h1 → h3
 * relayed. `l12` links h1–h2 and `l23` links h2–h3 (a side is the lower host number).
 */
export async function benchNebula(
  tb: Testbed,
  links: { l12: Link; l23: Link },
  options: NebulaOptions = {},
): Promise<BenchRow[]> {
  const dir = await tb.tempDir();
  const hosts: Host[] = [links.l12.a, links.l12.b, links.l23.b];
  await sh([
    "nebula-cert",
    "ca",
    "-name",
    "bench",
    "-out-crt",
    `${dir}/ca.crt`,
    "-out-key",
    `${dir}/ca.key`,
  ]);
  for (let i = 0; i < 3; i++) {
    await sh([
      "nebula-cert",
      "sign",
      "-name",
      `h${i + 1}`,
      "-ip",
      `${OVER[i]}/24`,
      "-ca-crt",
      `${dir}/ca.crt`,
      "-ca-key",
      `${dir}/ca.key`,
      "-out-crt",
      `${dir}/h${i + 1}.crt`,
      "-out-key",
      `${dir}/h${i + 1}.key`,
    ]);
  }
  const pids: number[] = [];
  for (let i = 0; i < 3; i++) {
    // h1 reaches the lighthouse over l12, h3 over l23.
    const lhUnder = i === 0 ? links.l12.ipB : links.l23.ipA;
    await Deno.writeTextFile(`${dir}/h${i + 1}.yml`, config(dir, i, lhUnder)); // JSON is YAML
    pids.push(tb.spawn(hosts[i], ["nebula", "-config", `${dir}/h${i + 1}.yml`]).pid);
  }
  const seconds = options.seconds ?? 5;
  const pings = options.pings ?? 200;
  await waitForPing(tb, hosts[0], { ip: OVER[1], timeoutMs: 15000 });
  const memory = options.memory;
  const direct = await measureTunnelWithMemory(tb, hosts[0], {
    system: "nebula",
    mode: "direct",
    server: hosts[1],
    ip: OVER[1],
    daemonPid: pids[0],
    seconds,
    pings,
    watch: memory ? [{ role: "sender", pid: pids[0] }, { role: "receiver", pid: pids[1] }] : [],
  });
  memory?.push(...direct.memory);
  const rows = [direct.row];
  if (!options.noRelay) {
    await waitForPing(tb, hosts[2], { ip: OVER[1], timeoutMs: 15000 });
    await waitForPing(tb, hosts[0], { ip: OVER[2], timeoutMs: 20000 }).catch((e) => {
      throw new NetnsError(`nebula relay: ${e.message}`);
    });
    const { row, memory: samples } = await measureTunnelWithMemory(tb, hosts[0], {
      system: "nebula",
      mode: "relayed",
      server: hosts[2],
      ip: OVER[2],
      daemonPid: pids[1],
      seconds,
      pings,
      watch: memory
        ? [
          { role: "sender (h1)", pid: pids[0] },
          { role: "relay (h2)", pid: pids[1] },
          { role: "receiver (h3)", pid: pids[2] },
        ]
        : [],
      manyStreams: memory ? options.relayStreams : undefined,
    });
    row.rss_of = "relay (h2)";
    memory?.push(...samples);
    rows.push(row);
  }
  return rows;
}
