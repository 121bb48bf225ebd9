import assert from "node:assert/strict";
import { type BenchRow, ReportError, reportJson, reportMarkdown, reportSvg } from "./report.ts";

const ROWS: BenchRow[] = [
  {
    system: "conflux",
    mode: "direct",
    tcp1_gbps: 1.5,
    tcp4_gbps: 2,
    ping_p50_ms: 0.3,
    ping_p99_ms: 0.9,
    rss_mb: 80,
  },
  {
    system: "wireguard-go",
    mode: "direct",
    tcp1_gbps: 1,
    tcp4_gbps: 0.5,
    ping_p50_ms: 0.6,
    ping_p99_ms: 1,
    rss_mb: 5,
  },
  {
    system: "nebula",
    mode: "relayed",
    tcp1_gbps: null,
    tcp4_gbps: 0.25,
    ping_p50_ms: null,
    ping_p99_ms: null,
    rss_mb: 14,
  },
];

Deno.test("reportJson adds ratios against the chosen baseline", () => {
  const doc = reportJson(ROWS, { baseline: "wireguard-go", meta: { cpus: 2 } });
  assert.equal(doc.baseline, "wireguard-go/direct");
  assert.equal(doc.cpus, 2);
  const rows = doc.rows as Record<string, unknown>[];
  assert.equal(rows[0].tcp1_ratio, 1.5);
  assert.equal(rows[0].tcp4_ratio, 4);
  assert.equal(rows[0].ping_p50_ratio, 0.5);
  assert.equal(rows[2].tcp1_ratio, null);
  assert.equal(rows[2].tcp4_ratio, 0.5);
});

Deno.test("reportJson rejects an unknown baseline and no rows", () => {
  assert.throws(() => reportJson(ROWS, { baseline: "openvpn" }), ReportError);
  assert.throws(() => reportJson([]), ReportError);
});

Deno.test("reportMarkdown prints one line per row with ratios and dashes for gaps", () => {
  const md = reportMarkdown(ROWS, { baseline: "wireguard-go/direct" });
  const lines = md.trim().split("\n");
  assert.match(lines[0], /^\| system \| mode \|/);
  assert.equal(lines.filter((l) => l.startsWith("| conflux")).length, 1);
  const conflux = lines.find((l) => l.startsWith("| conflux"))!.split("|").map((c) => c.trim());
  assert.deepEqual(conflux.slice(1, 9), [
    "conflux",
    "direct",
    "1.50",
    "1.50",
    "2.00",
    "4.00",
    "0.300",
    "0.50",
  ]);
  const nebula = lines.find((l) => l.startsWith("| nebula"))!.split("|").map((c) => c.trim());
  assert.equal(nebula[3], "–");
  assert.match(md, /Ratios against wireguard-go\/direct/);
});

Deno.test("reportSvg draws bars proportional to throughput and escapes labels", () => {
  const svg = reportSvg([...ROWS, { ...ROWS[1], system: "a<b" }]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.ok(svg.includes("a&lt;b (direct)"));
  assert.ok(!svg.includes("a<b"));
  const widths = [...svg.matchAll(/<rect x="200" y="\d+" width="([\d.]+)" height="12"/g)].map((m) =>
    Number(m[1])
  );
  // conflux 1.5/2, wireguard 1/0.5, nebula 0/0.25, a<b 1/0.5: widths scale with the values.
  assert.equal(widths.length, 8);
  assert.ok(Math.abs(widths[0] / widths[1] - 0.75) < 1e-3);
  assert.ok(Math.abs(widths[2] / widths[1] - 0.5) < 1e-3);
  assert.equal(widths[4], 0);
});
