/**
 * What `netcheck` prints: one line per check, with the fix when it failed, or JSON.
 *
 * @module
 */

/** Outcome of a check: fine, worth knowing, broken, or not run (and why). */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** One check of `netcheck`. */
export interface Check {
  /** Short name, e.g. "guardian", "nat". */
  name: string;
  /** Outcome. */
  status: CheckStatus;
  /** One sentence: what was found. */
  summary: string;
  /** What to do about it (warn and fail). */
  fix?: string;
  /** Machine-readable facts for `--json` (addresses, times, mapping). */
  details?: Record<string, unknown>;
}

/** A check result, built with a fix only when there is one. */
export function check(
  name: string,
  status: CheckStatus,
  summary: string,
  extra: { fix?: string; details?: Record<string, unknown> } = {},
): Check {
  const c: Check = { name, status, summary };
  if (extra.fix) c.fix = extra.fix;
  if (extra.details) c.details = extra.details;
  return c;
}

const LABEL: Record<CheckStatus, string> = { ok: "ok", warn: "warn", fail: "FAIL", skip: "skip" };

/** The text report: `STATUS  NAME  summary; fix: …`, one line per check, aligned. */
export function renderChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => {
    const fix = c.fix && (c.status === "fail" || c.status === "warn") ? `; fix: ${c.fix}` : "";
    return `${LABEL[c.status].padEnd(4)}  ${c.name.padEnd(width)}  ${c.summary}${fix}`;
  }).join("\n");
}

/** The `--json` report: every check, and whether none failed. */
export function checksJson(checks: readonly Check[]): { ok: boolean; checks: Check[] } {
  return { ok: !checks.some((c) => c.status === "fail"), checks: [...checks] };
}
