/**
 * An iperf3 TCP stream between two namespaces whose only link is two TUNs joined by the
 * binding (tests/tun_helper.ts forward): offload off, offload on (GSO super-packets handed
 * through), and offload on one side only (software segmentation: the receiving kernel
 * checks every segment's checksum). Root and iperf3 required.
 */
import assert from "node:assert/strict";
import { hasProgram, Helper, isRoot, mustRun, run, uniqueName, withNetns } from "./tun_support.ts";

const haveIperf = await hasProgram("iperf3");
const ignore = !isRoot() || !haveIperf;
if (isRoot() && !haveIperf) {
  console.warn("tun iperf tests ignored: iperf3 missing (apt-get install iperf3)");
}

interface Counters {
  packets: number;
  bytes: number;
  gso: number;
  segments: number;
  drops: number;
}

interface IperfJson {
  error?: string;
  end?: { sum_received?: { bytes: number; bits_per_second: number } };
}

/** TCP InCsumErrors from a /proc/net/snmp dump. */
function tcpChecksumErrors(snmp: string): number {
  const [names, values] = snmp.split("\n").filter((l) => l.startsWith("Tcp:"));
  const i = names.split(/\s+/).indexOf("InCsumErrors");
  return Number(values.split(/\s+/)[i]);
}

interface IperfResult {
  receivedBytes: number;
  /** TCP segments namespace B's kernel dropped for a bad checksum. */
  checksumErrorsB: number;
  bitsPerSecond: number;
  forwarder: { ab: Counters; ba: Counters; elapsedMs: number };
}

/** Runs one bounded iperf3 TCP stream from namespace A to B through the forwarder. */
export async function iperfThroughForwarder(
  mode: { offloadA: boolean; offloadB: boolean; batch?: number; seconds?: number },
): Promise<IperfResult> {
  return await withNetns(2, async ([nsA, nsB]) => {
    const nameA = uniqueName("vna");
    const nameB = uniqueName("vnb");
    const fwd = Helper.spawn(nsA, "forward", {
      a: { name: nameA, cidr: "100.64.88.1/24", offload: mode.offloadA },
      b: { name: nameB, offload: mode.offloadB, netns: nsB },
      batch: mode.batch ?? 64,
    });
    let server: Deno.ChildProcess | null = null;
    try {
      const ready = await fwd.next();
      assert.equal(ready.ready, true, JSON.stringify(ready));
      const inB = ["ip", "netns", "exec", nsB];
      await mustRun([...inB, "ip", "addr", "add", "100.64.88.2/24", "dev", nameB]);
      await mustRun([...inB, "ip", "link", "set", nameB, "up"]);
      server = new Deno.Command("ip", {
        args: ["netns", "exec", nsB, "timeout", "30", "iperf3", "-s", "-1", "-B", "100.64.88.2"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      let report: IperfJson = {};
      for (let attempt = 0; attempt < 30; attempt++) {
        const client = await run([
          "ip",
          "netns",
          "exec",
          nsA,
          "timeout",
          "20",
          "iperf3",
          "-c",
          "100.64.88.2",
          "-t",
          String(mode.seconds ?? 2),
          "-J",
          "--connect-timeout",
          "1000",
        ]);
        report = JSON.parse(client.stdout || "{}");
        // The server may not listen yet: iperf3 -J reports that in "error".
        if (!/refused/.test(report.error ?? "")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(report.end?.sum_received, JSON.stringify(report).slice(0, 2000));
      await server.status;
      server = null;
      const snmpB = await mustRun([...inB, "cat", "/proc/net/snmp"]);
      const done = await fwd.request({ op: "stop" });
      await fwd.finish();
      return {
        receivedBytes: report.end!.sum_received!.bytes,
        bitsPerSecond: report.end!.sum_received!.bits_per_second,
        checksumErrorsB: tcpChecksumErrors(snmpB),
        forwarder: done as unknown as IperfResult["forwarder"],
      };
    } catch (e) {
      await fwd.kill();
      throw e;
    } finally {
      if (server) {
        try {
          server.kill("SIGKILL");
        } catch { /* gone */ }
        await server.status;
      }
    }
  });
}

Deno.test({
  name: "tun: iperf3 TCP through two TUNs joined by the binding, offload off",
  ignore,
  async fn() {
    const r = await iperfThroughForwarder({ offloadA: false, offloadB: false });
    console.log(`offload off: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
    assert.ok(r.receivedBytes > 1_000_000, `only ${r.receivedBytes} bytes arrived`);
    // Without offloads no packet exceeds the 1500-byte MTU.
    assert.ok(r.forwarder.ab.bytes <= r.forwarder.ab.packets * 1500);
    assert.ok(r.forwarder.ba.packets > 0, "ACKs flowed back");
    assert.equal(r.forwarder.ab.gso, 0);
  },
});

Deno.test({
  name: "tun: iperf3 TCP through two TUNs with offload on (GSO super-packets passed through)",
  ignore,
  async fn() {
    const r = await iperfThroughForwarder({ offloadA: true, offloadB: true });
    console.log(`offload on: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
    assert.ok(r.receivedBytes > 1_000_000, `only ${r.receivedBytes} bytes arrived`);
    // The kernel handed the forwarder packets larger than the MTU, marked as TCP GSO in their
    // parsed virtio_net_hdr: TSO is in effect end to end.
    assert.ok(
      r.forwarder.ab.bytes > r.forwarder.ab.packets * 1500,
      JSON.stringify(r.forwarder.ab),
    );
    assert.ok(r.forwarder.ab.gso > 0, JSON.stringify(r.forwarder.ab));
  },
});

Deno.test({
  name: "tun: iperf3 TCP with offload on one side only (software segmentation, checksums)",
  ignore,
  async fn() {
    const r = await iperfThroughForwarder({ offloadA: true, offloadB: false });
    console.log(`segmented: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
    // B has no offloads, so its kernel verifies every TCP checksum our segmentation wrote:
    // a wrong one would be dropped and the stream would stall.
    assert.ok(r.receivedBytes > 1_000_000, `only ${r.receivedBytes} bytes arrived`);
    assert.ok(r.forwarder.ab.segments > r.forwarder.ab.packets, JSON.stringify(r.forwarder.ab));
    assert.equal(r.checksumErrorsB, 0);
  },
});
