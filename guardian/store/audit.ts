/**
 * The audit log's table: appended to by the routes, read by the portal and `GET /audit`.
 *
 * @module
 */

import type { SQLInputValue } from "node:sqlite";
import type { AuditEntry, AuditFilter } from "./types.ts";
import { num, type Row } from "./rows.ts";

type Run = (sql: string, ...args: SQLInputValue[]) => number;
type All = (sql: string, ...args: SQLInputValue[]) => Row[];

/** Appends `e` to the audit log. */
export function insertAudit(run: Run, e: AuditEntry): void {
  run(
    "INSERT INTO audit_log (at, actor_id, actor_email, action, target, detail) " +
      "VALUES (?, ?, ?, ?, ?, ?)",
    e.at,
    e.actorId,
    e.actorEmail,
    e.action,
    e.target,
    e.detail,
  );
}

/** Entries matching `f`, newest first. */
export function listAudit(all: All, f: AuditFilter): AuditEntry[] {
  const where: string[] = [];
  const args: SQLInputValue[] = [];
  if (f.actorId !== undefined) {
    where.push("actor_id = ?");
    args.push(f.actorId);
  }
  if (f.action) {
    where.push("action LIKE ? ESCAPE '\\'");
    args.push(`${f.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (f.query) {
    where.push(
      "(action || ' ' || IFNULL(actor_email, '') || ' ' || IFNULL(target, '') || ' ' || detail) LIKE ? ESCAPE '\\'",
    );
    args.push(`%${f.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  const sql = "SELECT * FROM audit_log" + (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    " ORDER BY id DESC LIMIT ?";
  return all(sql, ...args, Math.max(1, Math.min(f.limit ?? 200, 1000))).map((r) => ({
    at: num(r.at),
    actorId: r.actor_id === null ? null : String(r.actor_id),
    actorEmail: r.actor_email === null ? null : String(r.actor_email),
    action: String(r.action),
    target: r.target === null ? null : String(r.target),
    detail: String(r.detail),
  }));
}
