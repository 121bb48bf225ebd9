/**
 * Tunnel benchmark (root): two conflux nodes in network namespaces (real nats-server, Guardian,
 * TUNs), per tether engine: iperf3 TCP with 1 and 4 streams, ping RTT p50/p99, and cold start
 * (first ping of a new destination → its reply, which includes discovery, the stream handshake
 * and the tether setup); a relayed row (h1 → h3 through h2, with no underlay path between h1 and
 * h3; its cold start includes the failed direct attempt). Then wireguard-go between the same
 * namespaces in the same run, and the ratios. Prints one JSON document on stdout; progress on
 * stderr.
 *
 *   deno run -A bench/tunnel_bench.ts [--seconds 5] [--engines libdatachannel,werift] [--no-wg]
 *     [--no-relay] [--profile DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab, type Lab, type LabConflux, run } from "../demo/lab.ts";

const { values } = parseArgs({
  args: Deno.args.filter((a) => a !== "tunnel"),
  options: {
    seconds: { type: "string", default: "5" },
    engines: { type: "string", default: "libdatachannel,werift" },
    pings: { type: "string", default: "200" },
    "no-wg": { type: "boolean", default: false },
    "no-relay": { type: "boolean", default: false },
    profile: { type: "string" },
    echo: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const pings = Number(values.pings);

interface Figures {
  tcp_1_stream_mbps: number | null;
  tcp_4_streams_mbps: number | null;
  tcp_1_retransmits: number | null;
  ping_p50_ms: number | null;
  ping_p99_ms: number | null;
  ping_loss: number | null;
  cold_start_ms: number | null;
}

function progress(text: string): void {
  console.error(`tunnel bench: ${text}`);
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function iperf(
  lab: Lab,
  ip: string,
  streams: number,
  serverNode: number,
): Promise<[number | null, number | null]> {
  const server = lab.spawn(`iperf3-s-${streams}`, lab.namespaces[serverNode], [
    "iperf3",
    "-s",
    "-1",
    "--forceflush",
    "-B",
    ip,
  ]);
  await server.waitFor(/Server listening/, 10_000);
  const r = await lab.exec(lab.namespaces[0], [
    "iperf3",
    "-c",
    ip,
    "-t",
    String(seconds),
    "-P",
    String(streams),
    "-J",
  ], { check: false });
  await server.stop();
  try {
    const j = JSON.parse(r.stdout);
    if (j.error) {
      progress(`iperf3 -P ${streams}: ${j.error}`);
      return [null, null];
    }
    return [
      Math.round(j.end.sum_received.bits_per_second / 1e5) / 10,
      j.end.sum_sent.retransmits ?? null,
    ];
  } catch {
    progress(`iperf3 -P ${streams} failed: ${r.stderr.trim()}`);
    return [null, null];
  }
}

async function pingStats(
  lab: Lab,
  ip: string,
): Promise<Pick<Figures, "ping_p50_ms" | "ping_p99_ms" | "ping_loss">> {
  const p = await lab.ping(0, ip, { count: pings, intervalS: 0.01, waitS: 1 });
  const sorted = p.rtts.slice().sort((a, b) => a - b);
  return {
    ping_p50_ms: percentile(sorted, 0.5),
    ping_p99_ms: percentile(sorted, 0.99),
    ping_loss: Math.round((1 - p.received / pings) * 1000) / 1000,
  };
}

async function measure(
  lab: Lab,
  ip: string,
  coldStartMs: number | null,
  serverNode = 1,
): Promise<Figures> {
  const ping = await pingStats(lab, ip);
  const [one, retransmits] = await iperf(lab, ip, 1, serverNode);
  const [four] = await iperf(lab, ip, 4, serverNode);
  return {
    tcp_1_stream_mbps: one,
    tcp_4_streams_mbps: four,
    tcp_1_retransmits: retransmits,
    ...ping,
    cold_start_ms: coldStartMs,
  };
}

async function conflux(lab: Lab, engine: string, index: number): Promise<Figures> {
  await lab.createTeam(`bench-${engine}`);
  const a = await lab.register(`bench-a-${engine}`, [`bench-${engine}`]);
  const b = await lab.register(`bench-b-${engine}`, [`bench-${engine}`]);
  // --profile DIR: V8 CPU profiles of both nodes (demo/run_node.ts VEILNET_CPU_PROFILE).
  const env = (i: number) =>
    values.profile
      ? { VEILNET_CPU_PROFILE: `${values.profile}/node${i}-${engine}.cpuprofile` }
      : undefined;
  await Promise.all([
    lab.startNode(0, a, { rtc: engine, tun: `vnb${index}`, env: env(0) }),
    lab.startNode(1, b, { rtc: engine, tun: `vnb${index}`, env: env(1) }),
  ]);
  try {
    // Cold start: the first packet waits for discovery, handshake and tether.
    const first = await lab.ping(0, b.overlayIp, { count: 1, waitS: 10 });
    const cold = first.rtts[0] ?? null;
    progress(`${engine}: cold start ${cold} ms`);
    const figures = await measure(lab, b.overlayIp, cold);
    progress(`${engine}: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await Promise.all([lab.stopNode(0), lab.stopNode(1)]);
  }
}

/** h1 → h3 through h2: namespaces 0 and 2 have no underlay path to each other. */
async function relayed(lab: Lab, engine: string): Promise<Figures> {
  await lab.createTeam("bench-relay");
  const h: LabConflux[] = [];
  for (const name of ["h1", "h2", "h3"]) h.push(await lab.register(name, ["bench-relay"]));
  await Promise.all(h.map((c, i) => lab.startNode(i, c, { rtc: engine, tun: "vnbr" })));
  try {
    // h2 holds tethers to both ends; then h1's first packet finds h3 via h2.
    await lab.reachable(1, h[2].overlayIp);
    await lab.reachable(1, h[0].overlayIp);
    const started = Date.now();
    const ok = await lab.reachable(0, h[2].overlayIp, 45_000);
    const cold = ok ? Date.now() - started : null;
    const info = await lab.info(0);
    const route = info.routes.find((r) => r.destination === h[2].overlayIp);
    progress(`relayed: next hop ${route?.next_hop} (h2 = ${h[1].confluxId})`);
    const figures = await measure(lab, h[2].overlayIp, cold, 2);
    progress(`relayed (${engine}): ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await Promise.all([0, 1, 2].map((i) => lab.stopNode(i)));
  }
}

async function wireguard(lab: Lab): Promise<Figures> {
  const keys = [];
  for (let i = 0; i < 2; i++) {
    const priv = (await run(["wg", "genkey"])).stdout.trim();
    keys.push({ priv, pub: "" });
  }
  for (const k of keys) {
    const child = new Deno.Command("wg", { args: ["pubkey"], stdin: "piped", stdout: "piped" })
      .spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(k.priv + "\n"));
    await w.close();
    k.pub = new TextDecoder().decode((await child.output()).stdout).trim();
  }
  const wgIp = (i: number) => `100.127.0.${i + 1}`;
  // wireguard-go keeps its control socket in /var/run/wireguard/<name>.sock, shared by all
  // namespaces: every interface needs a machine-wide unique name.
  const wgName = (i: number) => `vw${Deno.pid % 100000}x${i}`;
  for (let i = 0; i < 2; i++) {
    const ns = lab.namespaces[i];
    const dev = wgName(i);
    lab.spawn(`wireguard-go-${i}`, ns, ["wireguard-go", "-f", dev]);
    for (let t = 0; t < 50; t++) {
      const r = await lab.exec(ns, ["ip", "link", "show", dev], { check: false });
      if (r.code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const keyFile = `${lab.dir}/wg${i}.key`;
    await Deno.writeTextFile(keyFile, keys[i].priv + "\n", { mode: 0o600 });
    const other = 1 - i;
    await lab.exec(ns, [
      "wg",
      "set",
      dev,
      "listen-port",
      "51820",
      "private-key",
      keyFile,
      "peer",
      keys[other].pub,
      "allowed-ips",
      `${wgIp(other)}/32`,
      "endpoint",
      `${lab.underlay(other)}:51820`,
    ]);
    await lab.exec(ns, ["ip", "addr", "add", `${wgIp(i)}/24`, "dev", dev]);
    await lab.exec(ns, ["ip", "link", "set", dev, "up"]);
  }
  const first = await lab.ping(0, wgIp(1), { count: 1, waitS: 5 });
  const figures = await measure(lab, wgIp(1), first.rtts[0] ?? null);
  progress(`wireguard-go: ${JSON.stringify(figures)}`);
  return figures;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100;
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("tunnel bench needs root (network namespaces, TUN)");
    Deno.exit(1);
  }
  const lab = await createLab({ nodes: 3, echo: values.echo, prefix: "vnbench" });
  // Namespaces 0 and 2 cannot reach each other: the relayed row goes 0 → 1 → 2.
  await lab.exec(lab.namespaces[0], ["ip", "route", "add", "prohibit", `${lab.underlay(2)}/32`]);
  await lab.exec(lab.namespaces[2], ["ip", "route", "add", "prohibit", `${lab.underlay(0)}/32`]);
  const out: Record<string, unknown> = {
    bench: "tunnel",
    seconds,
    host: { cpus: navigator.hardwareConcurrency, load: Deno.loadavg() },
  };
  try {
    await lab.startServices();
    const engines: Record<string, Figures> = {};
    let index = 0;
    for (const engine of values.engines!.split(",")) {
      try {
        engines[engine] = await conflux(lab, engine, index++);
      } catch (e) {
        progress(`${engine} failed: ${e instanceof Error ? e.message : e}`);
      }
    }
    out.conflux = engines;
    if (!values["no-relay"]) {
      try {
        out.conflux_relayed = await relayed(lab, "libdatachannel");
      } catch (e) {
        progress(`relayed failed: ${e instanceof Error ? e.message : e}`);
      }
    }
    if (!values["no-wg"]) {
      const wg = await wireguard(lab);
      out["wireguard-go"] = wg;
      const ratios: Record<string, unknown> = {};
      for (const [engine, f] of Object.entries(engines)) {
        ratios[engine] = {
          tcp_1_stream: ratio(f.tcp_1_stream_mbps, wg.tcp_1_stream_mbps),
          tcp_4_streams: ratio(f.tcp_4_streams_mbps, wg.tcp_4_streams_mbps),
          ping_p50: ratio(f.ping_p50_ms, wg.ping_p50_ms),
        };
      }
      const r = out.conflux_relayed as Figures | undefined;
      if (r) {
        ratios.relayed = {
          tcp_1_stream: ratio(r.tcp_1_stream_mbps, wg.tcp_1_stream_mbps),
          tcp_4_streams: ratio(r.tcp_4_streams_mbps, wg.tcp_4_streams_mbps),
          ping_p50: ratio(r.ping_p50_ms, wg.ping_p50_ms),
        };
      }
      out.ratio_to_wireguard_go = ratios;
    }
  } finally {
    await lab.close();
  }
  console.log(JSON.stringify(out, null, 2));
}
