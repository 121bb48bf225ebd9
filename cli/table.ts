/**
 * Plain-text tables for `info`, `status` and `teams list`.
 *
 * @module
 */

/** Formats one cell: strings as they are, other values as compact JSON. */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (typeof value === "string") return value === "" ? "-" : value;
  return JSON.stringify(value);
}

/** Renders rows of objects as aligned columns (the union of their keys, in first-seen order). */
export function renderTable(rows: readonly unknown[]): string {
  const objects = rows.map((r) =>
    typeof r === "object" && r !== null && !Array.isArray(r)
      ? r as Record<string, unknown>
      : { value: r }
  );
  const columns: string[] = [];
  for (const o of objects) {
    for (const k of Object.keys(o)) if (!columns.includes(k)) columns.push(k);
  }
  const grid = [
    columns.map((c) => c.toUpperCase()),
    ...objects.map((o) => columns.map((c) => cell(o[c]))),
  ];
  const widths = columns.map((_, i) => Math.max(...grid.map((r) => r[i].length)));
  return grid.map((r) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** Renders `key: value` lines aligned on the colon. */
export function renderPairs(pairs: Array<[string, unknown]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${(k + ":").padEnd(width)} ${cell(v)}`).join("\n");
}
