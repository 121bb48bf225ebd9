/**
 * wireguard-go (Debian wireguard-go + wireguard-tools) between two test hosts: keys from
 * `wg genkey`, one uniquely named interface per namespace with overlay addresses in
 * 100.64.0.0/10, then the common measurements.
 *
 * @module
 */
import { type Link, NetnsError, sh, type Testbed, waitForPing } from "../netns.ts";
import { measureTunnelWithMemory, type MemorySample } from "./measure.ts";
import type { BenchRow } from "./row.ts";

/** Options for {@link benchWireguard}. */
export interface WireguardOptions {
  /** iperf3 seconds per run (default 5). */
  seconds?: number;
  /** Pings for RTT (default 200). */
  pings?: number;
  /** When given, the RSS of sender and receiver daemons is pushed here. */
  memory?: MemorySample[];
}

/** Brings up wireguard-go over `link` (a = client, b = server) and measures it. */
export async function benchWireguard(
  tb: Testbed,
  link: Link,
  options: WireguardOptions = {},
): Promise<BenchRow> {
  const dir = await tb.tempDir();
  const ends = [
    { host: link.a, under: link.ipA, over: "100.64.7.1" },
    { host: link.b, under: link.ipB, over: "100.64.7.2" },
  ];
  const keys: { priv: string; pub: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const priv = (await sh(["wg", "genkey"])).stdout.trim();
    const pub = (await sh(["wg", "pubkey"], { stdin: priv + "\n" })).stdout.trim();
    await Deno.writeTextFile(`${dir}/key${i}`, priv + "\n", { mode: 0o600 });
    keys.push({ priv, pub });
  }
  // wireguard-go's UAPI socket is /var/run/wireguard/NAME.sock in the shared filesystem, so the
  // interface name must be unique across namespaces and other engineers' runs.
  const tag = [...crypto.getRandomValues(new Uint8Array(3))].map((b) =>
    b.toString(16).padStart(2, "0")
  )
    .join("");
  const ifn = (i: number) => `wg${tag}${i}`;
  const pids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const e = ends[i];
    const proc = tb.spawn(e.host, ["wireguard-go", "-f", ifn(i)], {
      // The kernel here has WireGuard; without this wireguard-go refuses to run.
      env: { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1" },
    });
    pids.push(proc.pid);
    const deadline = Date.now() + 5000;
    while (
      (await tb.exec(e.host, ["ip", "link", "show", ifn(i)], { allowFail: true })).code !== 0
    ) {
      if (Date.now() > deadline) throw new NetnsError("wireguard-go did not create its interface");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (let i = 0; i < 2; i++) {
    const e = ends[i];
    const peer = ends[1 - i];
    await tb.exec(e.host, [
      "wg",
      "set",
      ifn(i),
      "private-key",
      `${dir}/key${i}`,
      "listen-port",
      "51820",
      "peer",
      keys[1 - i].pub,
      "endpoint",
      `${peer.under}:51820`,
      "allowed-ips",
      `${peer.over}/32`,
    ]);
    await tb.exec(e.host, ["ip", "addr", "add", `${e.over}/24`, "dev", ifn(i)]);
    await tb.exec(e.host, ["ip", "link", "set", ifn(i), "mtu", "1420", "up"]);
  }
  await waitForPing(tb, link.a, { ip: ends[1].over });
  const { row, memory } = await measureTunnelWithMemory(tb, link.a, {
    system: "wireguard-go",
    mode: "direct",
    server: link.b,
    ip: ends[1].over,
    daemonPid: pids[0],
    seconds: options.seconds ?? 5,
    pings: options.pings ?? 200,
    watch: options.memory
      ? [{ role: "sender", pid: pids[0] }, { role: "receiver", pid: pids[1] }]
      : [],
  });
  options.memory?.push(...memory);
  return row;
}
