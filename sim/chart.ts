/**
 * A two-panel SVG line chart (path stretch and control load against N), written by hand so the
 * simulator needs no charting library.
 *
 * @module
 */

/** One point of the chart: a result for one network size. */
export interface ChartPoint {
  nodes: number;
  meanStretch: number;
  p99Stretch: number;
  controlPerNodePerSec: number;
  /** Control messages per node per second per route the node carries. */
  controlPerRoutePerSec: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

interface Series {
  label: string;
  color: string;
  values: number[];
}

function panel(
  x0: number,
  title: string,
  ns: number[],
  series: Series[],
  yMinFloor: number,
): string {
  const w = 380;
  const h = 260;
  const left = x0 + 60;
  const top = 40;
  const pw = w - 80;
  const ph = h - 90;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let yMax = all.length ? Math.max(...all) : 1;
  const yMin = Math.min(yMinFloor, all.length ? Math.min(...all) : 0);
  if (yMax <= yMin) yMax = yMin + 1;
  yMax = yMin + (yMax - yMin) * 1.15;
  const logN = ns.map((n) => Math.log10(Math.max(1, n)));
  const xMin = Math.min(...logN);
  const xMax = Math.max(...logN) === xMin ? xMin + 1 : Math.max(...logN);
  const px = (i: number) => left + ((logN[i] - xMin) / (xMax - xMin)) * pw;
  const py = (v: number) => top + ph - ((v - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [];
  parts.push(
    `<text x="${x0 + w / 2}" y="22" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  );
  parts.push(
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
  );
  for (let t = 0; t <= 4; t++) {
    const v = yMin + ((yMax - yMin) * t) / 4;
    const y = py(v);
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  ns.forEach((n, i) => {
    parts.push(
      `<text x="${px(i)}" y="${top + ph + 18}" text-anchor="middle">${n}</text>`,
    );
  });
  parts.push(
    `<text x="${left + pw / 2}" y="${top + ph + 38}" text-anchor="middle">nodes (log scale)</text>`,
  );
  series.forEach((s, si) => {
    const pts = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(" ");
    parts.push(
      `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`,
    );
    s.values.forEach((v, i) => {
      parts.push(
        `<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/>`,
      );
    });
    const ly = top + ph + 58 + si * 0;
    const lx = left + si * 130;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}">${esc(s.label)}</text>`);
  });
  return parts.join("\n");
}

/** Returns a standalone SVG document with stretch (left) and control load (right) against N. */
export function renderChart(points: ChartPoint[]): string {
  const sorted = [...points].sort((a, b) => a.nodes - b.nodes);
  const ns = sorted.map((p) => p.nodes);
  const left = panel(0, "Path stretch vs shortest path", ns, [
    { label: "mean", color: "#1f77b4", values: sorted.map((p) => p.meanStretch) },
    { label: "p99", color: "#d62728", values: sorted.map((p) => p.p99Stretch) },
  ], 1);
  const right = panel(400, "Control messages / node / s", ns, [
    {
      label: "per node",
      color: "#2ca02c",
      values: sorted.map((p) => p.controlPerNodePerSec),
    },
    {
      label: "per node per carried route",
      color: "#9467bd",
      values: sorted.map((p) => p.controlPerRoutePerSec),
    },
  ], 0);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="290" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="800" height="290" fill="white"/>`,
    left,
    right,
    `</svg>`,
    "",
  ].join("\n");
}
