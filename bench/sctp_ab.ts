/**
 * SCTP-settings A/B for the libdatachannel tether: runs bench/tether_bench.ts once per variant
 * per round (variants interleaved, so machine load drifts hit all alike) and prints the median
 * Mbit/s per message size and channel count and the median RTT p50/p99 of each variant as JSON
 * and as a Markdown table (stderr).
 *
 *   deno run -A bench/sctp_ab.ts [--runs 5] [--seconds 2] [--sizes 1400,16384] [--channels 1]
 *     [--pings 300] [--variant NAME=SPEC]…
 *
 * SPEC is a VEILNET_SCTP value ("default", or `FIELD=N,…`, see
 * core/tether/engine_libdatachannel.ts); without --variant a built-in candidate list runs.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "2" },
    sizes: { type: "string", default: "1400,16384" },
    channels: { type: "string", default: "1" },
    pings: { type: "string", default: "300" },
    variant: { type: "string", multiple: true },
  },
});

const DEFAULT_VARIANTS: Record<string, string> = {
  "library default": "default",
  "buffers 4 MiB": "sendBufferSize=4194304,recvBufferSize=4194304",
  "delayed SACK 0": "delayedSackTime=0",
  "H-TCP cc": "congestionControlModule=2",
};

const variants: Record<string, string> = {};
for (const v of values.variant ?? []) {
  const at = v.indexOf("=");
  if (at <= 0) throw new Error(`--variant wants NAME=SPEC, got "${v}"`);
  variants[v.slice(0, at)] = v.slice(at + 1);
}
if (Object.keys(variants).length === 0) Object.assign(variants, DEFAULT_VARIANTS);
const runs = Number(values.runs);

interface Row {
  messageBytes: number;
  channels: number;
  mbitPerSec: number;
  mbitPerCoreSecond: number;
}
interface Result {
  throughput: Row[];
  latency: { rttP50Ms: number; rttP99Ms: number }[];
}

const BENCH = new URL("./tether_bench.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

async function once(spec: string): Promise<Result> {
  // A reinstalled toolchain leaves the running binary "(deleted)": use the new one at that path.
  const out = await new Deno.Command(Deno.execPath().replace(/ \(deleted\)$/, ""), {
    args: [
      "run",
      "-A",
      "--config",
      CONFIG,
      BENCH,
      "--engines",
      "libdatachannel",
      "--setup",
      "0",
      "--seconds",
      values.seconds!,
      "--sizes",
      values.sizes!,
      "--channels",
      values.channels!,
      "--pings",
      values.pings!,
      "--sctp",
      spec,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`tether bench failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text) as Result;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  const m = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return Math.round(m * 1000) / 1000;
}

const samples: Record<string, Result[]> = {};
for (let r = 0; r < runs; r++) {
  for (const [name, spec] of Object.entries(variants)) {
    const res = await once(spec);
    (samples[name] ??= []).push(res);
    const tp = res.throughput.map((t) =>
      `${t.messageBytes}B×${t.channels}: ${t.mbitPerSec} (${t.mbitPerCoreSecond}/core-s)`
    );
    console.error(`run ${r + 1} ${name}: ${tp.join(", ")}; p50 ${res.latency[0]?.rttP50Ms} ms`);
  }
}

const summary: Record<string, unknown> = {};
const lines = [
  "| variant | VEILNET_SCTP | " + Object.values(samples)[0][0].throughput
    .map((t) => `${t.messageBytes} B × ${t.channels} ch Mbit/s`).join(" | ") +
  " | RTT p50 ms | RTT p99 ms |",
];
lines.push("|" + " --- |".repeat(lines[0].split("|").length - 2));
for (const [name, results] of Object.entries(samples)) {
  const cells = results[0].throughput.map((_, i) =>
    Math.round(median(results.map((res) => res.throughput[i].mbitPerSec)))
  );
  const perCore = results[0].throughput.map((_, i) =>
    Math.round(median(results.map((res) => res.throughput[i].mbitPerCoreSecond)))
  );
  const p50 = median(results.map((res) => res.latency[0].rttP50Ms));
  const p99 = median(results.map((res) => res.latency[0].rttP99Ms));
  summary[name] = {
    spec: variants[name],
    mbitPerSec: cells,
    mbitPerCoreSecond: perCore,
    rttP50Ms: p50,
    rttP99Ms: p99,
  };
  const both = cells.map((c, i) => `${c} (${perCore[i]})`);
  lines.push(`| ${name} | \`${variants[name]}\` | ${both.join(" | ")} | ${p50} | ${p99} |`);
}
console.log(JSON.stringify({ runs, seconds: Number(values.seconds), summary }, null, 2));
console.error(lines.join("\n"));
