/**
 * Confluxes as their owner sees them: list, read, remove, portal networks; unregister.
 *
 * @module
 */

import * as schema from "../schemas.ts";
import type { ConfluxRecord, RealmRecord, SubnetDecision } from "../store.ts";
import { bearer, isConfluxToken } from "../http/auth.ts";
import { queryParam, readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";
import { confluxJson } from "./shapes.ts";

/** The routes of this resource. */
export function confluxesRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    log,
    deps,
    maxBody,
    requireUser,
    requireConflux,
    ownedRealm,
    visibleConflux,
    push,
    portalState,
    requireOwnerToken,
    checkNetworks,
    revokeAndRotate,
    audit,
  } = ctx;
  /** Approves or denies networks of a portal, and has the running portal renew at once. */
  const decideSubnets = (decision: SubnetDecision["decision"]) => async (request: Request) => {
    const u = requireOwnerToken(
      request,
      decision === "approved" ? "approve portal networks" : "deny portal networks",
    );
    const body = validate(schema.SubnetDecision, await readJson(request, maxBody));
    const c = visibleConflux(u, body.conflux_id);
    checkNetworks(body.subnets, store.realmById(c.realmId) as RealmRecord, "subnets");
    store.decideSubnets(c.id, body.subnets, decision, u.id, deps.now());
    push([], [c.id]);
    log.info(`portal subnets ${decision}`, { conflux_id: c.id, subnets: body.subnets });
    audit(u, decision === "approved" ? "subnets.approve" : "subnets.deny", c.id, {
      tag: c.tag,
      subnets: body.subnets,
    });
    return json(200, { conflux_id: c.id, ...portalState(store.confluxById(c.id)!) });
  };

  return [
    {
      method: "DELETE",
      path: "/conflux/unregister",
      run: (request) => {
        const c = requireConflux(bearer(request));
        const notify = store.transaction(() => revokeAndRotate(c, deps.now()));
        push(notify);
        deps.revoker?.push();
        log.info("conflux unregistered", { conflux_id: c.id });
        audit(null, "conflux.unregister", c.id, { tag: c.tag });
        return Promise.resolve(json(200, { unregistered: true, conflux_id: c.id }));
      },
    },
    {
      method: "DELETE",
      path: "/conflux",
      run: (request, url) => {
        const u = requireOwnerToken(
          request,
          "remove a conflux",
          "a conflux unregisters itself with DELETE /conflux/unregister",
        );
        const c = visibleConflux(u, queryParam(url, "conflux_id"));
        const notify = store.transaction(() => revokeAndRotate(c, deps.now()));
        push(notify);
        deps.revoker?.push();
        log.info("conflux removed by a user", { conflux_id: c.id, user_id: u.id });
        audit(u, "conflux.remove", c.id, { tag: c.tag });
        return Promise.resolve(json(200, { removed: true, conflux_id: c.id }));
      },
    },
    {
      method: "GET",
      path: "/conflux/subnets",
      run: (request, url) => {
        const u = requireOwnerToken(request, "read a portal's approvals");
        const c = visibleConflux(u, queryParam(url, "conflux_id"));
        return Promise.resolve(json(200, { conflux_id: c.id, ...portalState(c) }));
      },
    },
    { method: "POST", path: "/conflux/subnets/approve", run: decideSubnets("approved") },
    { method: "POST", path: "/conflux/subnets/deny", run: decideSubnets("denied") },
    {
      method: "GET",
      path: "/conflux/list",
      run: (request, url) => {
        const u = requireUser(request);
        const r = ownedRealm(u, queryParam(url, "realm_id"));
        return Promise.resolve(json(200, store.listConfluxes(r.id).map(confluxJson)));
      },
    },
    {
      method: "GET",
      path: "/conflux",
      run: (request, url) => {
        const token = bearer(request);
        const id = queryParam(url, "conflux_id");
        let c: ConfluxRecord;
        if (isConfluxToken(token)) {
          c = requireConflux(token);
          if (c.id !== id) throw new HttpError(404, "unknown conflux");
        } else {
          c = visibleConflux(requireUser(request), id);
        }
        return Promise.resolve(json(200, confluxJson(c)));
      },
    },
  ];
}
