import assert from "node:assert/strict";
import {
  type BenchRow,
  compareRows,
  type MemorySample,
  reportComparisonMarkdown,
  reportMemoryMarkdown,
  reportSvg,
} from "./report.ts";

function row(
  system: string,
  mode: string,
  tcp1: number | null,
  tcp4: number,
  p50: number,
): BenchRow {
  return {
    system,
    mode,
    tcp1_gbps: tcp1,
    tcp4_gbps: tcp4,
    ping_p50_ms: p50,
    ping_p99_ms: p50 * 2,
    rss_mb: 10,
  };
}

const ROWS: BenchRow[] = [
  { ...row("conflux/libdatachannel", "direct", 0.6, 0.9, 2), cold_start_ms: 350 },
  row("conflux/libdatachannel", "relayed", 0.3, 0.4, 3),
  row("wireguard-go", "direct", 0.5, 0.6, 0.5),
  row("nebula", "direct", 0.8, 0.5, 0.4),
  row("nebula", "relayed", 0.6, 0.8, 0.6),
];
const OPTIONS = {
  ours: (r: BenchRow) => r.system.startsWith("conflux"),
  baseline: "wireguard-go/direct",
  relayedReference: "nebula/relayed",
};

Deno.test("compareRows: baseline for all of ours, best peer per figure for direct", () => {
  const c = compareRows(ROWS, OPTIONS);
  assert.equal(c.length, 4);
  const direct = c.filter((x) => x.mode === "direct");
  assert.deepEqual(direct.map((x) => x.against), ["wireguard-go/direct", "best peer"]);
  assert.equal(direct[0].tcp1, 0.6 / 0.5);
  // Best peer: nebula for 1 stream and p50, wireguard-go for 4 streams.
  assert.equal(direct[1].tcp1, 0.6 / 0.8);
  assert.equal(direct[1].tcp4, 0.9 / 0.6);
  assert.equal(direct[1].ping_p50, 2 / 0.4);
  assert.deepEqual(direct[1].best_of, {
    tcp1: "nebula/direct",
    tcp4: "wireguard-go/direct",
    ping_p50: "nebula/direct",
  });
  const relayed = c.filter((x) => x.mode === "relayed");
  assert.deepEqual(relayed.map((x) => x.against), ["wireguard-go/direct", "nebula/relayed"]);
  assert.equal(relayed[1].tcp4, 0.4 / 0.8);
});

Deno.test("compareRows: missing peers give no comparison and nulls stay null", () => {
  const onlyOurs = ROWS.slice(0, 2);
  assert.deepEqual(compareRows(onlyOurs, OPTIONS), []);
  const noTcp1 = [ROWS[0], { ...ROWS[2], tcp1_gbps: null }];
  const c = compareRows(noTcp1, OPTIONS);
  assert.equal(c[0].tcp1, null);
  assert.equal(c[1].best_of?.tcp1, null);
  assert.equal(c[1].tcp4, 0.9 / 0.6);
});

Deno.test("reportComparisonMarkdown: one line per row, ratios on ours only", () => {
  const md = reportComparisonMarkdown(ROWS, compareRows(ROWS, OPTIONS), {
    baseline: OPTIONS.baseline,
  });
  const lines = md.trim().split("\n").filter((l) => l.startsWith("| "));
  assert.equal(lines.length, 2 + ROWS.length);
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => c.trim());
  const direct = cells(lines[2]);
  assert.deepEqual(direct.slice(0, 7), [
    "conflux/libdatachannel",
    "direct",
    "0.600",
    "0.900",
    "2.000",
    "4.000",
    "350",
  ]);
  assert.equal(direct[7], "1.20 / 1.50 / 4.00");
  assert.equal(direct[8], "best peer (nebula/direct, wireguard-go/direct)");
  assert.equal(direct[9], "0.75 / 1.50 / 5.00");
  const relayed = cells(lines[3]);
  assert.equal(relayed[6], "–");
  assert.equal(relayed[8], "nebula/relayed");
  assert.equal(relayed[9], "0.50 / 0.50 / 5.00");
  const wg = cells(lines[4]);
  assert.deepEqual(wg.slice(7), ["", "", ""]);
  assert.match(md, /Baseline wireguard-go\/direct/);
});

Deno.test("reportMemoryMarkdown prints each daemon with dashes for what was not sampled", () => {
  const samples: MemorySample[] = [
    {
      system: "conflux/libdatachannel",
      mode: "relayed",
      role: "relay (h2)",
      start_mb: 110.04,
      idle_mb: 119.2,
      load4_mb: 127.4,
      load_many_mb: 128.9,
      many_streams: 10,
    },
    { system: "wireguard-go", mode: "direct", role: "sender", idle_mb: 5.2, load4_mb: null },
  ];
  const lines = reportMemoryMarkdown(samples).trim().split("\n");
  assert.match(lines[0], /\| 10 streams MB \|$/);
  assert.equal(
    lines[2],
    "| conflux/libdatachannel | relayed | relay (h2) | 110.0 | 119.2 | 127.4 | 128.9 |",
  );
  assert.equal(lines[3], "| wireguard-go | direct | sender | – | 5.2 | – | – |");
});

Deno.test("reportSvg widens the label column for long labels, keeping bar scale", () => {
  const svg = reportSvg(ROWS);
  const left = Number(/<rect x="(\d+)" y="\d+" width="[\d.]+" height="12"/.exec(svg)?.[1]);
  assert.ok(left > 200);
  const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)?.[1]);
  assert.equal(width, left + 440);
});
