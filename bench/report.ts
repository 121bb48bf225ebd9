/**
 * Bench report: rows → JSON document, Markdown table with ratios against a baseline row, and an
 * SVG bar chart of throughput by system (hand-written SVG, no chart library).
 *
 * @module
 */
import type { BenchRow } from "./peers/row.ts";

export type { BenchRow } from "./peers/row.ts";

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
  const W = 640, left = 200, right = 60, barH = 14, gap = 6, top = 40;
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
