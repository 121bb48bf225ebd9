/**
 * Teams: create, list, invitations, members.
 *
 * @module
 */

import * as schema from "../schemas.ts";
import { newId } from "../secrets.ts";
import type { TeamRecord } from "../store.ts";
import { readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext, INVITATION_TTL_MS } from "../domain/context.ts";

/** The routes of this resource. */
export function teamsRoutes(ctx: ApiContext): Route[] {
  const { store, deps, maxBody, requireUser, rotate, push, audit } = ctx;
  return [
    {
      method: "POST",
      path: "/org/team",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.CreateTeam, await readJson(request, maxBody));
        if (store.teamsOfUser(u.id).some((t) => t.role === "owner" && t.name === body.name)) {
          throw new HttpError(409, "you already own a team with that name");
        }
        const t: TeamRecord = {
          id: newId("t"),
          name: body.name,
          ownerId: u.id,
          key: crypto.getRandomValues(new Uint8Array(32)),
          version: 1,
          createdAt: deps.now(),
        };
        store.insertTeam(t);
        audit(u, "team.create", t.id, { name: t.name });
        return json(201, { team_id: t.id, name: t.name, version: t.version });
      },
    },
    {
      method: "GET",
      path: "/org/team/list",
      run: (request) => {
        const u = requireUser(request);
        const list = store.teamsOfUser(u.id).map((t) => ({
          team_id: t.id,
          name: t.name,
          role: t.role,
          version: t.version,
          members: store.teamMembers(t.id).map((m) => ({
            user_id: m.userId,
            email: m.email,
            role: m.role,
          })),
        }));
        return Promise.resolve(json(200, list));
      },
    },
    {
      method: "POST",
      path: "/org/team/invite",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.InviteMember, await readJson(request, maxBody));
        if (store.teamRole(body.team_id, u.id) !== "owner") {
          throw new HttpError(404, "unknown team");
        }
        const id = newId("i");
        const createdAt = deps.now();
        store.insertInvitation({
          id,
          teamId: body.team_id,
          email: body.email.toLowerCase(),
          invitedBy: u.id,
          createdAt,
          acceptedAt: null,
        });
        audit(u, "team.invite", body.team_id, { email: body.email.toLowerCase() });
        return json(201, {
          invitation_id: id,
          team_id: body.team_id,
          expires_at: createdAt + INVITATION_TTL_MS,
        });
      },
    },
    {
      method: "GET",
      path: "/org/team/invite/list",
      run: (request) => {
        const u = requireUser(request);
        const now = deps.now();
        const list = store.pendingInvitations(u.email).flatMap((inv) => {
          const team = store.teamById(inv.teamId);
          const from = store.userById(inv.invitedBy);
          return team && now < inv.createdAt + INVITATION_TTL_MS
            ? [{
              invitation_id: inv.id,
              team_id: team.id,
              team_name: team.name,
              invited_by: from?.email ?? null,
              created_at: inv.createdAt,
              expires_at: inv.createdAt + INVITATION_TTL_MS,
            }]
            : [];
        });
        return Promise.resolve(json(200, list));
      },
    },
    {
      method: "POST",
      path: "/org/team/invite/accept",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.AcceptInvitation, await readJson(request, maxBody));
        const inv = store.invitationById(body.invitation_id);
        if (!inv || inv.email !== u.email.toLowerCase()) {
          throw new HttpError(404, "unknown invitation");
        }
        if (inv.acceptedAt !== null) throw new HttpError(409, "invitation already accepted");
        if (deps.now() >= inv.createdAt + INVITATION_TTL_MS) {
          throw new HttpError(410, "invitation expired: ask the team owner for a new one");
        }
        store.transaction(() => {
          store.addTeamMember(inv.teamId, u.id, "member");
          store.acceptInvitation(inv.id, deps.now());
        });
        audit(u, "team.accept", inv.teamId);
        return json(200, { team_id: inv.teamId });
      },
    },
    {
      method: "DELETE",
      path: "/org/team/member",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.RemoveMember, await readJson(request, maxBody));
        const role = store.teamRole(body.team_id, u.id);
        if (role === null) throw new HttpError(404, "unknown team");
        const target = body.user_id !== undefined
          ? store.userById(body.user_id)
          : store.userByEmail(body.email!.toLowerCase());
        if (!target || store.teamRole(body.team_id, target.id) === null) {
          throw new HttpError(404, "not a member of that team");
        }
        if (role !== "owner" && target.id !== u.id) {
          throw new HttpError(403, "only the team owner can remove other members");
        }
        if (store.teamRole(body.team_id, target.id) === "owner") {
          throw new HttpError(409, "the team owner cannot be removed");
        }
        const notify = store.transaction(() => {
          const before = store.confluxesOfTeam(body.team_id).map((c) => c.id);
          for (const c of store.confluxesOfOwnerInTeam(body.team_id, target.id)) {
            store.removeConfluxTeam(c.id, body.team_id);
          }
          store.removeTeamMember(body.team_id, target.id);
          rotate(body.team_id);
          return before;
        });
        push(notify);
        audit(u, "team.member.remove", body.team_id, { email: target.email });
        return json(200, { removed: true, team_id: body.team_id, user_id: target.id });
      },
    },
  ];
}
