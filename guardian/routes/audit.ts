/**
 * `GET /audit`: the audit log for admins (filters `action`, `q`, `limit`).
 *
 * @module
 */

import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import type { ApiContext } from "../domain/context.ts";
import type { AuditEntry } from "../store.ts";

/** An audit entry as the API shows it. */
export function auditJson(e: AuditEntry) {
  let detail: unknown = {};
  try {
    detail = JSON.parse(e.detail);
  } catch {
    // a damaged detail reads as empty
  }
  return {
    at: e.at,
    actor_id: e.actorId,
    actor_email: e.actorEmail,
    action: e.action,
    target: e.target,
    detail,
  };
}

/** The routes of this resource. */
export function auditRoutes(ctx: ApiContext): Route[] {
  const { store, requireUser } = ctx;
  return [{
    method: "GET",
    path: "/audit",
    run: (request, url) => {
      const u = requireUser(request);
      if (!u.isAdmin) throw new HttpError(403, "only an admin may read the audit log");
      const limit = Number(url.searchParams.get("limit") ?? "200");
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new HttpError(400, "limit: expected an integer 1–1000");
      }
      const action = (url.searchParams.get("action") ?? "").slice(0, 64);
      const query = (url.searchParams.get("q") ?? "").slice(0, 128);
      const list = store.listAudit({ action, query, limit }).map(auditJson);
      return Promise.resolve(json(200, list));
    },
  }];
}
