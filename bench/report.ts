/**
 * Bench report: rows → JSON document, Markdown table with ratios against a baseline row, and an
 * SVG bar chart of throughput by system (hand-written SVG, no chart library).
 *
 * @module
 */
import type { BenchRow, MemorySample } from "./peers/row.ts";

export type { BenchRow, MemorySample } from "./peers/row.ts";

/** Error for a report that cannot be built (e.g. the baseline row is missing). */
export class ReportError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ReportError";
  }
}

/** Options shared by the report functions. */
export interface ReportOptions {
  /** Baseline as "system" or "system/mode"; the first row when absent. */
  baseline?: string;
}

/** Finds the baseline row; throws {@link ReportError} when none matches. */
export function findBaseline(rows: BenchRow[], baseline?: string): BenchRow {
  if (rows.length === 0) throw new ReportError("no rows");
  if (!baseline) return rows[0];
  const hit = rows.find((r) => `${r.system}/${r.mode}` === baseline) ??
    rows.find((r) => r.system === baseline);
  if (!hit) throw new ReportError(`baseline ${baseline} not among the rows`);
  return hit;
}

/** value / base, or null when either is missing or base is 0. */
export function ratio(
  value: number | null | undefined,
  base: number | null | undefined,
): number | null {
  if (value == null || base == null || base === 0) return null;
  return value / base;
}

/** The JSON document: rows plus, per row, ratios of tcp1/tcp4/ping p50 against the baseline. */
export function reportJson(
  rows: BenchRow[],
  options: ReportOptions & { meta?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const base = findBaseline(rows, options.baseline);
  return {
    ...(options.meta ?? {}),
    baseline: `${base.system}/${base.mode}`,
    rows: rows.map((r) => ({
      ...r,
      tcp1_ratio: ratio(r.tcp1_gbps, base.tcp1_gbps),
      tcp4_ratio: ratio(r.tcp4_gbps, base.tcp4_gbps),
      ping_p50_ratio: ratio(r.ping_p50_ms, base.ping_p50_ms),
    })),
  };
}

function fmt(v: number | null | undefined, digits: number): string {
  return v == null ? "–" : v.toFixed(digits);
}

/** Markdown table of the rows with "×baseline" columns for throughput and RTT p50. */
export function reportMarkdown(rows: BenchRow[], options: ReportOptions = {}): string {
  const base = findBaseline(rows, options.baseline);
  const head = [
    "| system | mode | TCP 1 Gbit/s | ×base | TCP 4 Gbit/s | ×base | RTT p50 ms | ×base | " +
    "RTT p99 ms | RSS MB | RSS load MB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const body = rows.map((r) =>
    `| ${r.system} | ${r.mode} | ${fmt(r.tcp1_gbps, 2)} | ${
      fmt(ratio(r.tcp1_gbps, base.tcp1_gbps), 2)
    } | ` +
    `${fmt(r.tcp4_gbps, 2)} | ${fmt(ratio(r.tcp4_gbps, base.tcp4_gbps), 2)} | ` +
    `${fmt(r.ping_p50_ms, 3)} | ${fmt(ratio(r.ping_p50_ms, base.ping_p50_ms), 2)} | ` +
    `${fmt(r.ping_p99_ms, 3)} | ${fmt(r.rss_mb, 1)} | ${fmt(r.rss_load_mb, 1)} |`
  );
  return [...head, ...body, "", `Ratios against ${base.system}/${base.mode}.`].join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** SVG bar chart: per row two horizontal bars (TCP 1 and 4 streams, Gbit/s) on one scale. */
export function reportSvg(rows: BenchRow[], options: { title?: string } = {}): string {
  // Room for the longest label at ~6.6 px per character of the 12 px font.
  const longest = Math.max(0, ...rows.map((r) => `${r.system} (${r.mode})`.length));
  const left = Math.max(200, Math.ceil(longest * 6.6) + 12);
  const W = left + 440, right = 60, barH = 14, gap = 6, top = 40;
  const max = Math.max(0.001, ...rows.flatMap((r) => [r.tcp1_gbps ?? 0, r.tcp4_gbps ?? 0]));
  const scale = (W - left - right) / max;
  const H = top + rows.length * (2 * barH + gap + 10) + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${
      esc(options.title ?? "TCP throughput by system (Gbit/s)")
    }</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (2 * barH + gap + 10);
    parts.push(
      `<text x="${left - 8}" y="${y + barH + 3}" text-anchor="end">${
        esc(`${r.system} (${r.mode})`)
      }</text>`,
    );
    ([[r.tcp1_gbps, "#4878d0", "1 stream"], [r.tcp4_gbps, "#ee854a", "4 streams"]] as const)
      .forEach(([v, color, label], k) => {
        const by = y + k * barH;
        const w = (v ?? 0) * scale;
        parts.push(
          `<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${
            barH - 2
          }" fill="${color}">` +
            `<title>${esc(label)}</title></rect>`,
          `<text x="${(left + w + 4).toFixed(1)}" y="${by + barH - 3}">${
            v == null ? "–" : v.toFixed(2)
          }</text>`,
        );
      });
  });
  const ly = H - 14;
  parts.push(
    `<rect x="${left}" y="${ly - 9}" width="10" height="10" fill="#4878d0"/>`,
    `<text x="${left + 14}" y="${ly}">1 stream</text>`,
    `<rect x="${left + 90}" y="${ly - 9}" width="10" height="10" fill="#ee854a"/>`,
    `<text x="${left + 104}" y="${ly}">4 streams</text>`,
    `</svg>`,
  );
  return parts.join("\n") + "\n";
}

/** Ratios of one of our rows against a reference (value / reference; lower p50 is better). */
export interface Comparison {
  /** System of our row. */
  system: string;
  /** Mode of our row. */
  mode: string;
  /** What it is compared with: "wireguard-go/direct", "best peer", "nebula/relayed". */
  against: string;
  /** TCP 1 stream ratio. */
  tcp1: number | null;
  /** TCP 4 streams ratio. */
  tcp4: number | null;
  /** RTT p50 ratio (below 1 means faster than the reference). */
  ping_p50: number | null;
  /** For "best peer": which peer row was best for each figure. */
  best_of?: { tcp1: string | null; tcp4: string | null; ping_p50: string | null };
}

/** Options for {@link compareRows}. */
export interface CompareOptions {
  /** True for our own rows (the others are peers). */
  ours: (row: BenchRow) => boolean;
  /** Baseline every row of ours is compared with, as "system/mode" (e.g. "wireguard-go/direct"). */
  baseline: string;
  /** Reference of our relayed rows, as "system/mode" (e.g. "nebula/relayed"). */
  relayedReference: string;
}

function key(r: BenchRow): string {
  return `${r.system}/${r.mode}`;
}

/** The best of `rows` per figure: highest throughput, lowest RTT p50; null when none has it. */
function best(
  rows: BenchRow[],
  pick: (r: BenchRow) => number | null | undefined,
  lower: boolean,
): BenchRow | null {
  let hit: BenchRow | null = null;
  for (const r of rows) {
    const v = pick(r);
    if (v == null) continue;
    const h = hit ? pick(hit)! : null;
    if (h === null || (lower ? v < h : v > h)) hit = r;
  }
  return hit;
}

/**
 * Ratios of each of our rows against the baseline, and against the best peer (direct rows:
 * best per figure among the peers' direct rows) or the relayed reference (relayed rows).
 * References that are missing give no comparison.
 */
export function compareRows(rows: BenchRow[], options: CompareOptions): Comparison[] {
  const peers = rows.filter((r) => !options.ours(r));
  const base = peers.find((r) => key(r) === options.baseline);
  const relayRef = peers.find((r) => key(r) === options.relayedReference);
  const direct = peers.filter((r) => r.mode === "direct");
  const out: Comparison[] = [];
  const against = (r: BenchRow, ref: BenchRow, label: string): Comparison => ({
    system: r.system,
    mode: r.mode,
    against: label,
    tcp1: ratio(r.tcp1_gbps, ref.tcp1_gbps),
    tcp4: ratio(r.tcp4_gbps, ref.tcp4_gbps),
    ping_p50: ratio(r.ping_p50_ms, ref.ping_p50_ms),
  });
  for (const r of rows.filter(options.ours)) {
    if (base) out.push(against(r, base, options.baseline));
    if (r.mode === "relayed") {
      if (relayRef) out.push(against(r, relayRef, options.relayedReference));
      continue;
    }
    const b1 = best(direct, (p) => p.tcp1_gbps, false);
    const b4 = best(direct, (p) => p.tcp4_gbps, false);
    const bp = best(direct, (p) => p.ping_p50_ms, true);
    if (!b1 && !b4 && !bp) continue;
    out.push({
      system: r.system,
      mode: r.mode,
      against: "best peer",
      tcp1: ratio(r.tcp1_gbps, b1?.tcp1_gbps),
      tcp4: ratio(r.tcp4_gbps, b4?.tcp4_gbps),
      ping_p50: ratio(r.ping_p50_ms, bp?.ping_p50_ms),
      best_of: {
        tcp1: b1 ? key(b1) : null,
        tcp4: b4 ? key(b4) : null,
        ping_p50: bp ? key(bp) : null,
      },
    });
  }
  return out;
}

function triple(c: Comparison | undefined): string {
  return c ? `${fmt(c.tcp1, 2)} / ${fmt(c.tcp4, 2)} / ${fmt(c.ping_p50, 2)}` : "–";
}

/**
 * Markdown table of a tunnel run: every row with throughput, RTT, cold start (a `cold_start_ms`
 * field) and, for our rows, "×baseline" and "×reference" (best peer or relayed reference) as
 * TCP 1 / TCP 4 / RTT p50 ratios.
 */
export function reportComparisonMarkdown(
  rows: BenchRow[],
  comparisons: Comparison[],
  options: { baseline: string },
): string {
  const head = [
    "| system | mode | TCP 1 Gbit/s | TCP 4 Gbit/s | RTT p50 ms | RTT p99 ms | cold start ms | " +
    "× baseline (1 / 4 / p50) | reference | × reference (1 / 4 / p50) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
  ];
  const baseline = options.baseline;
  const body = rows.map((r) => {
    const mine = comparisons.filter((c) => c.system === r.system && c.mode === r.mode);
    const toBase = mine.find((c) => c.against === baseline);
    const toRef = mine.find((c) => c.against !== baseline);
    const cold = typeof r.cold_start_ms === "number" ? r.cold_start_ms.toFixed(0) : "–";
    let refLabel = toRef?.against ?? "";
    if (toRef?.best_of) {
      const names = [...new Set(Object.values(toRef.best_of).filter((v) => v !== null))];
      refLabel = `best peer (${names.join(", ")})`;
    }
    return `| ${r.system} | ${r.mode} | ${fmt(r.tcp1_gbps, 3)} | ${fmt(r.tcp4_gbps, 3)} | ` +
      `${fmt(r.ping_p50_ms, 3)} | ${fmt(r.ping_p99_ms, 3)} | ${cold} | ` +
      `${mine.length ? triple(toBase) : ""} | ${esc(refLabel)} | ${
        mine.length ? triple(toRef) : ""
      } |`;
  });
  const note = comparisons.length
    ? `Ratios are ours ÷ reference: above 1 is faster for throughput, below 1 is faster for ` +
      `RTT p50. Baseline ${baseline} (– when it was not measured); direct rows are also ` +
      `compared with the best peer per figure, relayed rows with the peers' relayed row.`
    : "No peer rows in this run, so no ratios.";
  return [...head, ...body, "", note].join("\n") + "\n";
}

/** Markdown table of daemon RSS: after start, idle, under 4 streams, under N streams. */
export function reportMemoryMarkdown(samples: MemorySample[]): string {
  const many = samples.find((s) => s.many_streams)?.many_streams;
  const head = [
    "| system | mode | daemon | after start MB | idle MB | 4 streams MB | " +
    `${many ?? "N"} streams MB |`,
    "| --- | --- | --- | ---: | ---: | ---: | ---: |",
  ];
  const body = samples.map((s) =>
    `| ${s.system} | ${s.mode} | ${s.role} | ${fmt(s.start_mb, 1)} | ${fmt(s.idle_mb, 1)} | ` +
    `${fmt(s.load4_mb, 1)} | ${fmt(s.load_many_mb, 1)} |`
  );
  return [...head, ...body].join("\n") + "\n";
}
