/**
 * Peers benchmark (root): wireguard-go direct, nebula direct and nebula relayed (h1 → h3 via h2,
 * no underlay link between h1 and h3) in fresh namespaces; prints the JSON on stdout, the
 * Markdown table on stderr, and writes the SVG when asked.
 *
 *   deno run -A bench/peers_bench.ts [--seconds 5] [--pings 200] [--only wireguard,nebula]
 *     [--baseline wireguard-go] [--svg FILE] [--markdown FILE]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { chain, withTestbed } from "./netns.ts";
import { benchWireguard } from "./peers/wireguard.ts";
import { benchNebula } from "./peers/nebula.ts";
import type { BenchRow } from "./peers/row.ts";
import { reportJson, reportMarkdown, reportSvg } from "./report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    pings: { type: "string", default: "200" },
    only: { type: "string", default: "wireguard,nebula" },
    baseline: { type: "string", default: "wireguard-go" },
    svg: { type: "string" },
    markdown: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const pings = Number(values.pings);
if (!(seconds > 0 && seconds <= 120) || !(pings > 0 && pings <= 10000)) {
  console.error("peers bench: --seconds must be in (0, 120] and --pings in (0, 10000]");
  Deno.exit(2);
}
const only = new Set(values.only.split(","));
const rows: BenchRow[] = [];
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).map(Number);

await withTestbed(async (tb) => {
  const { l12, l23 } = await chain(tb);
  if (only.has("wireguard")) {
    console.error("peers bench: wireguard-go direct");
    rows.push(await benchWireguard(tb, l12, { seconds, pings }));
  }
  if (only.has("nebula")) {
    console.error("peers bench: nebula direct + relayed");
    rows.push(...await benchNebula(tb, { l12, l23 }, { seconds, pings }));
  }
});

const loadEnd = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).map(Number);
const meta = {
  date: new Date().toISOString(),
  cpus: navigator.hardwareConcurrency,
  loadavg_start: load,
  loadavg_end: loadEnd,
  seconds,
};
const baseline = rows.some((r) => r.system === values.baseline) ? values.baseline : undefined;
console.log(JSON.stringify(reportJson(rows, { baseline, meta }), null, 2));
const md = reportMarkdown(rows, { baseline });
console.error(md);
if (values.markdown) await Deno.writeTextFile(values.markdown, md);
if (values.svg) await Deno.writeTextFile(values.svg, reportSvg(rows));
