/**
 * A conflux's teams: add (owner only), remove, list; changes are pushed at once.
 *
 * @module
 */

import * as schema from "../schemas.ts";
import { bearer, isConfluxToken } from "../http/auth.ts";
import { queryParam, readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";

/** The routes of this resource. */
export function confluxTeamsRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    requireUser,
    maxBody,
    effectiveTeams,
    rotate,
    push,
    requireOwnerToken,
    confluxForTeamChange,
    teamForConflux,
    audit,
  } = ctx;
  return [
    {
      method: "POST",
      path: "/conflux/team",
      run: async (request) => {
        // Adding a team is the owner's decision: a stolen conflux token must not collect the
        // keys of every team its owner belongs to. (Removing and listing stay open to it.)
        const u = requireOwnerToken(request, "add teams", "it may list and remove its own");
        const token = bearer(request);
        const body = validate(schema.ConfluxTeam, await readJson(request, maxBody));
        const c = confluxForTeamChange(token, body.conflux_id, request);
        const team = teamForConflux(c, body.team);
        const added = store.addConfluxTeam(c.id, team.id);
        if (added) {
          push([c.id]);
          audit(u, "conflux.team.add", c.id, { tag: c.tag, team: team.name });
        }
        return json(200, { conflux_id: c.id, team_id: team.id, name: team.name, added });
      },
    },
    {
      method: "DELETE",
      path: "/conflux/team",
      run: async (request) => {
        const token = bearer(request);
        const body = validate(schema.ConfluxTeam, await readJson(request, maxBody));
        const c = confluxForTeamChange(token, body.conflux_id, request);
        const team = store.teamsOfConflux(c.id).find((t) =>
          t.id === body.team || t.name === body.team
        );
        if (!team) throw new HttpError(404, "the conflux does not hold that team");
        const notify = store.transaction(() => {
          const before = store.confluxesOfTeam(team.id).map((x) => x.id);
          store.removeConfluxTeam(c.id, team.id);
          rotate(team.id);
          return before;
        });
        push(notify);
        const actor = isConfluxToken(token) ? null : requireUser(request);
        audit(actor, "conflux.team.remove", c.id, { tag: c.tag, team: team.name });
        return json(200, { conflux_id: c.id, team_id: team.id, removed: true });
      },
    },
    {
      method: "GET",
      path: "/conflux/team/list",
      run: (request, url) => {
        const token = bearer(request);
        const c = confluxForTeamChange(token, queryParam(url, "conflux_id"), request);
        const list = effectiveTeams(c).map((t) => ({
          team_id: t.id,
          name: t.name,
          version: t.version,
        }));
        return Promise.resolve(json(200, list));
      },
    },
  ];
}
