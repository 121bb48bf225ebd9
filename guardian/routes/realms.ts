/**
 * Realms (planes): create, auto-approve policy, list, delete (revoking their confluxes).
 *
 * @module
 */

import { checkPortalSubnets } from "../../core/wire/portal_subnets.ts";
import { cidrWithin, formatCidr, parseCidr } from "../ip_pool.ts";
import * as schema from "../schemas.ts";
import { newId } from "../secrets.ts";
import type { RealmRecord } from "../store.ts";
import { queryParam, readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";
import { realmJson } from "./shapes.ts";

/** The routes of this resource. */
export function realmsRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    log,
    deps,
    maxBody,
    supernet,
    requireUser,
    ownedRealm,
    push,
    requireOwnerToken,
    checkNetworks,
    revokeAndRotate,
    audit,
  } = ctx;
  return [
    {
      method: "POST",
      path: "/realm",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.CreateRealm, await readJson(request, maxBody));
        const subnet = parseCidr(body.subnet);
        if (!subnet) throw new HttpError(400, "subnet: expected an IPv4 CIDR with zero host bits");
        if (!cidrWithin(subnet, supernet)) {
          throw new HttpError(400, `subnet: must lie inside ${formatCidr(supernet)}`);
        }
        if (subnet.prefix > 30) throw new HttpError(400, "subnet: prefix must be /30 or shorter");
        const autoApprove = body.auto_approve ?? [];
        const problem = checkPortalSubnets(autoApprove, formatCidr(subnet));
        if (problem !== null) throw new HttpError(400, `auto_approve: ${problem}`);
        const r: RealmRecord = {
          id: newId("r"),
          name: body.name,
          subnet: formatCidr(subnet),
          ownerId: u.id,
          createdAt: deps.now(),
          deletedAt: null,
          autoApprove,
        };
        store.insertRealm(r);
        log.info("realm created", { realm_id: r.id, subnet: r.subnet });
        audit(u, "realm.create", r.id, { name: r.name, subnet: r.subnet });
        return json(201, realmJson(r));
      },
    },
    {
      method: "POST",
      path: "/realm/policy",
      run: async (request) => {
        const u = requireOwnerToken(request, "change a realm's policy");
        const body = validate(schema.RealmPolicy, await readJson(request, maxBody));
        const r = ownedRealm(u, body.realm_id);
        checkNetworks(body.auto_approve, r, "auto_approve");
        store.setRealmAutoApprove(r.id, body.auto_approve);
        // Portals of the realm renew at once: their certificates may state more or less now.
        push([], store.listConfluxes(r.id).filter((c) => c.portal).map((c) => c.id));
        log.info("realm policy changed", { realm_id: r.id, auto_approve: body.auto_approve });
        audit(u, "realm.policy", r.id, { auto_approve: body.auto_approve });
        return json(200, realmJson(store.realmById(r.id)!));
      },
    },
    {
      method: "GET",
      path: "/realm/list",
      run: (request) => {
        const u = requireUser(request);
        return Promise.resolve(json(200, store.listRealms(u.isAdmin ? null : u.id).map(realmJson)));
      },
    },
    {
      method: "DELETE",
      path: "/realm",
      run: (request, url) => {
        const u = requireUser(request);
        const r = ownedRealm(u, queryParam(url, "realm_id"));
        const now = deps.now();
        const notify = store.transaction(() => {
          const ids = store.listConfluxes(r.id).flatMap((c) => revokeAndRotate(c, now));
          store.deleteRealm(r.id, now);
          return ids;
        });
        push(notify);
        deps.revoker?.push();
        log.info("realm deleted", { realm_id: r.id });
        audit(u, "realm.delete", r.id, { name: r.name });
        return Promise.resolve(json(200, { deleted: true, realm_id: r.id }));
      },
    },
  ];
}
